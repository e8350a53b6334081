"""Reading and writing audio files, plus small waveform utilities.

Waveforms are ``np.ndarray`` float32 of shape ``(T_wav,)`` (mono), values in ``[-1, 1]``.
wav/flac/ogg are read with soundfile (libsndfile); everything else (mp3, m4a, mp4/mov/mkv
audio tracks, ...) with PyAV's bundled FFmpeg. Resampling uses soxr (high quality) when it is
installed and scipy's polyphase ``resample_poly`` otherwise.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import numpy as np

from facespeak.core.errors import AudioError, InputError

__all__ = [
    "load_audio",
    "read_audio",
    "resample",
    "save_wav",
    "peak_normalize",
    "trim_silence",
    "voiced_bounds",
]

log = logging.getLogger(__name__)

_SOUNDFILE_SUFFIXES = {".wav", ".wave", ".flac", ".ogg", ".oga", ".aiff", ".aif"}


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read an audio file as mono float32 at ``sample_rate`` Hz.

    Args:
        path: wav/flac/ogg (soundfile) or any container FFmpeg reads (mp3, m4a, mp4, ...).
        sample_rate: target rate in Hz; the file is resampled if it differs.

    Returns:
        ``(T_wav,)`` float32 in ``[-1, 1]``; multi-channel files are averaged to mono.

    Raises:
        AudioError: the file is missing, unreadable, corrupt or holds no samples.
    """
    if sample_rate <= 0:
        raise InputError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
    wav, native_rate = read_audio(path)
    return resample(wav, native_rate, sample_rate)


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an audio file at its native rate: ``((T_wav,) float32 mono in [-1, 1], rate Hz)``."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"expected an audio file, but '{path}' does not exist or is not a file")
    if path.stat().st_size == 0:
        raise AudioError(f"expected an audio file, but '{path}' is empty (0 bytes)")
    readers = [_read_soundfile, _read_pyav]
    if path.suffix.lower() not in _SOUNDFILE_SUFFIXES:
        readers.reverse()
    errors = []
    for reader in readers:
        try:
            wav, rate = reader(path)
            break
        except Exception as exc:  # noqa: BLE001 - each backend raises its own types
            errors.append(f"{reader.__name__[6:]}: {exc}")
    else:
        raise AudioError(f"cannot decode '{path}' as audio ({'; '.join(errors)})")
    if wav.size == 0:
        raise AudioError(f"expected audio samples in '{path}', but it holds none (0 s of audio)")
    if not np.all(np.isfinite(wav)):
        raise AudioError(f"'{path}' decodes to non-finite sample values (corrupt file?)")
    return np.clip(wav, -1.0, 1.0).astype(np.float32, copy=False), int(rate)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)  # (T_wav, C)
    return data.mean(axis=1), rate


def _read_pyav(path: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or stream.rate
        # Convert every frame to packed float32 mono at the native rate (resampled by us later).
        converter = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks = []
        for frame in container.decode(stream):
            for out in converter.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in converter.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    wav = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return wav.astype(np.float32, copy=False), int(rate)


def resample(wav: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample ``(T_wav,)`` float32 audio from ``orig_rate`` to ``target_rate`` Hz."""
    if orig_rate == target_rate:
        return wav.astype(np.float32, copy=False)
    try:
        import soxr
    except ImportError:
        from scipy.signal import resample_poly

        ratio = Fraction(int(target_rate), int(orig_rate))
        out = resample_poly(wav.astype(np.float64), ratio.numerator, ratio.denominator)
    else:
        out = soxr.resample(wav.astype(np.float32), orig_rate, target_rate, quality="HQ")
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def save_wav(path: str | Path, wav: np.ndarray, sample_rate: int) -> Path:
    """Write ``(T_wav,)`` float audio in ``[-1, 1]`` as 16-bit PCM wav; returns the path.

    Values outside ``[-1, 1]`` are clipped. Parent directories are created.
    """
    import soundfile as sf

    wav = np.asarray(wav)
    if wav.ndim != 1:
        raise AudioError(f"expected a mono waveform of shape (T_wav,), got shape {wav.shape}")
    if not np.all(np.isfinite(wav)):
        raise AudioError("expected finite sample values, got NaN or inf in the waveform")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(wav, -1.0, 1.0).astype(np.float32), int(sample_rate),
             subtype="PCM_16")
    return path


def peak_normalize(wav: np.ndarray, peak: float = 0.95) -> np.ndarray:
    """Scale ``(T_wav,)`` audio so its largest absolute sample is ``peak``; silence is unchanged."""
    wav = np.asarray(wav, dtype=np.float32)
    current = float(np.max(np.abs(wav))) if wav.size else 0.0
    if current < 1e-8:
        return wav.copy()
    return (wav * (peak / current)).astype(np.float32)


def voiced_bounds(
    wav: np.ndarray, sample_rate: int, top_db: float = 40.0, frame_ms: float = 20.0
) -> tuple[int, int]:
    """Sample range ``[start, end)`` between the first and last frame within ``top_db`` of the loudest.

    Energy is the RMS of non-overlapping ``frame_ms`` frames. Returns ``(0, 0)`` for pure silence.
    """
    wav = np.asarray(wav, dtype=np.float32)
    frame = max(1, int(round(sample_rate * frame_ms / 1000.0)))
    n_frames = int(np.ceil(wav.size / frame))
    if n_frames == 0:
        return 0, 0
    padded = np.zeros(n_frames * frame, np.float32)
    padded[: wav.size] = wav
    rms = np.sqrt(np.mean(padded.reshape(n_frames, frame) ** 2, axis=1))
    if rms.max() < 1e-8:
        return 0, 0
    db = 20.0 * np.log10(np.maximum(rms, 1e-10) / rms.max())
    loud = np.flatnonzero(db > -top_db)
    return int(loud[0] * frame), int(min(wav.size, (loud[-1] + 1) * frame))


def trim_silence(
    wav: np.ndarray, sample_rate: int, top_db: float = 40.0, margin_ms: float = 20.0
) -> np.ndarray:
    """Cut leading/trailing audio quieter than ``top_db`` below the peak frame, keeping a margin.

    Returns a ``(T_wav',)`` float32 copy; an all-silent input gives an empty array.
    """
    start, end = voiced_bounds(wav, sample_rate, top_db)
    if end <= start:
        return np.zeros(0, np.float32)
    margin = int(round(sample_rate * margin_ms / 1000.0))
    start, end = max(0, start - margin), min(len(wav), end + margin)
    return np.asarray(wav[start:end], dtype=np.float32).copy()

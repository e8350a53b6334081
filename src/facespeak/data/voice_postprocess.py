"""How raw engine audio becomes corpus audio: mono float at the corpus rate, leading/trailing
silence trimmed (a short margin kept), loudness-normalised (:class:`PostProcess` holds the
numbers). Used by every voice of :mod:`facespeak.data.voices` and by the speech-quality metrics,
which level their input the same way."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facespeak.audio.io import trim_silence
from facespeak.core.timing import MelSpec

__all__ = ["PostProcess", "normalize_loudness", "postprocess_wav"]


@dataclass(frozen=True)
class PostProcess:
    """How raw engine audio becomes corpus audio (units: Hz, seconds, dBFS)."""

    sample_rate: int = MelSpec().sample_rate
    keep_silence_s: float = 0.1  # margin kept before the first / after the last voiced frame
    trim_top_db: float = 40.0  # frames quieter than this below the loudest frame are silence
    target_rms_dbfs: float = -20.0  # RMS over voiced frames after normalisation
    peak_limit: float = 0.95  # never exceed this absolute sample value


def normalize_loudness(wav: np.ndarray, sample_rate: int, post: PostProcess = PostProcess()) -> np.ndarray:
    """Scale ``(T_wav,)`` audio so voiced 20 ms frames have RMS ``post.target_rms_dbfs``.

    The gain is then lowered if needed so no sample exceeds ``post.peak_limit``.
    Voiced frames are those within ``post.trim_top_db`` of the loudest frame.
    """
    wav = np.asarray(wav, dtype=np.float32)
    frame = max(1, int(round(sample_rate * 0.02)))
    n = wav.size // frame
    if n == 0 or float(np.max(np.abs(wav))) < 1e-8:
        return wav.copy()
    rms = np.sqrt(np.mean(wav[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    voiced = rms[20 * np.log10(rms / rms.max()) > -post.trim_top_db]
    active = float(np.sqrt(np.mean(voiced**2)))
    gain = 10 ** (post.target_rms_dbfs / 20) / active
    gain = min(gain, post.peak_limit / float(np.max(np.abs(wav))))
    return (wav * gain).astype(np.float32)


def postprocess_wav(wav: np.ndarray, post: PostProcess = PostProcess()) -> np.ndarray:
    """Trim silence (keeping ``post.keep_silence_s``) and normalise loudness; ``(T_wav,)`` in/out."""
    wav = trim_silence(wav, post.sample_rate, top_db=post.trim_top_db,
                       margin_ms=1000.0 * post.keep_silence_s)
    return normalize_loudness(wav, post.sample_rate, post)

"""Speech metrics as pure functions: pitch (F0), voice-gender range, speaker similarity, MCD.

All analysis runs at one fixed analysis rate taken from :meth:`MelSpec.paper` (16 kHz, hop 160
samples = 10 ms, window 640, n_fft 1024, 80 Slaney mels up to 8 kHz); inputs at any rate are
resampled first. Every frame ``t`` is centred on sample ``t * hop``, so the pitch track and the
mel-cepstra of one signal have the same number of frames, ``1 + T_wav // hop``.

- **F0** (:func:`f0_track`, :func:`median_f0`): our own YIN (de Cheveigne & Kawahara 2002,
  JASA 111(4)): difference function via FFT, cumulative-mean-normalised difference (CMND),
  absolute threshold, local-minimum descent, parabolic interpolation. A frame is voiced when
  its best CMND value is below ``voicing_threshold`` and its RMS is within ``silence_db`` of the
  loudest frame. Search range 60-400 Hz.
- **Voice gender range** (:func:`f0_gender_range`): adult speaking F0 averages about 120 Hz for
  men and about 210 Hz for women (Traunmueller & Eriksson 1995, "The frequency range of the
  voice fundamental in the speech of male and female adults"; Titze 1994, "Principles of Voice
  Production", ch. 8). Their geometric midpoint is ~159 Hz; we call a voice male below
  155 Hz, female above 165 Hz, and ambiguous in between (a band of ~1 semitone).
- **Speaker similarity**: Resemblyzer's GE2E d-vector (Wan et al. 2018), 256-d, unit norm;
  cosine between embeddings (C-SIM in the TTS literature).
- **MCD** and **F0 RMSE** against reference audio: frames aligned by DTW on mel-cepstra
  (:mod:`.dtw`). Mel-cepstra = DCT-II (orthonormal) of the natural-log mel *amplitude*
  (``0.5 * ln`` of mel power), scaled to true cepstral coefficients (the mel bands taken as
  uniform samples of the warped frequency axis), coefficients 1..24 (c0 = loudness dropped).
  MCD in dB =
  ``10 / ln 10 * sqrt(2 * sum_d (c_d - c'_d)^2)`` averaged over the aligned frame pairs
  (Kubichek 1993, IEEE PACRIM; the "MFCC-MCD" variant, not SPTK mel-generalised cepstra, so
  values are not directly comparable with papers that use SPTK ``mcep``).
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from facespeak.core.errors import DependencyError, InputError
from facespeak.core.timing import MelSpec

from facespeak.audio.io import resample
from facespeak.audio.mel import slaney_mel_filterbank
from .dtw import dtw_path, pairwise_euclidean

__all__ = [
    "ANALYSIS",
    "MALE_MAX_HZ",
    "FEMALE_MIN_HZ",
    "PitchConfig",
    "f0_track",
    "median_f0",
    "f0_gender_range",
    "mel_cepstra",
    "align_to_reference",
    "mcd",
    "f0_rmse",
    "speaker_embedding",
    "cosine_matrix",
    "mean_pairwise_cosine",
]

log = logging.getLogger(__name__)

ANALYSIS = MelSpec.paper()  # 16 kHz, hop 160 (10 ms), win 640, n_fft 1024, 80 mels, fmax 8 kHz
MALE_MAX_HZ = 155.0
FEMALE_MIN_HZ = 165.0
_N_CEPSTRA = 24


@dataclass(frozen=True)
class PitchConfig:
    """YIN settings (Hz, dB, dimensionless CMND thresholds)."""

    fmin: float = 60.0
    fmax: float = 400.0
    threshold: float = 0.15  # YIN absolute threshold: first dip below it is the period
    voicing_threshold: float = 0.35  # best CMND above this -> unvoiced (aperiodic)
    silence_db: float = 35.0  # frames this far below the loudest frame are unvoiced

    @classmethod
    def tiny(cls) -> "PitchConfig":
        return cls()


def _mono(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """Validate and resample to the analysis rate -> (T_wav,) float64."""

    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim != 1 or wav.size == 0:
        raise InputError(f"expected non-empty mono audio of shape (T_wav,), got shape {wav.shape}")
    if sample_rate <= 0:
        raise InputError(f"expected a positive sample rate in Hz, got {sample_rate}")
    if not np.all(np.isfinite(wav)):
        raise InputError("expected finite audio samples, got NaN or inf")
    return resample(wav, int(sample_rate), ANALYSIS.sample_rate).astype(np.float64)


def _centred_frames(x: np.ndarray, length: int, hop: int) -> np.ndarray:
    """(T_wav,) -> (T_frames, length) frames centred on samples t * hop (zero padded)."""
    n = 1 + len(x) // hop
    left = length // 2
    padded = np.zeros(left + (n - 1) * hop + length)
    padded[left:left + len(x)] = x
    idx = np.arange(length)[None, :] + hop * np.arange(n)[:, None]
    return padded[idx]


def _cmnd(frames: np.ndarray, window: int, max_lag: int) -> np.ndarray:
    """YIN cumulative-mean-normalised difference, (T_frames, L) -> (T_frames, max_lag + 1)."""
    n_fft = 1 << int(np.ceil(np.log2(frames.shape[1] + window)))
    spec_all = np.fft.rfft(frames, n_fft, axis=1)
    spec_head = np.fft.rfft(frames[:, :window], n_fft, axis=1)
    cross = np.fft.irfft(np.conj(spec_head) * spec_all, n_fft, axis=1)[:, :max_lag + 1]
    csum = np.concatenate([np.zeros((len(frames), 1)), np.cumsum(frames**2, axis=1)], axis=1)
    lags = np.arange(max_lag + 1)
    energy_lag = csum[:, lags + window] - csum[:, lags]
    diff = np.maximum(csum[:, [window]] + energy_lag - 2.0 * cross, 0.0)
    running = np.cumsum(diff[:, 1:], axis=1) / lags[1:]
    out = np.ones_like(diff)
    out[:, 1:] = diff[:, 1:] / np.maximum(running, 1e-12)
    return out


def _pick_lag(cmnd: np.ndarray, lo: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: first dip below ``threshold`` followed to its local minimum (else the global
    minimum) within lags [lo, max] -> (lag float with parabolic refinement, CMND value there)."""
    d = cmnd[:, lo:]
    below = d < threshold
    first = np.where(below.any(1), below.argmax(1), d.argmin(1))
    idx = np.arange(d.shape[1])[None, :]
    rising = np.concatenate([d[:, 1:] >= d[:, :-1], np.ones((len(d), 1), bool)], axis=1)
    best = (rising & (idx >= first[:, None])).argmax(1)
    rows = np.arange(len(d))
    left = d[rows, np.maximum(best - 1, 0)]
    right = d[rows, np.minimum(best + 1, d.shape[1] - 1)]
    centre = d[rows, best]
    curv = left - 2.0 * centre + right
    shift = np.where(curv > 1e-12, 0.5 * (left - right) / np.where(curv > 1e-12, curv, 1.0), 0.0)
    return lo + best + np.clip(shift, -0.5, 0.5), centre


def f0_track(wav: np.ndarray, sample_rate: int, config: PitchConfig = PitchConfig()) -> np.ndarray:
    """F0 contour in Hz of ``(T_wav,)`` audio at ``sample_rate`` Hz.

    Returns:
        ``(T_frames,)`` float64, one value per 10 ms analysis frame (``T_frames = 1 + T_16k //
        hop``); unvoiced frames are ``nan``.
    """
    x = _mono(wav, sample_rate)
    sr, hop, window = ANALYSIS.sample_rate, ANALYSIS.hop_length, ANALYSIS.win_length
    lo, max_lag = int(np.floor(sr / config.fmax)), int(np.ceil(sr / config.fmin))
    frames = _centred_frames(x, window + max_lag + 1, hop)
    lag, aperiodicity = _pick_lag(_cmnd(frames, window, max_lag), lo, config.threshold)
    rms = np.sqrt(np.mean(frames[:, :window] ** 2, axis=1))
    loud = 20.0 * np.log10(np.maximum(rms, 1e-10) / max(float(rms.max()), 1e-10)) > -config.silence_db
    voiced = loud & (aperiodicity < config.voicing_threshold) & (rms > 1e-6)
    f0 = sr / lag
    voiced &= (f0 >= config.fmin) & (f0 <= config.fmax)
    return np.where(voiced, f0, np.nan)


def median_f0(wav: np.ndarray, sample_rate: int, config: PitchConfig = PitchConfig()) -> float:
    """Median F0 in Hz over voiced frames; ``nan`` when no frame is voiced (silence, noise)."""
    f0 = f0_track(wav, sample_rate, config)
    voiced = f0[np.isfinite(f0)]
    return float(np.median(voiced)) if voiced.size else float("nan")


def f0_gender_range(f0_hz: float) -> Literal["male", "female", "ambiguous"]:
    """Which adult speaking-F0 range a median F0 (Hz) falls in.

    ``'male'`` below :data:`MALE_MAX_HZ` (155 Hz), ``'female'`` above :data:`FEMALE_MIN_HZ`
    (165 Hz), ``'ambiguous'`` in between or when F0 is ``nan`` (nothing voiced); see the module
    docstring for the literature.
    """
    if not np.isfinite(f0_hz):
        return "ambiguous"
    if f0_hz < MALE_MAX_HZ:
        return "male"
    if f0_hz > FEMALE_MIN_HZ:
        return "female"
    return "ambiguous"


@functools.lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    return slaney_mel_filterbank(ANALYSIS.sample_rate, ANALYSIS.n_fft, ANALYSIS.n_mels, ANALYSIS.fmin, ANALYSIS.fmax)


def _mel_cepstra_16k(x: np.ndarray) -> np.ndarray:
    from scipy.fft import dct

    frames = _centred_frames(x, ANALYSIS.win_length, ANALYSIS.hop_length) * np.hanning(ANALYSIS.win_length)
    power = np.abs(np.fft.rfft(frames, ANALYSIS.n_fft, axis=1)) ** 2
    log_amp = 0.5 * np.log(np.maximum(power @ _mel_basis().T.astype(np.float64), 1e-10))
    # ortho DCT-II / sqrt(2 N) = the real cepstrum c_d of log|X| = c0 + 2 sum_d c_d cos(d w)
    # sampled at the N mel bands (the convention the MCD formula's sqrt(2) assumes).
    cep = dct(log_amp, type=2, norm="ortho", axis=1) / np.sqrt(2.0 * ANALYSIS.n_mels)
    return cep[:, 1:_N_CEPSTRA + 1]


def mel_cepstra(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mel-cepstra c1..c24 of ``(T_wav,)`` audio -> ``(T_frames, 24)`` (same frames as :func:`f0_track`)."""
    return _mel_cepstra_16k(_mono(wav, sample_rate))


def align_to_reference(reference: np.ndarray, synthesised: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DTW-align two utterances on mel-cepstra.

    Args:
        reference, synthesised: ``(T_wav,)`` audio at ``sample_rate`` Hz (lengths may differ).

    Returns:
        ``(path, cep_ref, cep_syn)``: ``path`` ``(T_path, 2)`` frame index pairs, and the
        ``(T_frames, 24)`` mel-cepstra of each signal.
    """
    cep_ref, cep_syn = mel_cepstra(reference, sample_rate), mel_cepstra(synthesised, sample_rate)
    path, _ = dtw_path(pairwise_euclidean(cep_ref, cep_syn))
    return path, cep_ref, cep_syn


def mcd(reference: np.ndarray, synthesised: np.ndarray, sample_rate: int) -> float:
    """Mel-cepstral distortion in dB after DTW (0 for identical signals); see the module docstring."""
    path, a, b = align_to_reference(reference, synthesised, sample_rate)
    diff = a[path[:, 0]] - b[path[:, 1]]
    return float(np.mean(10.0 / np.log(10.0) * np.sqrt(2.0 * np.sum(diff**2, axis=1))))


def f0_rmse(reference: np.ndarray, synthesised: np.ndarray, sample_rate: int,
            config: PitchConfig = PitchConfig()) -> float:
    """RMSE in Hz between F0 contours over DTW-aligned frame pairs that are voiced in both.

    Frames are aligned by DTW on mel-cepstra (:func:`align_to_reference`). Returns ``nan`` when
    no aligned pair is voiced in both signals.
    """
    path, _, _ = align_to_reference(reference, synthesised, sample_rate)
    f_ref = f0_track(reference, sample_rate, config)[path[:, 0]]
    f_syn = f0_track(synthesised, sample_rate, config)[path[:, 1]]
    both = np.isfinite(f_ref) & np.isfinite(f_syn)
    if not both.any():
        return float("nan")
    return float(np.sqrt(np.mean((f_ref[both] - f_syn[both]) ** 2)))


_ENCODER_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _voice_encoder() -> Any:
    try:
        from resemblyzer import VoiceEncoder
    except ImportError as exc:
        raise DependencyError("speaker similarity needs Resemblyzer; pip install Resemblyzer==0.1.4 'setuptools<80'") from exc
    return VoiceEncoder("cpu", verbose=False)


def speaker_embedding(wav: np.ndarray, sample_rate: int, vad: bool = True) -> np.ndarray:
    """Resemblyzer GE2E speaker embedding of ``(T_wav,)`` audio -> ``(256,)`` float32, unit norm.

    The audio is resampled to 16 kHz by us, then processed as Resemblyzer's ``preprocess_wav``
    does (volume normalised up to -30 dBFS; pauses cut by webrtcvad when ``vad=True``) and
    embedded with ``embed_utterance``.

    Raises:
        InputError: empty audio, or ``vad=True`` and the VAD finds no voice at all.
    """

    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim != 1 or wav.size == 0:
        raise InputError(f"expected non-empty mono audio of shape (T_wav,), got shape {wav.shape}")
    from resemblyzer.audio import normalize_volume, trim_long_silences
    from resemblyzer.hparams import audio_norm_target_dBFS
    from resemblyzer.hparams import sampling_rate as resemblyzer_rate

    # = resemblyzer.preprocess_wav on audio already at its rate, with the VAD step optional
    processed = normalize_volume(resample(wav, int(sample_rate), resemblyzer_rate), audio_norm_target_dBFS,
                                 increase_only=True)
    if vad:
        processed = trim_long_silences(processed)
    if processed.size == 0:
        raise InputError("expected speech for a speaker embedding, but the audio holds no voice activity")
    with _ENCODER_LOCK:
        emb = _voice_encoder().embed_utterance(processed)
    return np.asarray(emb, dtype=np.float32)


def cosine_matrix(embeddings: np.ndarray) -> np.ndarray:
    """Cosine similarities of ``(N, D)`` embeddings -> ``(N, N)`` (diagonal 1)."""
    e = np.asarray(embeddings, dtype=np.float64)
    if e.ndim != 2 or len(e) == 0:
        raise InputError(f"expected embeddings of shape (N, D), got shape {e.shape}")
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    if np.any(norms < 1e-12):
        raise InputError("expected non-zero embeddings, got a zero vector")
    unit = e / norms
    return np.clip(unit @ unit.T, -1.0, 1.0)


def mean_pairwise_cosine(embeddings: np.ndarray) -> float:
    """Mean cosine over the ``N (N - 1) / 2`` distinct pairs of ``(N, D)`` embeddings (N >= 2)."""
    e = np.asarray(embeddings)
    if e.ndim != 2 or len(e) < 2:
        raise InputError(f"expected at least 2 embeddings of shape (N, D), got shape {e.shape}")
    sim = cosine_matrix(e)
    return float(sim[np.triu_indices(len(e), k=1)].mean())

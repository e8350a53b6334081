"""Talking-face metrics as pure functions: lip-sync proxy, LMD, head-pose diversity, jitter.

Inputs are per-frame face-mesh landmarks (``(T_video, 478, 2|3)`` px, MediaPipe topology; a
frame without a face is all ``nan``), head poses ``(T_video, 3)`` degrees (yaw, pitch, roll) and
mono audio. Nothing here loads a model or a file (extractors: :mod:`facespeak.eval.features`).

**Lip-sync proxy** (not LSE-C: no SyncNet weights exist offline; DESIGN.md §4). It asks
whether the mouth opens when there is sound and closes when there is none:

- mouth opening per frame = inner-lip gap (mean distance of the three middle inner-lip point
  pairs) / mouth width (outer corners 61-291): scale-free, 0 for closed lips, ~0.3-0.5 wide open;
- speech envelope per video frame = RMS of the audio samples inside the frame's interval
  ``[t / fps, (t + 1) / fps)``, in dB relative to the loudest frame, floored at ``-floor_db``;
- ``peak_corr``: the largest Pearson correlation between opening and envelope over lags
  ``-max_lag..max_lag`` frames; ``lag_frames``: where it peaks. Sign convention:
  ``corr(opening[t], envelope[t + lag])``, so a **positive lag means the sound comes after the
  mouth movement** (audio delayed relative to video). A mouth that never moves has zero
  variance and scores 0;
- ``silence_closure``: fraction of silent frames (envelope below ``-silence_db``) whose opening
  is at most ``closed_max``;
- ``bilabial_closure``: fraction of bilabial phonemes (p, b, m; intervals in seconds from TTS
  durations) during which the opening reaches ``closed_max`` at least once.

**LMD** (landmark distance, Chen et al. 2018 "Lip movements generation at a glance"): mean
Euclidean distance between corresponding landmarks of two videos, each frame normalised by its
own inter-ocular distance (outer eye corners 33-263) after removing the frame's landmark mean;
reported in percent of the inter-ocular distance. Frames are paired in time: the reference is
sampled at the generated video's frame count (nearest frame), so clips of different lengths
compare their corresponding moments.

**DIV** (head-motion diversity, as in SadTalker / the paper's Table 1): mean over yaw, pitch and
roll of the standard deviation over time, in degrees (and radians beside it; the paper does not
state its unit). **Jitter**: mean magnitude of the landmarks' second difference over time
(frame-to-frame acceleration), in percent of the inter-ocular distance per frame^2 — smooth
motion scores low, frame-to-frame shaking high.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facespeak.audio.levels import frame_rms, relative_db
from facespeak.core.errors import InputError

__all__ = [
    "LipSyncConfig",
    "LipSyncProxy",
    "MOUTH_POINTS",
    "mouth_opening",
    "speech_envelope",
    "envelope_db",
    "lagged_correlation",
    "lip_sync_proxy",
    "landmark_distance",
    "pose_diversity",
    "landmark_jitter",
]

# MediaPipe face-mesh indices (same as facespeak.tfg.mesh_topology; repeated here so the
# metrics do not depend on the renderer package).
_INNER_PAIRS = ((82, 87), (13, 14), (312, 317))  # middle three upper/lower inner-lip pairs
_MOUTH_CORNERS = (61, 291)
_EYE_OUTER = (33, 263)
#: Outer and inner lip contours (40 points): the landmarks of the mouth LMD.
MOUTH_POINTS: tuple[int, ...] = (
    61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 146, 91, 181, 84, 17, 314, 405, 321, 375,
    78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 95, 88, 178, 87, 14, 317, 402, 318, 324)


@dataclass(frozen=True)
class LipSyncConfig:
    """Proxy settings. Lags in video frames, levels in dB below the loudest frame, openings as
    inner-gap / mouth-width ratios."""

    max_lag: int = 5  # +-0.2 s at 25 fps
    floor_db: float = 40.0  # envelope floor for the correlation
    silence_db: float = 30.0  # frames quieter than this below the loudest are silent
    closed_max: float = 0.06  # opening ratio at or below which the lips count as closed
    min_overlap: int = 5  # fewer finite frame pairs at a lag -> that lag is not scored

    @classmethod
    def tiny(cls) -> "LipSyncConfig":
        return cls(max_lag=2, min_overlap=3)


@dataclass(frozen=True)
class LipSyncProxy:
    """Lip-sync proxy scores (see the module docstring). ``None`` = not measurable here."""

    peak_corr: float
    lag_frames: int
    lag_s: float
    corr_at_zero: float
    silence_closure: float | None
    silent_frames: int
    bilabial_closure: float | None
    bilabials: int

    def to_dict(self) -> dict[str, float | int | None]:
        return dict(self.__dict__)


def _check_landmarks(landmarks: np.ndarray, name: str = "landmarks") -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 3 or lm.shape[1] < 468 or lm.shape[2] not in (2, 3) or len(lm) == 0:
        raise InputError(f"{name}: expected (T_video, 478, 2|3) face-mesh points, got shape {lm.shape}")
    return lm[:, :, :2]


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """``(T_video, 478, 2|3)`` px -> ``(T_video,)`` inner-lip gap / mouth width (``nan`` where
    the frame has no face)."""
    lm = _check_landmarks(landmarks)
    gap = np.mean([np.linalg.norm(lm[:, lo] - lm[:, up], axis=-1) for up, lo in _INNER_PAIRS], axis=0)
    width = np.linalg.norm(lm[:, _MOUTH_CORNERS[1]] - lm[:, _MOUTH_CORNERS[0]], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(width > 1e-9, gap / width, np.nan)


def speech_envelope(wav: np.ndarray, sample_rate: int, fps: float, n_frames: int | None = None) -> np.ndarray:
    """RMS of ``(T_wav,)`` audio in each video frame's interval -> ``(T_video,)`` (linear);
    :func:`facespeak.audio.levels.frame_rms`, the definition ``say``'s lip gate uses too."""
    return frame_rms(wav, sample_rate, fps, n_frames)


def envelope_db(envelope: np.ndarray, floor_db: float = 40.0) -> np.ndarray:
    """Linear ``(T_video,)`` envelope -> dB relative to its loudest frame, floored at ``-floor_db``."""
    return relative_db(envelope, floor_db)


def _pearson(a: np.ndarray, b: np.ndarray, min_overlap: int) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < min_overlap:
        return float("nan")
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    denom = np.sqrt(np.sum(a**2) * np.sum(b**2))
    return float(np.sum(a * b) / denom) if denom > 1e-12 else 0.0  # a constant signal: no sync


def lagged_correlation(x: np.ndarray, y: np.ndarray, max_lag: int, min_overlap: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Pearson ``corr(x[t], y[t + lag])`` for ``lag = -max_lag..max_lag``.

    Args:
        x, y: ``(T,)`` sequences at the same rate (``nan`` = missing frame, skipped).

    Returns:
        ``(lags (2 max_lag + 1,) int, r (2 max_lag + 1,))``; ``r`` is ``nan`` where fewer than
        ``min_overlap`` finite pairs overlap, and 0 where either side is constant.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise InputError(f"expected two (T,) sequences of equal length, got {x.shape} and {y.shape}")
    if max_lag < 0:
        raise InputError(f"max_lag: expected >= 0 frames, got {max_lag}")
    lags = np.arange(-max_lag, max_lag + 1)
    n = len(x)
    r = [_pearson(x[max(0, -k):n - max(0, k)], y[max(0, k):n - max(0, -k)], min_overlap) if abs(k) < n else np.nan
         for k in lags]
    return lags, np.asarray(r)


def _closed_fraction(opening: np.ndarray, mask: np.ndarray, closed_max: float) -> tuple[float | None, int]:
    values = opening[mask & np.isfinite(opening)]
    return (float(np.mean(values <= closed_max)) if values.size else None), int(values.size)


def _bilabial_closure(opening: np.ndarray, intervals_s: np.ndarray, fps: float, closed_max: float) -> tuple[float | None, int]:
    """Fraction of intervals whose frames (centres inside, else the nearest) reach closure."""
    if len(intervals_s) == 0:
        return None, 0
    centres = (np.arange(len(opening)) + 0.5) / fps
    closed, counted = [], 0
    for start, end in intervals_s:
        inside = np.flatnonzero((centres >= start) & (centres < end))
        if inside.size == 0:
            inside = np.array([min(int((start + end) / 2 * fps), len(opening) - 1)])
        values = opening[inside]
        values = values[np.isfinite(values)]
        if values.size:
            counted += 1
            closed.append(bool(values.min() <= closed_max))
    return (float(np.mean(closed)) if closed else None), counted


def lip_sync_proxy(opening: np.ndarray, envelope: np.ndarray, fps: float, config: LipSyncConfig = LipSyncConfig(),
                   bilabials_s: np.ndarray | None = None) -> LipSyncProxy:
    """Score mouth opening against the speech envelope (see the module docstring).

    Args:
        opening: ``(T_video,)`` from :func:`mouth_opening`.
        envelope: ``(T_video,)`` linear RMS from :func:`speech_envelope` (same frames).
        fps: video frame rate (frames/s).
        bilabials_s: optional ``(N, 2)`` start/end seconds of bilabial phonemes.
    """
    opening, envelope = np.asarray(opening, np.float64), np.asarray(envelope, np.float64)
    if opening.shape != envelope.shape or opening.ndim != 1:
        raise InputError(f"expected opening and envelope of equal shape (T_video,), got {opening.shape} and {envelope.shape}")
    db = envelope_db(envelope, config.floor_db)
    lags, r = lagged_correlation(opening, db, config.max_lag, config.min_overlap)
    best = int(np.nanargmax(r)) if np.isfinite(r).any() else config.max_lag
    peak = float(r[best]) if np.isfinite(r[best]) else float("nan")
    silence, n_silent = _closed_fraction(opening, db < -config.silence_db, config.closed_max)
    arr = np.zeros((0, 2)) if bilabials_s is None else np.asarray(bilabials_s, np.float64).reshape(-1, 2)
    bilabial, n_bilabial = _bilabial_closure(opening, arr, fps, config.closed_max)
    return LipSyncProxy(peak_corr=peak, lag_frames=int(lags[best]), lag_s=float(lags[best] / fps),
                        corr_at_zero=float(r[config.max_lag]), silence_closure=silence, silent_frames=n_silent,
                        bilabial_closure=bilabial, bilabials=n_bilabial)


def _normalised(lm: np.ndarray) -> np.ndarray:
    """Remove each frame's landmark mean, divide by its inter-ocular distance."""
    centred = lm - np.nanmean(lm, axis=1, keepdims=True)
    iod = np.linalg.norm(lm[:, _EYE_OUTER[1]] - lm[:, _EYE_OUTER[0]], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return centred / np.where(iod > 1e-9, iod, np.nan)[:, None, None]


def landmark_distance(generated: np.ndarray, reference: np.ndarray, points: tuple[int, ...] | None = MOUTH_POINTS) -> float:
    """LMD in % of the inter-ocular distance (0 for identical landmark tracks).

    Args:
        generated: ``(T_video, 478, 2|3)`` px; reference: ``(T_ref, 478, 2|3)`` px, sampled at
            ``T_video`` frames (nearest) when the lengths differ.
        points: landmark indices compared (default the 40 lip points; ``None`` = all).

    Returns:
        Mean over frames with a face in both and over points; ``nan`` if no frame pairs.
    """
    gen, ref = _check_landmarks(generated, "generated"), _check_landmarks(reference, "reference")
    if len(ref) != len(gen):
        ref = ref[np.round(np.linspace(0, len(ref) - 1, len(gen))).astype(int)]
    g, r = _normalised(gen), _normalised(ref)
    idx = list(points) if points is not None else slice(None)
    dist = np.linalg.norm(g[:, idx] - r[:, idx], axis=-1)
    dist = dist[np.isfinite(dist).all(axis=1)]
    return float(100.0 * dist.mean()) if dist.size else float("nan")


def pose_diversity(poses_deg: np.ndarray) -> dict[str, float]:
    """DIV of ``(T_video, 3)`` yaw/pitch/roll degrees -> ``{"div_deg", "div_rad", "yaw_std_deg",
    "pitch_std_deg", "roll_std_deg"}`` (frames with ``nan`` skipped; all ``nan`` if < 2 frames)."""
    p = np.asarray(poses_deg, np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise InputError(f"expected head poses of shape (T_video, 3) in degrees, got {p.shape}")
    p = p[np.isfinite(p).all(axis=1)]
    std = p.std(axis=0) if len(p) >= 2 else np.full(3, np.nan)
    return {"div_deg": float(std.mean()), "div_rad": float(np.deg2rad(std).mean()), "yaw_std_deg": float(std[0]),
            "pitch_std_deg": float(std[1]), "roll_std_deg": float(std[2])}


def landmark_jitter(landmarks: np.ndarray) -> float:
    """Mean ``|L[t+1] - 2 L[t] + L[t-1]|`` over points and frames, in % of the inter-ocular
    distance (0 for still or uniformly moving landmarks; ``nan`` with fewer than 3 frames)."""
    lm = _check_landmarks(landmarks)
    if len(lm) < 3:
        return float("nan")
    iod = np.linalg.norm(lm[:, _EYE_OUTER[1]] - lm[:, _EYE_OUTER[0]], axis=-1)
    acc = np.linalg.norm(lm[2:] - 2.0 * lm[1:-1] + lm[:-2], axis=-1) / iod[1:-1, None]
    acc = acc[np.isfinite(acc).all(axis=1)]
    return float(100.0 * acc.mean()) if acc.size else float("nan")

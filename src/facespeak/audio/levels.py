"""Loudness of speech per video frame: the one definition shared by the lip gate in ``say``
(facespeak.motion.silence) and the lip-sync proxy in ``facespeak eval``.

Both need the same notion of "silent frame", so it lives here once: RMS of the samples inside
each video frame's interval, in dB relative to the loudest frame of the clip.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import InputError

__all__ = ["frame_rms", "relative_db"]


def frame_rms(wav: np.ndarray, sample_rate: int, fps: float, n_frames: int | None = None) -> np.ndarray:
    """RMS of ``(T_wav,)`` audio in each video frame's interval ``[t / fps, (t + 1) / fps)``
    -> ``(T_video,)`` (linear, the audio's units).

    ``n_frames`` defaults to ``ceil(T_wav / sample_rate * fps)``; frames past the audio's end
    are 0 (silence).
    """
    x = np.asarray(wav, dtype=np.float64)
    if x.ndim != 1:
        raise InputError(f"expected mono audio of shape (T_wav,), got shape {x.shape}")
    if sample_rate <= 0 or fps <= 0:
        raise InputError(f"expected positive sample rate and fps, got {sample_rate} Hz and {fps} fps")
    n = int(np.ceil(len(x) / sample_rate * fps)) if n_frames is None else int(n_frames)
    bounds = np.round(np.arange(n + 1) * sample_rate / fps).astype(np.int64)
    out = np.zeros(n)
    for t in range(n):
        seg = x[bounds[t]:bounds[t + 1]]
        out[t] = np.sqrt(np.mean(seg**2)) if seg.size else 0.0
    return out


def relative_db(envelope: np.ndarray, floor_db: float = 40.0, peak: float | None = None) -> np.ndarray:
    """Linear ``(T_video,)`` envelope -> dB relative to its loudest frame (or to ``peak``, e.g.
    the loudest frame so far of a stream), floored at ``-floor_db`` (an all-zero envelope is all
    ``-floor_db``)."""
    env = np.asarray(envelope, dtype=np.float64)
    if peak is None:
        peak = float(np.max(env)) if env.size else 0.0
    if peak <= 0.0:
        return np.full(env.shape, -float(floor_db))
    return np.maximum(20.0 * np.log10(np.maximum(env, 1e-12) / peak), -float(floor_db))

"""Lips rest when no sound comes out: a gate from the synthesised speech's own loudness.

The audio mapper (and the lip rules) place lip shapes from the TTS's symbol timings, and close
the mouth for the pause and punctuation symbols. The waveform also has silences the symbols do
not mark as such: stop closures inside words ("extinguished", "archaic"), short gaps between
words, and the vocoder's fade at chunk edges. A speaker's lips do not stay apart at a talking
opening through those; the smoothed lip curve does, by ~0.07-0.14 mouth-width. The gate pulls
the four lip amounts toward the rest target (:data:`facespeak.motion.lip_rules.SILENCE_TARGET`)
by how quiet each video frame is:

    w(t) = clip((-level_db(t) - open_db) / (closed_db - open_db), 0, 1)
    lips(t) <- (1 - w) lips(t) + w rest

with ``level_db`` from :func:`facespeak.audio.levels` (RMS per video frame, dB below the
loudest frame). Loud frames (above ``-open_db``) are untouched; frames at or below
``-closed_db`` rest fully; the ramp between keeps the motion continuous.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError
from .lip_rules import SILENCE_TARGET

__all__ = ["SilenceGateConfig", "silence_weights", "gate_lips"]


@dataclass(frozen=True)
class SilenceGateConfig:
    """Levels in dB below the clip's loudest video frame. ``enabled=False`` leaves lips as they are."""

    open_db: float = 22.0  # quieter than this: start pulling lips to rest
    closed_db: float = 32.0  # this quiet or quieter: lips at rest
    enabled: bool = True

    def validate(self) -> None:
        if not 0.0 < self.open_db < self.closed_db:
            raise InputError(f"silence gate: expected 0 < open_db < closed_db, got {self.open_db} and {self.closed_db}")


def silence_weights(level_db: np.ndarray, config: SilenceGateConfig = SilenceGateConfig()) -> np.ndarray:
    """``(T_video,)`` dB relative to the loudest frame (<= 0) -> ``(T_video,)`` rest weight in [0, 1]."""
    config.validate()
    quiet = -np.asarray(level_db, dtype=np.float64)
    return np.clip((quiet - config.open_db) / (config.closed_db - config.open_db), 0.0, 1.0)


def gate_lips(lips: np.ndarray, level_db: np.ndarray, config: SilenceGateConfig = SilenceGateConfig()) -> np.ndarray:
    """Pull ``(T_video, 4)`` lip amounts (jaw, closure, round, spread) toward rest in quiet frames.

    Args:
        lips: ``(T_video, 4)`` amounts (:data:`facespeak.motion.lip_rules.LIP_NAMES` order).
        level_db: ``(T_video,)`` speech level per video frame, dB below the loudest frame.
    """
    lips = np.asarray(lips, dtype=np.float64)
    level_db = np.asarray(level_db, dtype=np.float64)
    if lips.ndim != 2 or lips.shape[1] != len(SILENCE_TARGET) or level_db.shape != (len(lips),):
        raise InputError(f"silence gate: expected lips (T, {len(SILENCE_TARGET)}) and levels (T,), "
                         f"got {lips.shape} and {level_db.shape}")
    if not config.enabled:
        return lips.copy()
    w = silence_weights(level_db, config)[:, None]
    return (1.0 - w) * lips + w * np.asarray(SILENCE_TARGET)[None]

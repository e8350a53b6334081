"""Articulation: the jaw-opening amounts of the lip motion scaled to the renderer's jaw.

The lip amounts (the audio mapper's, which follow the lip rules' targets closely: on training
sentences their speech-frame jaw has the same median 0.20 and 90th percentile 0.46-0.48 as
facespeak.motion.lip_rules, correlation 0.97) were set in the rules' units, where 1 is a wide
"a". Through the mesh renderer's jaw field a jaw amount of 0.2 parts lips that are closed in the
photo by only ~0.07 of the mouth width (0.6 by ~0.2), and a face mesh fitted on the output
frames reads almost no gap below ~0.1-0.15: on training faces with closed lips the mouth of
ordinary speech looked mumbled (a slit), and the lip-sync proxy suffered most there
(decisions.md #39). The jaw column is scaled, the other three are left as they are:

    jaw <- clip(gain * jaw, 0, 1)

so pauses (jaw 0, the silence target), p/b/m closures (jaw 0, lip closure 1) and rounding and
spreading are unchanged, and the contrast between syllables grows with the opening. The
scaling acts frame by frame (no look-ahead: a streamed segment's lips stay final when it
arrives). ``gain`` was chosen on training portraits and sentences (docs/benchmarks.md, "Lip
sync" session 13).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError

__all__ = ["ArticulationConfig", "articulate", "JAW_GAIN"]

#: default jaw gain (decisions.md #39)
JAW_GAIN = 1.6


@dataclass(frozen=True)
class ArticulationConfig:
    """``gain`` scales the jaw opening (1 = the amounts as given)."""

    gain: float = JAW_GAIN

    def validate(self) -> None:
        if not 0.0 < self.gain <= 4.0:
            raise InputError(f"articulation: expected 0 < gain <= 4, got {self.gain}")


def articulate(lips: np.ndarray, config: ArticulationConfig = ArticulationConfig()) -> np.ndarray:
    """``(T_video, 4)`` lip amounts (jaw, closure, round, spread) -> a copy with the jaw column
    scaled by ``config.gain`` and clipped to [0, 1] (module docstring)."""
    lips = np.asarray(lips, dtype=np.float64)
    if lips.ndim != 2 or lips.shape[1] != 4:
        raise InputError(f"articulation: expected lips (T, 4), got {lips.shape}")
    config.validate()
    out = lips.copy()
    out[:, 0] = np.clip(config.gain * lips[:, 0], 0.0, 1.0)
    return out

"""Rule-based lip targets from phoneme timings (a baseline and a training target source).

Input: the TTS symbol ids (blanks included) and their durations in mel frames (what
:class:`facespeak.pipeline.SpeechChunk` carries). Output: ``(T_video, 4)`` amounts at the video
rate for :data:`LIP_NAMES` = jaw open, lip closure, lip rounding, lip spreading (the first four
expression amounts of the ``mesh`` motion space, same order and units: 0 = neutral, 1 = full).

Phoneme classes (espeak-ng en-us IPA, one symbol each in :data:`facespeak.text.SYMBOLS`;
diphthongs like "aɪ" are two symbols and so glide from one target to the next by themselves):

============================  =======================================================
class                         symbols -> (jaw, closure, round, spread)
============================  =======================================================
open vowels                   a æ ɐ ɑ ɒ ʌ : jaw 0.6-0.85 (ɒ also rounds)
mid vowels                    e ɛ ə ɚ ɜ ɝ ɘ ɵ o ɔ œ ø : jaw 0.35-0.55; o ɔ ɵ œ ø round,
                              ɚ ɝ round a little (r-colouring); e ɛ spread
close vowels                  i ɪ ɨ ᵻ y u ʊ ʉ : jaw 0.15-0.25; i ɪ ɨ ᵻ spread,
                              u ʊ ʉ y round
bilabials                     p b m : lips closed (closure 1, jaw 0) — *hard* targets
labiodentals                  f v : lower lip pressed to the teeth (closure 0.6, jaw 0.08)
rounded consonants            w ʍ : round 0.9; ɹ r ʃ ʒ : round 0.3-0.4
other consonants              t d n l s z θ ð k ɡ ŋ j ç x ɣ ɫ ɬ ɾ ʁ χ ɲ ʔ ʲ : small jaw
                              (0.04-0.2) by place, stops lowest; j spreads
transparent                   h, blank between phonemes, word boundary " ", stress ˈ ˌ,
                              length ː ˑ, combining marks, ASCII fallback letters: no
                              target, they take the neighbours' (interpolated) values
silence                       punctuation, and blanks at the start/end or next to
                              punctuation: mouth closed (jaw 0, closure 0.5) — *hard*
============================  =======================================================

Timeline: symbol targets are laid out at the mel rate, transparent spans interpolated,
smoothed by a Gaussian (``LipRuleConfig.smooth_s``; coarticulation: anticipation and carry-over
both come from the symmetric kernel), and hard targets (bilabials, silences) are written back
over the smoothed curve for their whole span, so closures are reached, not smeared away. The
curve is sampled at the video frame centres; a hard span too short to contain a frame centre
still closes the frame nearest its middle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..core.errors import InputError
from ..core.timing import AudioTiming
from ..text.symbols import BLANK_ID, PAD_ID, PUNCTUATION, SYMBOLS

__all__ = ["LIP_NAMES", "PHONEME_TARGETS", "SILENCE_TARGET", "LipRuleConfig", "lip_targets", "symbol_classes"]

LIP_NAMES: tuple[str, ...] = ("jaw_open", "lip_closure", "lip_round", "lip_spread")

#: (jaw, closure, round, spread) per IPA symbol; symbols absent here are transparent.
PHONEME_TARGETS: dict[str, tuple[float, float, float, float]] = {
    # open vowels
    "a": (0.85, 0, 0, 0.1), "æ": (0.75, 0, 0, 0.3), "ɐ": (0.6, 0, 0, 0), "ɑ": (0.85, 0, 0, 0),
    "ɒ": (0.8, 0, 0.3, 0), "ʌ": (0.6, 0, 0, 0),
    # mid vowels
    "e": (0.45, 0, 0, 0.5), "ɛ": (0.5, 0, 0, 0.3), "ə": (0.35, 0, 0, 0), "ɚ": (0.35, 0, 0.3, 0),
    "ɜ": (0.45, 0, 0.1, 0), "ɝ": (0.4, 0, 0.3, 0), "ɘ": (0.35, 0, 0, 0), "ɵ": (0.35, 0, 0.5, 0),
    "o": (0.5, 0, 0.6, 0), "ɔ": (0.55, 0, 0.5, 0), "œ": (0.45, 0, 0.5, 0), "ø": (0.35, 0, 0.7, 0),
    # close vowels
    "i": (0.18, 0, 0, 0.7), "ɪ": (0.25, 0, 0, 0.4), "ɨ": (0.22, 0, 0, 0.3), "ᵻ": (0.22, 0, 0, 0.3),
    "y": (0.15, 0, 0.8, 0), "u": (0.18, 0, 0.9, 0), "ʊ": (0.25, 0, 0.6, 0), "ʉ": (0.18, 0, 0.7, 0),
    # lips
    "p": (0.0, 1, 0, 0), "b": (0.0, 1, 0, 0), "m": (0.0, 1, 0, 0),
    "f": (0.08, 0.6, 0, 0), "v": (0.08, 0.6, 0, 0),
    "w": (0.12, 0, 0.9, 0), "ʍ": (0.12, 0, 0.9, 0),
    "ɹ": (0.15, 0, 0.4, 0), "r": (0.15, 0, 0.4, 0), "ʃ": (0.12, 0, 0.35, 0), "ʒ": (0.12, 0, 0.35, 0),
    # tongue consonants: small jaw by place of articulation
    # (jaw raised for stops: alveolar and velar closures bring the teeth nearly together,
    # so a stop's silent closure shows a nearly closed mouth; decisions.md #15)
    "t": (0.04, 0, 0, 0), "d": (0.04, 0, 0, 0), "n": (0.05, 0, 0, 0), "l": (0.1, 0, 0, 0),
    "ɫ": (0.1, 0, 0, 0), "ɾ": (0.08, 0, 0, 0), "ɬ": (0.1, 0, 0, 0), "s": (0.06, 0, 0, 0.2),
    "z": (0.06, 0, 0, 0.2), "θ": (0.1, 0, 0, 0), "ð": (0.1, 0, 0, 0), "k": (0.08, 0, 0, 0),
    "ɡ": (0.08, 0, 0, 0), "ŋ": (0.08, 0, 0, 0), "x": (0.2, 0, 0, 0), "ɣ": (0.2, 0, 0, 0),
    "χ": (0.2, 0, 0, 0), "ʁ": (0.2, 0, 0, 0), "ç": (0.15, 0, 0, 0.2), "j": (0.12, 0, 0, 0.4),
    "ɲ": (0.12, 0, 0, 0), "ʔ": (0.05, 0, 0, 0),
}
SILENCE_TARGET: tuple[float, float, float, float] = (0.0, 0.5, 0.0, 0.0)
_HARD = frozenset("pbm")  # closures that must be reached
_PAUSE = frozenset(PUNCTUATION) - {" ", "'", "-"}  # punctuation that is a pause


@dataclass(frozen=True)
class LipRuleConfig:
    """smooth_s: Gaussian coarticulation width (standard deviation, seconds)."""

    smooth_s: float = 0.035

    @classmethod
    def tiny(cls) -> "LipRuleConfig":
        return cls()


def symbol_classes(ids: Sequence[int]) -> list[str]:
    """Per id: ``"silence"``, ``"hard"`` (bilabial), ``"target"`` or ``"transparent"``."""
    n = len(ids)
    out = []
    for k, i in enumerate(ids):
        if not 0 <= i < len(SYMBOLS) or i == PAD_ID:
            raise InputError(f"lip rules: expected symbol ids in 1..{len(SYMBOLS) - 1}, got {i} at position {k}")
        sym = SYMBOLS[i]
        if sym in _PAUSE:
            out.append("silence")
        elif i == BLANK_ID:
            edge = k == 0 or k == n - 1 or SYMBOLS[ids[k - 1]] in _PAUSE or SYMBOLS[ids[k + 1]] in _PAUSE
            out.append("silence" if edge else "transparent")
        elif sym in _HARD:
            out.append("hard")
        else:
            out.append("target" if sym in PHONEME_TARGETS else "transparent")
    return out


def _mel_curve(ids: Sequence[int], bounds: np.ndarray, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per mel frame ``(T_mel, 4)`` targets (NaN = transparent) and a hard-target mask ``(T_mel,)``."""
    t_mel = int(bounds[-1])
    curve = np.full((t_mel, 4), np.nan)
    hard = np.zeros(t_mel, bool)
    for k, (i, cls) in enumerate(zip(ids, classes)):
        s, e = int(bounds[k]), int(bounds[k + 1])
        if e <= s or cls == "transparent":
            continue
        curve[s:e] = SILENCE_TARGET if cls == "silence" else PHONEME_TARGETS[SYMBOLS[i]]
        hard[s:e] = cls in ("silence", "hard")
    # leading / trailing frames without any target are silence; gaps are interpolated
    known = np.flatnonzero(~np.isnan(curve[:, 0]))
    if len(known) == 0:
        curve[:] = SILENCE_TARGET
        return curve, np.ones(t_mel, bool)
    frames = np.arange(t_mel)
    for c in range(4):
        curve[:, c] = np.interp(frames, known, curve[known, c], left=SILENCE_TARGET[c], right=SILENCE_TARGET[c])
    return curve, hard


def lip_targets(ids: Sequence[int], durations: Sequence[float], timing: AudioTiming,
                n_frames: int | None = None, config: LipRuleConfig | None = None) -> np.ndarray:
    """Lip amounts at the video rate from symbol timings.

    Args:
        ids: ``(T_text,)`` symbol ids (blanks included) from :mod:`facespeak.text`.
        durations: ``(T_text,)`` mel frames per symbol (non-negative; fractions are rounded
            on the cumulative sum, so the total is kept).
        timing: mel rate and video fps.
        n_frames: output length ``T_video``; default ``round(total mel frames / mel frames per
            video frame)``. Frames past the speech are silence.
        config: :class:`LipRuleConfig`.

    Returns:
        ``(T_video, 4)`` float64 amounts in [0, 1] for :data:`LIP_NAMES`.
    """
    config = config or LipRuleConfig()
    dur = np.asarray(durations, np.float64)
    if dur.shape != (len(ids),) or (dur < 0).any() or not np.isfinite(dur).all():
        raise InputError(f"lip rules: expected {len(ids)} finite non-negative durations (mel frames), "
                         f"got shape {dur.shape}")
    bounds = np.concatenate([[0], np.round(np.cumsum(dur))]).astype(int)
    per_video = timing.mel_frames_per_video_frame
    if n_frames is None:
        n_frames = max(1, int(round(bounds[-1] / per_video)))
    classes = symbol_classes(list(ids))
    curve, hard = _mel_curve(list(ids), bounds, classes)
    if len(curve):
        smooth = gaussian_filter1d(curve, config.smooth_s * timing.mel.frame_rate, axis=0, mode="nearest")
        curve = np.where(hard[:, None], curve, smooth)
    return _sample(curve, hard, n_frames, per_video)


def _sample(curve: np.ndarray, hard: np.ndarray, n_frames: int, per_video: float) -> np.ndarray:
    """Sample the mel-rate curve at video frame centres; short hard spans keep one frame."""
    t_mel = len(curve)
    out = np.tile(np.asarray(SILENCE_TARGET, np.float64), (n_frames, 1))
    centres = (np.arange(n_frames) + 0.5) * per_video - 0.5  # in mel frame units
    inside = centres <= t_mel - 1
    if t_mel:
        for c in range(4):
            out[inside, c] = np.interp(centres[inside], np.arange(t_mel), curve[:, c])
    # hard spans that no frame centre landed in: close the frame nearest the span's middle
    edges = np.flatnonzero(np.diff(np.concatenate([[0], hard.astype(int), [0]])))
    for s, e in zip(edges[::2], edges[1::2]):
        k = min(int((s + e) / 2.0 / per_video), n_frames - 1)
        if not np.any((centres >= s - 0.5) & (centres < e - 0.5)):
            out[k] = curve[(s + e - 1) // 2]
    return np.clip(out, 0.0, 1.0)

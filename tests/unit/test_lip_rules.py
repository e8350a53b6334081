"""Rule-based lip targets: closures on p b m and silence, open vowels open, timing kept."""

from __future__ import annotations

import numpy as np
import pytest

from facespeak.core.errors import InputError
from facespeak.core.timing import AudioTiming
from facespeak.motion.lip_rules import LIP_NAMES, LipRuleConfig, lip_targets, symbol_classes
from facespeak.text.symbols import intersperse_blank, phonemes_to_ids

TIMING = AudioTiming()
JAW, CLOSE, ROUND = (LIP_NAMES.index(n) for n in ("jaw_open", "lip_closure", "lip_round"))


def _timeline(phonemes: str, seconds: list[float]) -> tuple[list[int], np.ndarray]:
    """Blank-interspersed ids with the given seconds per phoneme (blanks 10 ms each)."""
    ids = intersperse_blank(phonemes_to_ids(phonemes))
    rate = TIMING.mel.frame_rate
    durs = np.full(len(ids), 0.01 * rate)
    durs[1::2] = np.asarray(seconds) * rate
    return ids, durs


def _frame_at(seconds: float) -> int:
    return int(seconds * TIMING.video_fps)


def test_bilabials_close_and_vowels_open():
    # "ɑ m ɑ p ɑ b ɑ" with 200 ms vowels and 80 ms consonants
    ids, durs = _timeline("ɑmɑpɑbɑ", [0.2, 0.08] * 3 + [0.2])
    out = lip_targets(ids, durs, TIMING, config=LipRuleConfig.tiny())
    assert out.shape == (int(round(durs.sum() / TIMING.mel_frames_per_video_frame)), 4)
    t, centres = 0.01, []
    for k, d in enumerate([0.2, 0.08] * 3 + [0.2]):
        centres.append(t + d / 2)
        t += d + 0.01
    vowels, consonants = centres[0::2], centres[1::2]
    for c in consonants:
        k = _frame_at(c)
        assert out[k, JAW] <= 0.05 and out[k, CLOSE] >= 0.95, (c, out[k])
    for v in vowels:
        k = _frame_at(v)
        assert out[k, JAW] >= 0.6 and out[k, CLOSE] <= 0.1, (v, out[k])


def test_silence_closes_the_mouth_at_pauses_and_edges():
    ids = intersperse_blank(phonemes_to_ids("ɑ.ɑ"))
    rate = TIMING.mel.frame_rate
    durs = np.array([0.3, 0.3, 0.01, 0.4, 0.01, 0.3, 0.3]) * rate
    out = lip_targets(ids, durs, TIMING, n_frames=60)
    for seconds in (0.05, 0.81, 1.6):  # leading blank, the pause, trailing blank + padding
        k = _frame_at(seconds)
        assert out[k, JAW] <= 0.05 and out[k, CLOSE] >= 0.45, (seconds, out[k])
    assert out[_frame_at(0.45), JAW] > 0.6
    assert (out[_frame_at(1.5):] == out[-1]).all()


def test_short_bilabial_still_gets_a_closed_frame():
    ids, durs = _timeline("ɑmɑ", [0.3, 0.025, 0.3])  # m shorter than a video frame
    out = lip_targets(ids, durs, TIMING)
    assert out[:, CLOSE].max() >= 0.95 and out[_frame_at(0.3):_frame_at(0.4), JAW].min() <= 0.05


def test_rounding_and_coarticulation():
    ids, durs = _timeline("wu", [0.1, 0.3])
    out = lip_targets(ids, durs, TIMING)
    assert out[_frame_at(0.2), ROUND] > 0.8
    # smoothing anticipates: the jaw starts moving before the vowel's own segment begins
    ids, durs = _timeline("tɑ", [0.2, 0.3])
    curve = lip_targets(ids, durs, TIMING)[:, JAW]
    assert 0.1 < curve[_frame_at(0.2)] < 0.85


def test_classes_and_bad_input():
    ids = intersperse_blank(phonemes_to_ids("hˈɛloʊ, mɑ"))
    classes = symbol_classes(ids)
    assert classes[0] == "silence" and classes[-1] == "silence"
    assert classes[1] == "transparent"  # h takes its neighbours' shape
    assert "hard" in classes
    with pytest.raises(InputError, match="durations"):
        lip_targets(ids, np.ones(3), TIMING)
    with pytest.raises(InputError, match="ids"):
        lip_targets([0, 5], np.ones(2), TIMING)

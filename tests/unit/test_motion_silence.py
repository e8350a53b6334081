"""Silence gate: lips rest where the synthesised speech is silent (facespeak.motion.silence)."""

from __future__ import annotations

import numpy as np
import pytest

from facespeak.audio.levels import frame_rms, relative_db
from facespeak.core.errors import InputError
from facespeak.motion.lip_rules import SILENCE_TARGET
from facespeak.motion.silence import SilenceGateConfig, gate_lips, silence_weights


def test_weights_ramp_between_open_and_closed_levels():
    cfg = SilenceGateConfig(open_db=20.0, closed_db=30.0)
    w = silence_weights(np.array([0.0, -10.0, -20.0, -25.0, -30.0, -40.0]), cfg)
    np.testing.assert_allclose(w, [0, 0, 0, 0.5, 1, 1])


def test_loud_frames_untouched_silent_frames_rest():
    rng = np.random.default_rng(0)
    lips = rng.uniform(0, 1, (6, 4))
    level = np.array([0.0, -5.0, -15.0, -40.0, -40.0, -3.0])
    out = gate_lips(lips, level)
    np.testing.assert_array_equal(out[[0, 1, 2, 5]], lips[[0, 1, 2, 5]])
    np.testing.assert_allclose(out[[3, 4]], np.tile(SILENCE_TARGET, (2, 1)))
    # disabled: identity (a copy, not the caller's array)
    same = gate_lips(lips, level, SilenceGateConfig(enabled=False))
    np.testing.assert_array_equal(same, lips)
    assert same is not lips


def test_gate_on_real_levels_of_a_tone_with_a_gap():
    sr, fps = 16000, 25.0
    t = np.arange(sr) / sr
    wav = 0.5 * np.sin(2 * np.pi * 220 * t)
    wav[int(0.4 * sr):int(0.6 * sr)] = 0.0  # 200 ms of silence = frames 10-14
    level = relative_db(frame_rms(wav, sr, fps))
    assert level.shape == (25,)
    lips = np.tile([0.6, 0.0, 0.1, 0.2], (25, 1))
    out = gate_lips(lips, level)
    np.testing.assert_allclose(out[10:15], np.tile(SILENCE_TARGET, (5, 1)))
    np.testing.assert_allclose(out[:10], lips[:10])
    np.testing.assert_allclose(out[15:], lips[15:])


def test_bad_shapes_and_levels_raise():
    with pytest.raises(InputError):
        gate_lips(np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(InputError):
        gate_lips(np.zeros((5, 4)), np.zeros(4))
    with pytest.raises(InputError):
        silence_weights(np.zeros(3), SilenceGateConfig(open_db=30.0, closed_db=20.0))

"""Motion measures (facespeak.eval.metrics.motion) against closed-form values."""

from __future__ import annotations

import numpy as np
import pytest

from facespeak.eval.metrics.motion import jitter, lip_agreement, pose_statistics, seed_diversity


def _lips(t: int = 40) -> np.ndarray:
    """(T, 4) rule-like targets: a few closed (p/b/m) frames, a few silent frames, speech between."""
    x = np.linspace(0, 4 * np.pi, t)
    lips = np.stack([0.5 + 0.3 * np.sin(x), 0.5 + 0.3 * np.cos(x),
                     0.4 + 0.1 * np.sin(2 * x), 0.3 + 0.1 * np.cos(3 * x)], 1)
    lips[:5] = [0.0, 1.0, 0.2, 0.2]  # bilabial closure
    lips[-5:] = [0.0, 0.5, 0.2, 0.2]  # silence
    return lips.astype(np.float32)


def test_lip_agreement_of_a_perfect_mapper():
    target = _lips()
    out = lip_agreement(target, target)
    assert out["mae"] == [0.0] * 4
    assert out["pearson_r"] == pytest.approx([1.0] * 4, abs=1e-3)
    assert out["bilabial_closed"] == 1.0 and out["silence_closed"] == 1.0
    assert (out["n_bilabial"], out["n_silence"]) == (5, 5)


def test_lip_agreement_counts_open_closures_and_open_silence():
    target = _lips()
    pred = target.copy()
    pred[:5, 1] = 0.2  # the lips do not close on the p/b/m frames
    pred[-5:-2, 0] = 0.3  # the jaw opens in three of the five silent frames
    out = lip_agreement(pred, target)
    assert out["bilabial_closed"] == 0.0
    assert out["silence_closed"] == pytest.approx(2 / 5)
    assert out["mae"][1] == pytest.approx(5 * 0.8 / 40, abs=1e-4)


def test_pose_statistics_and_jitter_of_known_trajectories():
    t = np.arange(50, dtype=np.float64)
    pose = np.stack([2.0 * t, np.zeros_like(t), np.where(t % 2 == 0, 1.0, -1.0)], 1)  # ramp, still, zig-zag
    stats = pose_statistics(pose)
    assert stats["yaw_std"] == pytest.approx(2.0 * t.std())
    assert stats["pitch_std"] == 0.0 and stats["roll_std"] == pytest.approx(1.0)
    j = jitter(pose)
    assert j["d1"] == pytest.approx((2.0 + 0.0 + 2.0) / 3)  # |ramp step| 2, still 0, zig-zag 2
    assert j["d2"] == pytest.approx((0.0 + 0.0 + 4.0) / 3)  # only the zig-zag accelerates


def test_seed_diversity_is_zero_for_identical_seeds_and_one_for_independent_motion():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert seed_diversity([a, a.copy()])["pairwise_rms_deg"] == 0.0
    b = rng.normal(size=(4000, 3))
    assert seed_diversity([a, b])["relative"] == pytest.approx(1.0, abs=0.05)

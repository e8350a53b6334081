"""Measures of generated head and lip motion (numbers quoted in docs/motion.md): pure functions
of ``(T_video, D)`` arrays. The runner that computes them for the learned motion models is
:mod:`facespeak.eval.motion_quality`."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["lip_agreement", "pose_statistics", "jitter", "seed_diversity"]


def lip_agreement(pred: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    """Mapper lips vs rule targets, both (T_video, 4) [jaw, closure, round, spread] in [0, 1].

    ``bilabial_closed``: of the frames the rules fully close (closure >= 0.9, p/b/m), the share
    where the mapper's closure is >= 0.5 and its jaw <= 0.15; ``silence_closed``: of the silent
    frames (rule target jaw 0, closure 0.5), the share where the mapper's jaw is <= 0.1."""
    mae = np.abs(pred - target).mean(0)
    r = [float(np.corrcoef(pred[:, k], target[:, k])[0, 1]) if target[:, k].std() > 1e-6 else float("nan") for k in range(4)]
    bil = target[:, 1] >= 0.9
    sil = (target[:, 0] <= 1e-6) & (np.abs(target[:, 1] - 0.5) < 1e-6)
    return {"mae": mae.round(4).tolist(), "pearson_r": np.round(r, 3).tolist(),
            "bilabial_closed": float(((pred[bil, 1] >= 0.5) & (pred[bil, 0] <= 0.15)).mean()) if bil.any() else float("nan"),
            "silence_closed": float((pred[sil, 0] <= 0.1).mean()) if sil.any() else float("nan"),
            "n_bilabial": int(bil.sum()), "n_silence": int(sil.sum())}


def pose_statistics(pose: np.ndarray) -> dict[str, float]:
    """pose (T_video, >= 3) yaw, pitch, roll (deg) -> their standard deviations."""
    sd = pose[:, :3].std(0)
    return {"yaw_std": float(sd[0]), "pitch_std": float(sd[1]), "roll_std": float(sd[2])}


def jitter(pose: np.ndarray) -> dict[str, float]:
    """Mean |first| and |second| frame differences of yaw/pitch/roll (deg/frame, deg/frame^2).
    The second difference (acceleration) is the jitter measure: smooth motion has little."""
    p = pose[:, :3]
    return {"d1": float(np.abs(np.diff(p, axis=0)).mean()), "d2": float(np.abs(np.diff(p, 2, axis=0)).mean())}


def seed_diversity(poses: list[np.ndarray]) -> dict[str, float]:
    """Same condition, different seeds: mean pairwise RMS distance between the yaw/pitch/roll
    trajectories (deg), and the same over the mean within-sequence std (1 = as different as
    unrelated motion of that size)."""
    d = [float(np.sqrt(((a[:, :3] - b[:, :3]) ** 2).mean())) for i, a in enumerate(poses) for b in poses[i + 1:]]
    within = float(np.mean([p[:, :3].std(0).mean() for p in poses]))
    return {"pairwise_rms_deg": float(np.mean(d)), "relative": float(np.mean(d) / max(within * np.sqrt(2), 1e-9))}

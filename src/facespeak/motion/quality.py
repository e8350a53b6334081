"""Measures of the learned motion models (numbers quoted in docs/motion.md).

Pure metric functions over arrays, plus ``python -m facespeak.motion.quality`` that evaluates
the bundled (or given) mapper and sampler on the held-out utterances of a
``facespeak data build-motion`` output and prints JSON.
"""

from __future__ import annotations

import argparse
import json
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


def _evaluate(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from ..data.motion_dataset import SpeechFeatures
    from .bundled import load_audio_mapper, load_motion_sampler
    from .recorded import MotionStyle, RecordedMotion, bundled_motion_path
    from .sampler import SamplingOptions, generate_motion, sampler_condition

    torch.set_num_threads(1)
    data = SpeechFeatures(args.features)
    mapper, sampler = load_audio_mapper(args.mapper), load_motion_sampler(args.sampler)
    held = data.split(True)
    feats, targets = zip(*(data.utterance(u) for u in held))
    with torch.no_grad():
        preds = [mapper(torch.from_numpy(f)[None])[0].numpy() for f in feats]
    out: dict[str, Any] = {"heldout_utterances": len(held),
                           "mapper": lip_agreement(np.concatenate(preds), np.concatenate(targets))}
    # ~10 s conditions: held-out utterances back to back
    seqs, i = [], 0
    while len(seqs) < args.sequences and i < len(held):
        f, p = [], []
        while sum(len(x) for x in f) < 250 and i < len(held):
            f.append(feats[i]), p.append(preds[i])
            i += 1
        x = torch.from_numpy(np.concatenate(f))[None]
        seqs.append(sampler_condition(torch.from_numpy(np.concatenate(p))[None], x[..., -1:]))
    stats, jit, div = [], [], []
    for cond in seqs:
        poses = [generate_motion(sampler, cond, torch.Generator().manual_seed(s), SamplingOptions(steps=args.steps))[0].numpy()
                 for s in range(args.seeds)]
        stats += [pose_statistics(p) for p in poses]
        jit += [jitter(p) for p in poses]
        div.append(seed_diversity(poses))
    bank = RecordedMotion.load(bundled_motion_path())
    real = bank.pose * MotionStyle().pose_scale
    out["sampled"] = {k: float(np.mean([s[k] for s in stats])) for k in stats[0]}
    out["sampled_jitter"] = {k: float(np.mean([j[k] for j in jit])) for k in jit[0]}
    out["real_recorded_as_replayed"] = {**pose_statistics(real), **{f"jitter_{k}": v for k, v in jitter(real).items()}}
    out["seed_diversity"] = {k: float(np.mean([d[k] for d in div])) for k in div[0]}
    out["n_sequences"], out["seeds"], out["frames_per_sequence"] = len(seqs), args.seeds, int(seqs[0].shape[1])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", default="runs/motion/data/motion_speech.safetensors")
    p.add_argument("--mapper", default=None, help="audio mapper checkpoint (default: bundled)")
    p.add_argument("--sampler", default=None, help="motion sampler checkpoint (default: bundled)")
    p.add_argument("--sequences", type=int, default=5)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--steps", type=int, default=None)
    print(json.dumps(_evaluate(p.parse_args(argv)), indent=1))  # a __main__ tool: printing is its output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Evaluate the learned motion models (numbers quoted in docs/motion.md).

``python -m facespeak.eval.motion_quality`` runs the bundled (or given) audio mapper and motion
sampler on the held-out utterances of a ``facespeak data build-motion`` output and prints the
measures of :mod:`facespeak.eval.metrics.motion` as JSON.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from ..data.motion_dataset import SpeechFeatures
from .metrics.motion import jitter, lip_agreement, pose_statistics, seed_diversity
from ..motion.bundled import load_audio_mapper, load_motion_sampler
from ..motion.recorded import MotionStyle, RecordedMotion, bundled_motion_path
from ..motion.sampler import SamplingOptions, generate_motion, sampler_condition

__all__ = ["evaluate_motion", "main"]


def evaluate_motion(args: argparse.Namespace) -> dict[str, Any]:
    """The measures for the options of :func:`main` (``args``: its parsed command line)."""
    import torch

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
    print(json.dumps(evaluate_motion(p.parse_args(argv)), indent=1))  # a __main__ tool: printing is its output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

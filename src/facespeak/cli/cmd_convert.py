"""`facespeak convert lia vox.pt OUT`: import third-party checkpoints into facespeak's format."""

from __future__ import annotations

import argparse

from ..tfg.latent.weights import convert_lia
from .commands import COMMAND_HELP

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help=COMMAND_HELP["convert"])
    p.add_argument("source_format", choices=["lia"], help="layout of the input checkpoint")
    p.add_argument("checkpoint", help="input file, e.g. LIA's vox.pt")
    p.add_argument("out", help="output directory (writes latent_tfg.safetensors) or a .safetensors path")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path, cfg, n = convert_lia(args.checkpoint, args.out)
    print(f"converted {n} tensors ({cfg.size} px, {cfg.style_dim}-d, M = {cfg.motion_dim}) -> {path}")
    return 0

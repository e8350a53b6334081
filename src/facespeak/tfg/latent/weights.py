"""Loading and converting latent-TFG weights: the only file access of this package, and only
through :mod:`facespeak.core.checkpoint` (safetensors) or ``torch.load(weights_only=True)``."""

from __future__ import annotations

from pathlib import Path

import torch

from ...core.checkpoint import load_checkpoint, save_checkpoint
from ...core.config import from_dict, to_dict
from ...core.errors import CheckpointError
from .config import LatentTFGConfig
from .lia_import import map_lia_state
from .model import LatentTFG

__all__ = ["ARCH", "WEIGHTS_FILE", "resolve_weights", "load_latent_tfg", "convert_lia"]

ARCH = "facespeak.tfg.latent"
WEIGHTS_FILE = "latent_tfg.safetensors"


def resolve_weights(path: str | Path) -> Path:
    """A directory holding :data:`WEIGHTS_FILE`, or the file itself."""
    p = Path(path)
    return p / WEIGHTS_FILE if p.is_dir() or not p.suffix else p


def load_latent_tfg(path: str | Path) -> LatentTFG:
    """Build a :class:`LatentTFG` from a facespeak checkpoint (dir or file), in eval mode."""
    state, info = load_checkpoint(resolve_weights(path), arch=ARCH)
    model = LatentTFG(from_dict(LatentTFGConfig, info.config))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not fit the latent TFG (missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]})")
    return model.eval()


def convert_lia(checkpoint: str | Path, out: str | Path) -> tuple[Path, LatentTFGConfig, int]:
    """LIA ``vox.pt`` -> facespeak checkpoint at ``out``; returns (path, config, tensors written)."""
    src = Path(checkpoint)
    if not src.is_file():
        raise CheckpointError(f"LIA checkpoint: expected a file at {src}, found nothing")
    try:
        raw = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle / zip errors of several types
        raise CheckpointError(f"LIA checkpoint {src}: not loadable with weights_only=True ({e})") from None
    gen = raw.get("gen", raw) if isinstance(raw, dict) else None
    if not isinstance(gen, dict) or "dec.direction.weight" not in gen:
        raise CheckpointError(f"LIA checkpoint {src}: expected a dict with a 'gen' generator state dict "
                              "(keys enc.*, dec.*), found something else")
    state, cfg = map_lia_state(gen)
    model = LatentTFG(cfg)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    bad = [k for k in state if k not in own or own[k].shape != state[k].shape]
    if missing or bad:
        raise CheckpointError(f"LIA checkpoint {src}: mapping incomplete (missing {missing[:3]}, "
                              f"mismatched {bad[:3]})")
    path = resolve_weights(out)
    save_checkpoint(path, state, ARCH, to_dict(cfg), extra={"source": "LIA", "file": src.name})
    return path, cfg, len(state)

"""Self-describing checkpoints: safetensors weights + JSON metadata (arch, format, config).

One loader for every component. Files are loaded with safetensors (no pickle), so untrusted
checkpoints cannot run code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError
from .output_files import AtomicOutput

__all__ = ["FORMAT_VERSION", "CheckpointInfo", "save_checkpoint", "load_checkpoint", "read_info"]

FORMAT_VERSION = 1


@dataclass
class CheckpointInfo:
    arch: str
    config: dict[str, Any]
    format_version: int
    extra: dict[str, Any]


def save_checkpoint(
    path: str | Path,
    state_dict: dict[str, torch.Tensor],
    arch: str,
    config: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``state_dict`` with its arch name and config (a plain dict) to ``path``."""
    from safetensors.torch import save_file

    path = Path(path)
    meta = {
        "facespeak_format": str(FORMAT_VERSION),
        "arch": arch,
        "config": json.dumps(config),
        "extra": json.dumps(extra or {}),
    }
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    with AtomicOutput(path) as out:  # by name: safetensors opens the (exclusively created) temp file itself
        save_file(tensors, str(out.tmp), metadata=meta)


def read_info(path: str | Path) -> CheckpointInfo:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises several types on corrupt headers
        raise CheckpointError(f"checkpoint {path} is not a readable safetensors file ({e})") from None
    if "facespeak_format" not in meta:
        raise CheckpointError(f"checkpoint {path} has no facespeak metadata (not written by facespeak)")
    version = int(meta["facespeak_format"])
    if version > FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format {version}; this facespeak reads <= {FORMAT_VERSION}")
    return CheckpointInfo(
        arch=meta.get("arch", ""),
        config=json.loads(meta.get("config", "{}")),
        format_version=version,
        extra=json.loads(meta.get("extra", "{}")),
    )


def load_checkpoint(path: str | Path, arch: str | None = None) -> tuple[dict[str, torch.Tensor], CheckpointInfo]:
    """Load weights and info; if ``arch`` is given, it must match the file's arch."""
    from safetensors.torch import load_file

    info = read_info(path)
    if arch is not None and info.arch != arch:
        raise CheckpointError(f"checkpoint {path} holds a '{info.arch}' model, expected '{arch}'")
    try:
        state = load_file(str(path))
    except Exception as e:
        raise CheckpointError(f"checkpoint {path} is corrupt ({e})") from None
    return state, info

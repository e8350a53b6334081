"""Config, checkpoints, timing and errors shared by every package.

The names below are loaded from their modules on first access (PEP 562), so that importing a
light module of this package (``facespeak.core.errors``, which every CLI command needs) does not
import torch through ``core.checkpoint``: `facespeak --help` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors_all

_LAZY = {
    "CheckpointInfo": "checkpoint", "load_checkpoint": "checkpoint", "read_info": "checkpoint",
    "save_checkpoint": "checkpoint",
    "from_dict": "config", "to_dict": "config", "load_yaml": "config", "merge_overrides": "config",
    "AudioTiming": "timing", "MelSpec": "timing",
}

__all__ = [*_LAZY, *_errors_all]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

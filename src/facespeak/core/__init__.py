"""Config, checkpoints, timing and errors shared by every package."""

from .checkpoint import CheckpointInfo, load_checkpoint, read_info, save_checkpoint
from .config import from_dict, load_yaml, merge_overrides, to_dict
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors_all
from .timing import AudioTiming, MelSpec

__all__ = [
    "AudioTiming",
    "MelSpec",
    "CheckpointInfo",
    "load_checkpoint",
    "read_info",
    "save_checkpoint",
    "from_dict",
    "to_dict",
    "load_yaml",
    "merge_overrides",
    *_errors_all,
]

"""The bundled learned motion models (``assets/motion/``): audio mapper and motion sampler.

The one loader for both; checkpoints describe themselves (arch + config), see
:mod:`facespeak.core.checkpoint`. Loaded models are cached per path (read-only at inference:
the pipeline never trains or mutates them, so sharing them between calls is safe).
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..assets import asset_path
from ..core.checkpoint import load_checkpoint
from ..core.config import from_dict
from ..core.errors import CheckpointError
from .audio_mapper import AudioMapper, AudioMapperConfig
from .sampler import MotionSampler, MotionSamplerConfig

__all__ = ["MAPPER_ARCH", "SAMPLER_ARCH", "bundled_mapper_path", "bundled_sampler_path", "learned_motion_available",
           "read_audio_mapper", "read_motion_sampler", "load_audio_mapper", "load_motion_sampler"]

MAPPER_ARCH = "facespeak.audio_mapper"
SAMPLER_ARCH = "facespeak.motion_sampler"


def bundled_mapper_path() -> Path:
    return asset_path("motion", "audio_mapper.safetensors")


def bundled_sampler_path() -> Path:
    return asset_path("motion", "motion_sampler.safetensors")


def learned_motion_available() -> bool:
    return bundled_mapper_path().is_file() and bundled_sampler_path().is_file()


def _load(path: Path, arch: str, cls, cfg_cls):
    state, info = load_checkpoint(path, arch=arch)
    cfg = from_dict(cfg_cls, {k: v for k, v in info.config.items() if not k.startswith("_")})
    model = cls(cfg)
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit the {arch} config stored in the file ({e})") from None
    return model.eval()


def read_audio_mapper(path: str | Path) -> AudioMapper:
    """The audio mapper saved at ``path``, in eval mode (read each call: facespeak.bundle)."""
    return _load(Path(path), MAPPER_ARCH, AudioMapper, AudioMapperConfig)


def read_motion_sampler(path: str | Path) -> MotionSampler:
    """The motion normaliser + sampler saved at ``path``, in eval mode (read each call)."""
    return _load(Path(path), SAMPLER_ARCH, MotionSampler, MotionSamplerConfig)


@functools.lru_cache(maxsize=4)
def load_audio_mapper(path: str | Path | None = None) -> AudioMapper:
    """Bundled (or given) audio mapper, in eval mode; cached per path."""
    return read_audio_mapper(path or bundled_mapper_path())


@functools.lru_cache(maxsize=4)
def load_motion_sampler(path: str | Path | None = None) -> MotionSampler:
    """Bundled (or given) motion normaliser + sampler, in eval mode; cached per path."""
    return read_motion_sampler(path or bundled_sampler_path())

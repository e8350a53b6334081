"""Motion spaces: what the audio mapper and the motion sampler drive (docs/motion.md).

One motion stack serves every renderer. A *motion space* says what the two models produce
per video frame and how the sampler is conditioned; the models themselves (this package's
:class:`~facespeak.motion.audio_mapper.AudioMapper` and
:class:`~facespeak.motion.sampler.MotionSampler`) only carry those sizes in their configs.

=========  ==========================  ==========================  ===========================
space      lips (mapper output)        motion (sampler output)     sampler condition
=========  ==========================  ==========================  ===========================
mesh       4 lip amounts in [0, 1]     8 columns: pose, blinks,    lips + energy (5)
                                       brows (physical units)
latent     ``f_lip`` (D_style)         ``f_m`` (D_style)           ``[f_id, f_lip]`` (2 D_style)
=========  ==========================  ==========================  ===========================

The mesh space lives here (:data:`MESH_SPACE`); the latent space is
:class:`facespeak.tfg.latent.motion_space.LatentMotionSpace` (it holds the portrait's ``f_id``).
Both satisfy :class:`MotionSpace` structurally; neither package imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from ..core.errors import CheckpointError
from .audio_mapper import AudioMapper
from .lip_rules import LIP_NAMES
from .normaliser import D_NONLIP
from .sampler import D_COND, MotionSampler, SamplingOptions, generate_codes, sampler_condition

__all__ = ["MotionSpace", "MeshMotionSpace", "MESH_SPACE", "check_motion_models", "generate_space_motion"]


@runtime_checkable
class MotionSpace(Protocol):
    """What a pipeline needs from a motion space to drive it with the mapper and the sampler.

    name: ``"mesh"`` or ``"latent"``; lip_dim: mapper outputs per frame; mapper_output: the
    mapper's activation (``"sigmoid"`` or ``"linear"``); motion_dim: sampler outputs per frame;
    cond_dim: sampler condition per frame."""

    name: str
    lip_dim: int
    mapper_output: str
    motion_dim: int
    cond_dim: int

    def sampler_condition(self, lips: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        """lips ``(B, T_video, lip_dim)``, energy ``(B, T_video, 1)`` -> ``(B, T_video, cond_dim)``."""
        ...


@dataclass(frozen=True)
class MeshMotionSpace:
    """The mesh renderer's space: 4 lip amounts (:data:`LIP_NAMES`) and 8 non-lip columns
    (yaw, pitch, roll deg; tx, ty cm; blink right / left, brow raise), conditioned on the lip
    amounts and the speech energy."""

    name: str = "mesh"
    lip_dim: int = len(LIP_NAMES)
    mapper_output: str = "sigmoid"
    motion_dim: int = D_NONLIP
    cond_dim: int = D_COND

    def sampler_condition(self, lips: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        return sampler_condition(lips, energy)


MESH_SPACE = MeshMotionSpace()


def check_motion_models(space: MotionSpace, mapper: AudioMapper, sampler: MotionSampler, where: str = "") -> None:
    """Raise :class:`CheckpointError` unless ``mapper`` and ``sampler`` were built for ``space``."""
    got = {"mapper outputs": (mapper.cfg.n_out, space.lip_dim), "mapper output": (mapper.cfg.output, space.mapper_output),
           "sampler motion": (sampler.cfg.normaliser.d_motion, space.motion_dim),
           "sampler condition": (sampler.cfg.d_cond, space.cond_dim)}
    bad = [f"{k} {have} (expected {want})" for k, (have, want) in got.items() if have != want]
    if bad:
        raise CheckpointError(f"{where or 'motion models'}: not built for the {space.name} motion space: " + ", ".join(bad))


@torch.no_grad()
def generate_space_motion(space: MotionSpace, mapper: AudioMapper, sampler: MotionSampler, feats: torch.Tensor,
                          generator: torch.Generator, opts: SamplingOptions = SamplingOptions()
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mapper features ``(B, T_video, D_in)`` (:func:`~facespeak.motion.audio_mapper.concat_speech_features`)
    -> lips ``(B, T_video, lip_dim)`` and motion ``(B, T_video, motion_dim)`` decoded from the
    sampler's windowed codes (noise only from ``generator``)."""
    lips = mapper(feats)
    cond = space.sampler_condition(lips, feats[..., -1:])
    return lips, sampler.normaliser.decode(generate_codes(sampler, cond, generator, opts))

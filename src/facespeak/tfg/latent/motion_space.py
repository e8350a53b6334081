"""The latent motion space (TTSF sec. 3.3): what the jointly trained mapper and sampler drive.

Per video frame the audio mapper gives ``f_lip (D_style)`` for the generator's lip layers and
the motion sampler gives ``f_m (D_style)`` for the others; the sampler's prior and velocity
network are conditioned on ``[f_id, f_lip]`` (the portrait's motion-removed identity, repeated
over time). Satisfies :class:`facespeak.motion.space.MotionSpace` structurally (model packages
do not import each other).
"""

from __future__ import annotations

import torch

from ...core.errors import InputError

__all__ = ["LatentMotionSpace", "latent_condition"]


def latent_condition(f_id: torch.Tensor, f_lip: torch.Tensor) -> torch.Tensor:
    """``f_id (B, D_style)``, ``f_lip (B, T_video, D_style)`` -> ``[f_id, f_lip] (B, T_video, 2 D_style)``
    (the same in training and at inference)."""
    if f_id.dim() != 2 or f_lip.dim() != 3 or f_id.shape[0] != f_lip.shape[0] or f_id.shape[1] != f_lip.shape[2]:
        raise InputError(f"latent motion condition: expected f_id (B, D_style) and f_lip (B, T_video, D_style), "
                         f"got {tuple(f_id.shape)} and {tuple(f_lip.shape)}")
    return torch.cat([f_id[:, None].expand(-1, f_lip.shape[1], -1), f_lip], dim=-1)


class LatentMotionSpace:
    """The latent space of one portrait: ``f_id (1, D_style)`` from :meth:`LatentTFG.encode`."""

    name = "latent"
    mapper_output = "linear"

    def __init__(self, f_id: torch.Tensor) -> None:
        if f_id.dim() != 2 or f_id.shape[0] != 1:
            raise InputError(f"latent motion space: expected f_id (1, D_style), got {tuple(f_id.shape)}")
        self.f_id = f_id
        self.lip_dim = self.motion_dim = int(f_id.shape[1])
        self.cond_dim = 2 * self.lip_dim

    @classmethod
    def sizes(cls, style_dim: int) -> "LatentMotionSpace":
        """A space with the sizes of a ``style_dim`` TFG and a zero ``f_id`` (for size checks)."""
        return cls(torch.zeros(1, style_dim))

    def sampler_condition(self, lips: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        """``lips`` = ``f_lip (B, T_video, D_style)``; ``energy`` is not part of the paper's
        condition and is ignored -> ``(B, T_video, 2 D_style)``."""
        return latent_condition(self.f_id.expand(lips.shape[0], -1).to(lips), lips)

"""Configuration of the latent (LIA-style) talking-face generator and its loss weights."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...core.errors import ConfigError

__all__ = ["LatentTFGConfig", "TFGLossWeights"]


@dataclass
class LatentTFGConfig:
    """Sizes of the latent TFG (DESIGN.md §1).

    size: frame side px (power of two, >= 16). style_dim: ``D_style`` of ``f``, ``f_m``,
    ``f_id``, ``f_lip``. motion_dim: ``M``, number of orthonormal motion directions.
    channel_base / channel_max: feature channels at resolution ``r`` are
    ``min(channel_max, channel_base // r)`` (LIA: 16384 / 512). mlp_layers: hidden layers of
    the motion extractor (LIA: 4). mlp_activation: leaky ReLU between them (LIA's public code
    has none; a converted LIA model sets False). lip_divisors: the generator blocks at
    resolution ``size // d`` (for each ``d``) are the *lip layers*: their latents are
    ``f_id + f_lip`` instead of ``f_id + f_m`` (see docs/latent_tfg.md for why 8 and 4).
    disc_channel_max: discriminator width cap; disc_std_group: samples per minibatch-stddev
    group (contiguous; a per-rank batch that is a multiple of it makes DDP match one process).
    base_latent: what the driving motion is added
    to: ``"f_id"`` (TTSF: ``f_id + f_m(t)``) or ``"f"`` (LIA's own ``z_{s->r} + w_{r->d}``;
    converted LIA weights use it). ``f_id`` is ``f - f_m`` either way.
    """

    size: int = 128
    style_dim: int = 256
    motion_dim: int = 20
    channel_base: int = 8192
    channel_max: int = 256
    mlp_layers: int = 4
    mlp_activation: bool = True
    lip_divisors: tuple[int, ...] = (8, 4)
    disc_channel_max: int = 256
    disc_std_group: int = 2
    base_latent: str = "f_id"

    @classmethod
    def tiny(cls) -> "LatentTFGConfig":
        return cls(size=32, style_dim=32, motion_dim=4, channel_base=256, channel_max=16, mlp_layers=1,
                   disc_channel_max=16)

    @classmethod
    def small(cls) -> "LatentTFGConfig":
        """The CPU evidence run (64 px)."""
        return cls(size=64, style_dim=128, motion_dim=20, channel_base=2048, channel_max=96, mlp_layers=2,
                   disc_channel_max=64)

    @classmethod
    def default(cls) -> "LatentTFGConfig":
        return cls()

    @classmethod
    def paper(cls) -> "LatentTFGConfig":
        """LIA's VoxCeleb model: 256 px, 512-d, M = 20, 4 + 1 MLP layers."""
        return cls(size=256, style_dim=512, motion_dim=20, channel_base=16384, channel_max=512, mlp_layers=4,
                   disc_channel_max=512)

    def __post_init__(self) -> None:
        self.lip_divisors = tuple(self.lip_divisors)
        log2 = math.log2(self.size) if self.size > 0 else 0.0
        if self.size < 16 or log2 != int(log2):
            raise ConfigError(f"latent TFG size: expected a power of two >= 16, got {self.size}")
        if self.motion_dim < 1 or self.motion_dim > self.style_dim:
            raise ConfigError(f"motion_dim: expected 1..style_dim ({self.style_dim}), got {self.motion_dim}")
        if self.base_latent not in ("f_id", "f"):
            raise ConfigError(f"base_latent: expected 'f_id' or 'f', got {self.base_latent!r}")
        for d in self.lip_divisors:
            if d < 1 or self.size // d < 4 or self.size % d:
                raise ConfigError(f"lip_divisors: {d} gives no generator block for size {self.size}")

    @property
    def log_size(self) -> int:
        return int(math.log2(self.size))

    def channels(self, res: int) -> int:
        return max(1, min(self.channel_max, self.channel_base // res))

    @property
    def n_latent(self) -> int:
        """Per-layer latents of the generator: 1 (4 px conv) + 3 per block (up-conv, conv, flow)."""
        return 1 + 3 * (self.log_size - 2)

    def layer_resolution(self, index: int) -> int:
        """Resolution px of the generator layer that reads latent ``index``."""
        return 4 if index == 0 else 2 ** ((index - 1) // 3 + 3)

    @property
    def lip_layers(self) -> tuple[int, ...]:
        """Latent indices routed to ``f_id + f_lip``."""
        res = {self.size // d for d in self.lip_divisors}
        return tuple(i for i in range(self.n_latent) if self.layer_resolution(i) in res)


@dataclass
class TFGLossWeights:
    """Total-loss weights, the paper's in its order (GAN, reconstruction, identity, sync, OT-CFM,
    motion AE, motion prior, TTS) = 0.1, 1, 0.3, 0.1, 0.1, 1, 0.1, 1. ``reconstruction``
    scales L1 + ``perceptual_ratio`` x perceptual (LPIPS's role). r1: discriminator gradient
    penalty on real frames (StyleGAN2; not in the paper's list, 0 disables)."""

    gan: float = 0.1
    reconstruction: float = 1.0
    identity: float = 0.3
    sync: float = 0.1
    cfm: float = 0.1
    motion_ae: float = 1.0
    motion_prior: float = 0.1
    tts: float = 1.0
    perceptual_ratio: float = 1.0
    r1: float = 0.0

    @classmethod
    def tiny(cls) -> "TFGLossWeights":
        return cls()

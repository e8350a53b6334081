"""Motion normaliser (TTSF §3.3): an MSE auto-encoder over the non-lip motion.

The paper found flow matching directly on raw motion jittery and samples a compressed code
``f_c`` instead. Here the non-lip motion is 8 columns per frame (yaw, pitch, roll in deg; tx, ty
in cm; blink right/left, brow raise 0..1; :data:`facespeak.data.motion_dataset.MOTION_COLUMNS`),
standardised by per-column buffers, encoded by temporal convolutions to ``D_code`` channels per
frame and decoded back. The decoder's convolutions are what smooths sampled codes: frame-to-
frame noise in ``f_c`` that the decoder never saw in training is projected away.
Both directions are fully convolutional (any length; no seams when decoding a long sequence
generated in windows, since it is decoded in one pass).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..core.errors import InputError

__all__ = ["MotionNormaliserConfig", "MotionNormaliser", "D_NONLIP"]

D_NONLIP = 8


@dataclass
class MotionNormaliserConfig:
    d_motion: int = D_NONLIP
    d_code: int = 6
    hidden: int = 64
    kernel: int = 5
    layers: int = 2

    @classmethod
    def tiny(cls) -> "MotionNormaliserConfig":
        return cls(d_code=4, hidden=8, kernel=3, layers=1)


def _stack(d_in: int, hidden: int, d_out: int, kernel: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    ch = d_in
    for _ in range(layers):
        mods += [nn.Conv1d(ch, hidden, kernel, padding=kernel // 2), nn.GELU()]
        ch = hidden
    mods.append(nn.Conv1d(ch, d_out, 1))
    return nn.Sequential(*mods)


class MotionNormaliser(nn.Module):
    """motion (B, T_video, 8) <-> code f_c (B, T_video, D_code). Buffers ``mean`` / ``std`` (8,)."""

    def __init__(self, cfg: MotionNormaliserConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mean", torch.zeros(cfg.d_motion))
        self.register_buffer("std", torch.ones(cfg.d_motion))
        self.enc = _stack(cfg.d_motion, cfg.hidden, cfg.d_code, cfg.kernel, cfg.layers)
        self.dec = _stack(cfg.d_code, cfg.hidden, cfg.d_motion, cfg.kernel, cfg.layers)

    def set_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std.clamp_min(1e-3))

    def _check(self, x: torch.Tensor, d: int, what: str) -> None:
        if x.dim() != 3 or x.shape[-1] != d:
            raise InputError(f"motion normaliser: expected {what} (B, T_video, {d}), got {tuple(x.shape)}")

    def encode(self, motion: torch.Tensor) -> torch.Tensor:
        """(B, T_video, 8) physical units -> f_c (B, T_video, D_code)."""
        self._check(motion, self.cfg.d_motion, "motion")
        x = ((motion - self.mean) / self.std).transpose(1, 2)
        return self.enc(x).transpose(1, 2)

    def decode_standard(self, code: torch.Tensor) -> torch.Tensor:
        """f_c -> standardised motion (B, T_video, 8) (the space the MSE is measured in)."""
        self._check(code, self.cfg.d_code, "code")
        return self.dec(code.transpose(1, 2)).transpose(1, 2)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """f_c (B, T_video, D_code) -> motion (B, T_video, 8) in physical units."""
        return self.decode_standard(code) * self.std + self.mean

    def loss(self, motion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (MSE of the reconstruction in standardised units, code f_c)."""
        code = self.encode(motion)
        target = (motion - self.mean) / self.std
        return ((self.decode_standard(code) - target) ** 2).mean(), code

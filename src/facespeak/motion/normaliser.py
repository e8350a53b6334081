"""Motion normaliser (TTSF §3.3): an MSE auto-encoder over the non-lip motion.

The paper found flow matching directly on raw motion jittery and samples a compressed code
``f_c`` instead. Here the non-lip motion is 8 columns per frame (yaw, pitch, roll in deg; tx, ty
in cm; blink right/left, brow raise 0..1; :data:`facespeak.data.motion_dataset.MOTION_COLUMNS`),
standardised by per-column buffers, encoded by temporal convolutions to ``D_code`` channels per
frame and decoded back. The decoder is trained as a *denoising* decoder (our addition): it also
reconstructs the motion from codes with Gaussian noise added, so frame-to-frame noise in sampled
codes is projected away instead of passed through (a plain AE here learns a near-identity map
that keeps the sampler's jitter: measured 26 % more pose acceleration than the real video).
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
    # denoising: the decoder also reconstructs from f_c + N(0, (code_noise * std(f_c))^2), so it
    # learns to reject the frame-to-frame noise of sampled codes (0 = plain auto-encoder)
    code_noise: float = 0.25
    # keeps the RMS of f_c near 1 (penalty weight on (mean(f_c^2) - 1)^2): the sampler's source
    # noise N(mu, I) has a fixed scale, and nothing else stops the codes from drifting in size
    code_scale_weight: float = 0.1

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

    def loss(self, motion: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (MSE of the reconstruction in standardised units [+ the same from noisy codes], f_c)."""
        code = self.encode(motion)
        target = (motion - self.mean) / self.std
        loss = ((self.decode_standard(code) - target) ** 2).mean()
        if self.cfg.code_noise > 0:
            eps = torch.randn(code.shape, generator=generator, device=code.device, dtype=code.dtype)
            noisy = code + self.cfg.code_noise * code.detach().std() * eps
            loss = loss + ((self.decode_standard(noisy) - target) ** 2).mean()
        if self.cfg.code_scale_weight > 0:
            loss = loss + self.cfg.code_scale_weight * (code.pow(2).mean() - 1.0) ** 2
        return loss, code

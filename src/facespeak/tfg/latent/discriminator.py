"""StyleGAN2-style residual discriminator (Karras et al. 2020, fig. 7) for the latent TFG."""

from __future__ import annotations

import torch
from torch import nn

from .config import LatentTFGConfig
from .layers import ConvLayer, DownResBlock, EqualLinear

__all__ = ["Discriminator"]


class Discriminator(nn.Module):
    """``(B, 3, size, size)`` in [-1, 1] -> realness logits ``(B,)``.

    Width at resolution r: ``min(disc_channel_max, channel_base // r)``. A minibatch standard
    deviation feature (contiguous groups of ``disc_std_group`` samples) lets it see a lack of variety across samples."""

    def __init__(self, cfg: LatentTFGConfig) -> None:
        super().__init__()

        def ch(r: int) -> int:
            return max(1, min(cfg.disc_channel_max, cfg.channel_base // r))

        self.stem = ConvLayer(3, ch(cfg.size), 1)
        self.blocks = nn.Sequential(*[DownResBlock(ch(2**lr), ch(2 ** (lr - 1))) for lr in range(cfg.log_size, 2, -1)])
        c4 = ch(4)
        self.final_conv = ConvLayer(c4 + 1, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4, activate=True)
        self.out = EqualLinear(c4, 1)
        self.std_group = cfg.disc_std_group

    def _batch_std(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g = next(k for k in range(min(self.std_group, b), 0, -1) if b % k == 0)
        # contiguous groups: a DDP rank's half of a global batch forms the same groups
        y = x.view(b // g, g, c, h, w)
        std = (y.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (b // g,)
        feat = std.repeat_interleave(g)[:, None, None, None].expand(b, 1, h, w)
        return torch.cat([x, feat], dim=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(image))
        h = self.final_conv(self._batch_std(h))
        return self.out(self.fc(h.flatten(1)))[:, 0]

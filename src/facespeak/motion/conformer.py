"""A small Conformer (Gulati et al. 2020): the motion sampler's prior and velocity network.

Block = half-step feed-forward, multi-head self-attention, convolution module (pointwise +
GLU, depthwise conv, norm, SiLU, pointwise), half-step feed-forward, final LayerNorm; every
sub-module pre-normed and residual. No absolute positional encoding: order comes from the
depthwise convolutions, so the network is shift-equivariant, which suits windowed generation
of long sequences (a window's output does not depend on where in the video it sits).
Sequences in a batch have equal length (training clips and generation windows both do).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["ConformerConfig", "ConformerBlock", "Conformer"]


@dataclass
class ConformerConfig:
    d_model: int = 64
    heads: int = 4
    ff_mult: int = 2
    conv_kernel: int = 7
    layers: int = 2
    dropout: float = 0.1

    @classmethod
    def tiny(cls) -> "ConformerConfig":
        return cls(d_model=16, heads=2, ff_mult=2, conv_kernel=3, layers=1, dropout=0.0)

    @classmethod
    def paper(cls) -> "ConformerConfig":
        return cls(d_model=256, heads=4, ff_mult=4, conv_kernel=15, layers=4)


def _feed_forward(d: int, mult: int, p: float) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d * mult), nn.SiLU(), nn.Dropout(p), nn.Linear(d * mult, d), nn.Dropout(p))


class _ConvModule(nn.Module):
    def __init__(self, d: int, kernel: int, p: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.pw1 = nn.Conv1d(d, 2 * d, 1)
        self.dw = nn.Conv1d(d, d, kernel, padding=kernel // 2, groups=d)
        self.gn = nn.GroupNorm(1, d)
        self.pw2 = nn.Conv1d(d, d, 1)
        self.drop = nn.Dropout(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, D)."""
        y = nn.functional.glu(self.pw1(self.norm(x).transpose(1, 2)), dim=1)
        y = self.pw2(nn.functional.silu(self.gn(self.dw(y))))
        return self.drop(y.transpose(1, 2))


class ConformerBlock(nn.Module):
    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.ff1 = _feed_forward(d, cfg.ff_mult, cfg.dropout)
        self.attn_norm = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, cfg.heads, dropout=cfg.dropout, batch_first=True)
        self.attn_drop = nn.Dropout(cfg.dropout)
        self.conv = _ConvModule(d, cfg.conv_kernel, cfg.dropout)
        self.ff2 = _feed_forward(d, cfg.ff_mult, cfg.dropout)
        self.out_norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D_model) -> (B, T, D_model)."""
        x = x + 0.5 * self.ff1(x)
        h = self.attn_norm(x)
        x = x + self.attn_drop(self.attn(h, h, h, need_weights=False)[0])
        x = x + self.conv(x)
        x = x + 0.5 * self.ff2(x)
        return self.out_norm(x)


class Conformer(nn.Module):
    """``d_in`` -> D_model projection, ``layers`` blocks, projection to ``d_out``:
    (B, T, d_in) -> (B, T, d_out)."""

    def __init__(self, cfg: ConformerConfig, d_in: int, d_out: int) -> None:
        super().__init__()
        self.inp = nn.Linear(d_in, cfg.d_model)
        self.blocks = nn.ModuleList(ConformerBlock(cfg) for _ in range(cfg.layers))
        self.out = nn.Linear(cfg.d_model, d_out)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """``bias`` (B, 1 or T, D_model) is added after the input projection (e.g. a time embedding)."""
        h = self.inp(x)
        if bias is not None:
            h = h + bias
        for blk in self.blocks:
            h = blk(h)
        return self.out(h)

"""Building blocks: masked layer norm over channels, rotary self-attention, conv FFN."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ChannelLayerNorm", "RotarySelfAttention", "ConvFFN", "TransformerBlock1D", "sinusoidal_embedding"]


class ChannelLayerNorm(nn.Module):
    """LayerNorm over C for (B, C, T) tensors."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rotary(q: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding (Su et al. 2021, RoFormer eq. 34) on the last dim of (B, H, T, Dh)."""
    t, dh = q.shape[-2], q.shape[-1]
    inv = 1.0 / (base ** (torch.arange(0, dh, 2, device=q.device, dtype=torch.float32) / dh))
    ang = torch.arange(t, device=q.device, dtype=torch.float32)[:, None] * inv[None, :]
    ang = torch.cat((ang, ang), dim=-1).to(q.dtype)
    return q * ang.cos() + _rotate_half(q) * ang.sin()


class RotarySelfAttention(nn.Module):
    """Multi-head self-attention with rotary positions; keys outside ``mask`` are ignored."""

    def __init__(self, channels: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"channels {channels} not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.out = nn.Conv1d(channels, channels, 1)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, C, T); mask: (B, 1, T) -> (B, C, T)."""
        b, c, t = x.shape
        q, k, v = self.qkv(x).view(b, 3, self.heads, c // self.heads, t).transpose(-1, -2).unbind(1)
        q, k = rotary(q), rotary(k)
        # (B, 1, 1, T) over keys; skipped when nothing is padded (the common inference case)
        attn_mask = None if bool(mask.all()) else mask.bool().unsqueeze(1)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(-1, -2).reshape(b, c, t)
        return self.out(y) * mask


class ConvFFN(nn.Module):
    def __init__(self, channels: int, hidden: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(channels, hidden, kernel_size, padding=kernel_size // 2)
        self.c2 = nn.Conv1d(hidden, channels, kernel_size, padding=kernel_size // 2)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.drop(F.gelu(self.c1(x * mask)))
        return self.c2(x * mask) * mask


class TransformerBlock1D(nn.Module):
    """Pre-norm transformer block on (B, C, T) with rotary attention and a conv FFN."""

    def __init__(self, channels: int, ffn: int, heads: int, kernel_size: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        self.n1 = ChannelLayerNorm(channels)
        self.attn = RotarySelfAttention(channels, heads, dropout)
        self.n2 = ChannelLayerNorm(channels)
        self.ffn = ConvFFN(channels, ffn, kernel_size, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.n1(x), mask))
        x = x + self.drop(self.ffn(self.n2(x), mask))
        return x * mask


def sinusoidal_embedding(t: torch.Tensor, dim: int, scale: float = 1000.0) -> torch.Tensor:
    """Timestep embedding (Vaswani et al. 2017 / DDPM): t (B,) in [0, 1] -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / max(half - 1, 1))
    ang = scale * t.float()[:, None] * freqs[None, :]
    return torch.cat([ang.sin(), ang.cos()], dim=-1).to(t.dtype if t.is_floating_point() else torch.float32)

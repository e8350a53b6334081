"""Text encoder (Grad-TTS / Matcha-TTS design): embedding -> conv prenet -> rotary transformer,
conditioned on the face feature; outputs the per-token mel mean ``mu_x`` and hidden ``e_t``."""

from __future__ import annotations

import torch
from torch import nn

from .config import DurationConfig, TextEncoderConfig
from .layers import ChannelLayerNorm, TransformerBlock1D

__all__ = ["TextEncoder", "DurationPredictor"]


class ConvPrenet(nn.Module):
    def __init__(self, channels: int, layers: int, kernel_size: int = 5, dropout: float = 0.1) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2) for _ in range(layers))
        self.norms = nn.ModuleList(ChannelLayerNorm(channels) for _ in range(layers))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        res = x
        for conv, norm in zip(self.convs, self.norms):
            x = self.drop(torch.relu(norm(conv(x * mask))))
        return (res + x) * mask


class TextEncoder(nn.Module):
    """ids (B, T_text) + face condition (B, D_spk) -> (mu_x (B, n_mels, T_text), e_t (B, C, T_text))."""

    def __init__(self, cfg: TextEncoderConfig, n_vocab: int, n_mels: int, spk_dim: int) -> None:
        super().__init__()
        c = cfg.channels
        self.emb = nn.Embedding(n_vocab, c)
        nn.init.normal_(self.emb.weight, 0.0, c**-0.5)
        self.prenet = ConvPrenet(c, cfg.prenet_layers, dropout=cfg.dropout)
        self.cond_in = nn.Conv1d(c + spk_dim, c, 1)  # face condition enters before the transformer
        self.blocks = nn.ModuleList(
            TransformerBlock1D(c, cfg.ffn_channels, cfg.heads, cfg.kernel_size, cfg.dropout) for _ in range(cfg.layers)
        )
        self.norm = ChannelLayerNorm(c)
        self.proj_mu = nn.Conv1d(c, n_mels, 1)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, spk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.emb(ids).transpose(1, 2) * (self.emb.embedding_dim**0.5)  # (B, C, T_text)
        x = self.prenet(x, mask)
        x = self.cond_in(torch.cat([x, spk[:, :, None].expand(-1, -1, x.shape[-1])], dim=1)) * mask
        for blk in self.blocks:
            x = blk(x, mask)
        e_t = self.norm(x) * mask
        return self.proj_mu(e_t) * mask, e_t


class DurationPredictor(nn.Module):
    """(e_t (B, C, T_text) detached, spk) -> log duration in mel frames (B, 1, T_text)."""

    def __init__(self, cfg: DurationConfig, in_channels: int, spk_dim: int) -> None:
        super().__init__()
        k = cfg.kernel_size
        self.c1 = nn.Conv1d(in_channels + spk_dim, cfg.channels, k, padding=k // 2)
        self.n1 = ChannelLayerNorm(cfg.channels)
        self.c2 = nn.Conv1d(cfg.channels, cfg.channels, k, padding=k // 2)
        self.n2 = ChannelLayerNorm(cfg.channels)
        self.out = nn.Conv1d(cfg.channels, 1, 1)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, spk: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x, spk[:, :, None].expand(-1, -1, x.shape[-1])], dim=1)
        x = self.drop(self.n1(torch.relu(self.c1(x * mask))))
        x = self.drop(self.n2(torch.relu(self.c2(x * mask))))
        return self.out(x * mask) * mask

"""1-D U-Net velocity estimator v(x_t, t | mu, face) for OT-CFM over mels (Matcha-TTS §3.2)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .config import DecoderConfig
from .layers import TransformerBlock1D, sinusoidal_embedding

__all__ = ["UNet1DDecoder"]


class ResBlock1D(nn.Module):
    """Conv-GroupNorm-Mish x2 with a time-embedding shift (Grad-TTS / DDPM style)."""

    def __init__(self, cin: int, cout: int, tdim: int, dropout: float) -> None:
        super().__init__()
        groups = 8 if cout % 8 == 0 else 1
        self.c1 = nn.Conv1d(cin, cout, 3, padding=1)
        self.n1 = nn.GroupNorm(groups, cout)
        self.t = nn.Linear(tdim, cout)
        self.c2 = nn.Conv1d(cout, cout, 3, padding=1)
        self.n2 = nn.GroupNorm(groups, cout)
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = F.mish(self.n1(self.c1(x * mask)))
        h = h + self.t(temb)[:, :, None]
        h = self.drop(F.mish(self.n2(self.c2(h * mask))))
        return (h + self.skip(x)) * mask


class _Level(nn.Module):
    def __init__(self, cin: int, cout: int, cfg: DecoderConfig, attention: bool = True) -> None:
        super().__init__()
        self.res = nn.ModuleList(
            ResBlock1D(cin if i == 0 else cout, cout, cfg.time_dim, cfg.dropout) for i in range(cfg.res_blocks_per_level)
        )
        self.attn = nn.ModuleList(
            TransformerBlock1D(cout, 2 * cout, cfg.attention_heads, 3, cfg.dropout) for _ in range(cfg.attention_per_level if attention else 0)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        for r in self.res:
            x = r(x, mask, temb)
        for a in self.attn:
            x = a(x, mask)
        return x


class UNet1DDecoder(nn.Module):
    """Velocity field for mel flow matching.

    forward(x (B, n_mels, T), mask (B, 1, T), mu (B, n_mels, T), t (B,), spk (B, D_spk)) -> (B, n_mels, T).
    T must be a multiple of ``2 ** (len(channels) - 1)`` (the model pads for you in synthesis).
    """

    def __init__(self, cfg: DecoderConfig, n_mels: int, spk_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        td = cfg.time_dim
        self.time_mlp = nn.Sequential(nn.Linear(td, 4 * td), nn.SiLU(), nn.Linear(4 * td, td))
        chans = list(cfg.channels)
        cin = 2 * n_mels + spk_dim
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for i, c in enumerate(chans):
            self.down.append(_Level(cin, c, cfg, attention=i > 0 or cfg.full_res_attention))
            last = i == len(chans) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv1d(c, c, 3, stride=2, padding=1))
            cin = c
        self.mid = nn.ModuleList(_Level(cin, cin, cfg) for _ in range(cfg.mid_blocks))
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, c in enumerate(reversed(chans)):
            self.up.append(_Level(cin + c, c, cfg, attention=i < len(chans) - 1 or cfg.full_res_attention))
            last = i == len(chans) - 1
            self.upsample.append(nn.Identity() if last else nn.ConvTranspose1d(c, c, 4, stride=2, padding=1))
            cin = c
        self.final = nn.Sequential(nn.Conv1d(cin, cin, 3, padding=1), nn.Mish(), nn.Conv1d(cin, n_mels, 1))

    @property
    def length_multiple(self) -> int:
        return 2 ** (len(self.cfg.channels) - 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, mu: torch.Tensor, t: torch.Tensor, spk: torch.Tensor) -> torch.Tensor:
        temb = self.time_mlp(sinusoidal_embedding(t, self.cfg.time_dim).to(x.dtype))
        h = torch.cat([x, mu, spk[:, :, None].expand(-1, -1, x.shape[-1])], dim=1)
        masks = [mask]
        skips = []
        for level, down in zip(self.down, self.downsample):
            h = level(h, masks[-1], temb)
            skips.append(h)
            if not isinstance(down, nn.Identity):
                h = down(h * masks[-1])
                masks.append(masks[-1][:, :, ::2])
        for level in self.mid:
            h = level(h, masks[-1], temb)
        for level, up in zip(self.up, self.upsample):
            h = level(torch.cat([h, skips.pop()], dim=1), masks[-1], temb)
            if not isinstance(up, nn.Identity):
                low = masks.pop()
                h = up(h * low)[:, :, : masks[-1].shape[-1]]
        return self.final(h * mask) * mask

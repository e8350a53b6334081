"""Waveform discriminators for adversarial vocoder training, and the GAN losses.

Two families, as in Vocos (Siuzdak 2023) and HiFi-GAN (Kong et al. 2020):

- :class:`PeriodDiscriminator` / the multi-period set (HiFi-GAN §2.2): the waveform ``(B, T_wav)``
  is folded into ``(B, 1, T_wav / p, p)`` so a 2-D conv stack with ``(k, 1)`` kernels sees every
  ``p``-th sample: periodic structure (harmonics, glottal pulses) that mel losses blur.
- :class:`ResolutionDiscriminator` / the multi-resolution set (UnivNet, Jang et al. 2021; used by
  Vocos): a 2-D conv stack over one linear-magnitude spectrogram ``(B, 1, F, T_frames)``; three
  resolutions cover time and frequency detail.

Channel widths are configurable: the paper sizes (MPD up to 1024 channels, ~41 M parameters) are
far too slow for CPU training, so the bundled recipe uses narrow stacks. Every discriminator
returns ``(score, features)``: the last map flattened to ``(B, N)`` and the list of intermediate
activations for the feature-matching loss.

Losses (least squares, HiFi-GAN eq. 1-2, and feature matching eq. 3):

    L_D = E[(D(x) - 1)^2] + E[D(G(s))^2]      L_adv(G) = E[(D(G(s)) - 1)^2]
    L_FM = sum_layers mean |D_l(x) - D_l(G(s))|
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "DiscriminatorConfig",
    "PeriodDiscriminator",
    "ResolutionDiscriminator",
    "WaveDiscriminators",
    "discriminator_loss",
    "generator_adversarial_loss",
    "feature_matching_loss",
]

_SLOPE = 0.1  # LeakyReLU slope of both families


@dataclass
class DiscriminatorConfig:
    """Sizes. ``periods`` in samples; ``resolutions`` as ``(n_fft, hop, win)`` in samples."""

    periods: list[int] = field(default_factory=lambda: [2, 3, 5, 7, 11])
    period_channels: list[int] = field(default_factory=lambda: [16, 64, 128, 256])
    resolutions: list[tuple[int, int, int]] = field(
        default_factory=lambda: [(512, 128, 512), (1024, 256, 1024), (2048, 512, 2048)]
    )
    resolution_channels: int = 32

    @classmethod
    def paper(cls) -> "DiscriminatorConfig":
        """HiFi-GAN's MPD widths and Vocos's MRD width (GPU training)."""
        return cls(period_channels=[32, 128, 512, 1024])

    @classmethod
    def tiny(cls) -> "DiscriminatorConfig":
        return cls(periods=[2, 3], period_channels=[4, 8], resolutions=[(128, 32, 128)], resolution_channels=4)


class PeriodDiscriminator(nn.Module):
    """``forward(wav (B, T_wav))`` -> ``(score (B, N), features)`` on the period-``p`` folding."""

    def __init__(self, period: int, channels: list[int]) -> None:
        super().__init__()
        self.period = period
        layers, c_in = [], 1
        for i, c in enumerate(channels):
            stride = (3, 1) if i < len(channels) - 1 else (1, 1)
            layers.append(nn.Conv2d(c_in, c, (5, 1), stride, padding=(2, 0)))
            c_in = c
        self.convs = nn.ModuleList(layers)
        self.output = nn.Conv2d(c_in, 1, (3, 1), padding=(1, 0))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, t = wav.shape
        pad = (-t) % self.period
        if pad:
            wav = F.pad(wav, (0, pad), mode="reflect")
        x = wav.view(b, 1, -1, self.period)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), _SLOPE)
            features.append(x)
        x = self.output(x)
        features.append(x)
        return x.flatten(1), features


class ResolutionDiscriminator(nn.Module):
    """``forward(wav (B, T_wav))`` -> ``(score (B, N), features)`` on one magnitude spectrogram."""

    def __init__(self, n_fft: int, hop: int, win: int, channels: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(win), persistent=False)
        c = channels
        self.convs = nn.ModuleList([
            nn.Conv2d(1, c, (7, 5), padding=(3, 2)),
            nn.Conv2d(c, c, (5, 3), (2, 1), padding=(2, 1)),
            nn.Conv2d(c, c, (5, 3), (2, 1), padding=(2, 1)),
            nn.Conv2d(c, c, (3, 3), (2, 1), padding=(1, 1)),
            nn.Conv2d(c, c, (3, 3), padding=(1, 1)),
        ])
        self.output = nn.Conv2d(c, 1, (3, 3), padding=(1, 1))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = torch.stft(wav, self.n_fft, self.hop, window=self.window, center=True, return_complex=True)
        x = spec.abs().unsqueeze(1)  # (B, 1, F, T_frames)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), _SLOPE)
            features.append(x)
        x = self.output(x)
        features.append(x)
        return x.flatten(1), features


class WaveDiscriminators(nn.Module):
    """All period and resolution discriminators; ``forward(wav)`` -> list of ``(score, features)``."""

    def __init__(self, cfg: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or DiscriminatorConfig()
        self.period = nn.ModuleList([PeriodDiscriminator(p, cfg.period_channels) for p in cfg.periods])
        self.resolution = nn.ModuleList(
            [ResolutionDiscriminator(n, h, w, cfg.resolution_channels) for n, h, w in cfg.resolutions]
        )

    def forward(self, wav: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [d(wav) for d in (*self.period, *self.resolution)]


Outputs = list[tuple[torch.Tensor, list[torch.Tensor]]]


def discriminator_loss(real: Outputs, fake: Outputs) -> torch.Tensor:
    """Least-squares loss of the discriminators: real -> 1, generated -> 0 (summed over them)."""
    return sum(((r - 1) ** 2).mean() + (f**2).mean() for (r, _), (f, _) in zip(real, fake))


def generator_adversarial_loss(fake: Outputs) -> torch.Tensor:
    """Least-squares loss of the generator: make every discriminator say 1 (summed)."""
    return sum(((f - 1) ** 2).mean() for f, _ in fake)


def feature_matching_loss(real: Outputs, fake: Outputs) -> torch.Tensor:
    """L1 between discriminator activations on real and generated audio (real ones detached),
    averaged per layer and summed over layers and discriminators."""
    return sum(
        (rf.detach() - ff).abs().mean() for (_, r_feats), (_, f_feats) in zip(real, fake)
        for rf, ff in zip(r_feats, f_feats)
    )

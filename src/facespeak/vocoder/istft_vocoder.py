"""A frame-rate ConvNeXt vocoder with an inverse-STFT head (after Vocos, Siuzdak 2023).

Everything learned runs at the mel frame rate (~86 frames/s at hop 256), not the sample rate as in
HiFi-GAN, which is why it is ~20-50x cheaper on a CPU:

    mel (B, n_mels, T_mel) -> Conv1d(k=7) -> LayerNorm -> num_layers x ConvNeXt block
        -> LayerNorm -> Linear(dim, n_fft + 2) -> log|X| (n_fft/2+1) and phase (n_fft/2+1)
        -> X = exp(log|X|) * (cos phase + i sin phase) -> inverse STFT -> (B, T_mel * hop)

ConvNeXt block (Liu et al. 2022, 1-D as in Vocos): depthwise conv (k=7) -> LayerNorm ->
Linear(dim, intermediate) -> GELU -> Linear(intermediate, dim) -> layer scale, residual.

The inverse STFT is one fixed ``conv_transpose1d`` whose kernel is the windowed inverse real DFT
(stride = hop does the overlap-add), divided by the overlap-added squared window. It exports to
ONNX with plain ops (no FFT operator needed) and is exact: :class:`InverseStft` inverts the
framing of :class:`facespeak.audio.mel.MelExtractor` (reflect pad ``(n_fft - hop)/2``,
``center=False``), so output sample ``n`` lines up with the input audio the mel came from.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
from torch import nn
from torch.nn import functional as F

from facespeak.core.errors import ConfigError, InputError

__all__ = ["IstftVocoderConfig", "IstftVocoder", "InverseStft", "ConvNeXtBlock", "polar_spectrum", "griffin_lim"]


@dataclass
class IstftVocoderConfig:
    """Hyper-parameters. ``n_fft``/``hop_length``/``win_length`` are the synthesis STFT (they
    need not equal the mel analysis STFT, but ``hop_length`` must equal the mel hop)."""

    n_mels: int = 80
    dim: int = 192
    intermediate_dim: int = 576
    num_layers: int = 8
    kernel_size: int = 7
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    max_log_magnitude: float = 7.0  # clamp before exp (|X| <= ~1100, above any speech frame)
    layer_scale: float = 0.1  # initial ConvNeXt layer-scale gamma (Vocos: 1/num_layers)
    # Inference: 0 = use the predicted phase; N > 0 = N iterations of fast Griffin-Lim (Perraudin
    # et al. 2013) from the predicted magnitude, started from the predicted phase
    phase_iterations: int = 0
    phase_momentum: float = 0.99

    def __post_init__(self) -> None:
        if self.win_length > self.n_fft or self.hop_length > self.win_length:
            raise ConfigError(
                f"expected hop_length <= win_length <= n_fft, got hop {self.hop_length}, "
                f"win {self.win_length}, n_fft {self.n_fft}"
            )
        if self.n_fft % 2 or (self.n_fft - self.hop_length) % 2:
            raise ConfigError(f"expected even n_fft and n_fft - hop, got {self.n_fft}, {self.hop_length}")
        if self.phase_iterations < 0 or not 0.0 <= self.phase_momentum < 1.0:
            raise ConfigError(f"expected phase_iterations >= 0 and 0 <= phase_momentum < 1, got {self}")
        if self.kernel_size % 2 == 0 or min(self.dim, self.intermediate_dim, self.num_layers) < 1:
            raise ConfigError(f"expected odd kernel_size and positive sizes, got {self}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "IstftVocoderConfig":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown IstftVocoderConfig keys {sorted(unknown)}")
        return cls(**dict(d))

    @classmethod
    def fast(cls) -> "IstftVocoderConfig":
        """The bundled fast vocoder: dim 192, 8 layers (~2.1 M parameters)."""
        return cls()

    @classmethod
    def tiny(cls) -> "IstftVocoderConfig":
        """Tens of thousands of parameters (hop 256, n_fft 1024) for tests."""
        return cls(dim=16, intermediate_dim=32, num_layers=2)


class ConvNeXtBlock(nn.Module):
    """``forward(x)``: ``(B, dim, T_mel)`` -> same shape (residual)."""

    def __init__(self, dim: int, intermediate_dim: int, kernel_size: int, layer_scale: float) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.expand = nn.Linear(dim, intermediate_dim)
        self.project = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.depthwise(x).transpose(1, 2)
        h = self.project(F.gelu(self.expand(self.norm(h))))
        return x + (self.gamma * h).transpose(1, 2)


def _inverse_dft_kernel(n_fft: int, win_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Conv-transpose kernel ``(n_fft + 2, 1, n_fft)`` (rows: Re X_0..X_{N/2}, Im X_0..X_{N/2})
    of the windowed inverse real DFT, and the synthesis window ``(n_fft,)``."""
    window = torch.zeros(n_fft, dtype=torch.float64)
    start = (n_fft - win_length) // 2
    window[start : start + win_length] = torch.hann_window(win_length, dtype=torch.float64)
    bins = n_fft // 2 + 1
    k = torch.arange(bins, dtype=torch.float64)[:, None]
    n = torch.arange(n_fft, dtype=torch.float64)[None, :]
    angle = 2 * math.pi * k * n / n_fft
    weight = torch.full((bins, 1), 2.0, dtype=torch.float64)
    weight[0] = weight[-1] = 1.0  # DC and Nyquist appear once in the Hermitian spectrum
    real = weight * torch.cos(angle) / n_fft
    imag = -weight * torch.sin(angle) / n_fft
    kernel = torch.cat([real, imag]) * window[None, :]
    return kernel.unsqueeze(1).float(), window.float()


class InverseStft(nn.Module):
    """Complex spectrum ``(B, n_fft + 2, T_mel)`` (real parts then imaginary parts of the
    ``n_fft/2 + 1`` bins) -> audio ``(B, T_mel * hop)``, inverting MelExtractor-style framing."""

    def __init__(self, n_fft: int, hop_length: int, win_length: int) -> None:
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        kernel, window = _inverse_dft_kernel(n_fft, win_length)
        self.register_buffer("kernel", kernel, persistent=False)
        self.register_buffer("window_sq", window.pow(2).view(1, 1, -1), persistent=False)

    def forward(self, spectrum: torch.Tensor) -> torch.Tensor:
        frames = spectrum.shape[-1]
        start = (self.n_fft - self.hop_length) // 2
        length = frames * self.hop_length
        wav = F.conv_transpose1d(spectrum, self.kernel, stride=self.hop_length)
        ones = torch.ones_like(spectrum[:, :1, :])
        envelope = F.conv_transpose1d(ones, self.window_sq, stride=self.hop_length)
        wav = wav[..., start : start + length] / envelope[..., start : start + length].clamp(min=1e-8)
        return wav.squeeze(1)


class IstftVocoder(nn.Module):
    """Mel -> waveform with the same call as :class:`HifiGanGenerator`.

    ``forward(mel)``: ``(B, n_mels, T_mel)`` natural-log mel magnitudes -> ``(B, T_mel * hop)``
    audio (not hard-limited; speech stays well inside ``[-1, 1]``; callers clip when saving).
    """

    def __init__(self, cfg: IstftVocoderConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or IstftVocoderConfig()
        self.input_conv = nn.Conv1d(cfg.n_mels, cfg.dim, cfg.kernel_size, padding=cfg.kernel_size // 2)
        self.input_norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(cfg.dim, cfg.intermediate_dim, cfg.kernel_size, cfg.layer_scale)
            for _ in range(cfg.num_layers)
        )
        self.output_norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head = nn.Linear(cfg.dim, cfg.n_fft + 2)
        self.istft = InverseStft(cfg.n_fft, cfg.hop_length, cfg.win_length)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    @property
    def hop_length(self) -> int:
        return self.cfg.hop_length

    def spectrum(self, mel: torch.Tensor) -> torch.Tensor:
        """Predicted complex STFT ``(B, n_fft + 2, T_mel)`` (real parts, then imaginary parts)."""
        return polar_spectrum(*self.log_magnitude_and_phase(mel))

    def log_magnitude_and_phase(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The head's two halves, each ``(B, n_fft/2 + 1, T_mel)``: log-magnitude (clamped at
        ``max_log_magnitude``) and phase angle, in the framing of :class:`InverseStft`."""
        if not torch.jit.is_tracing() and (mel.dim() != 3 or mel.shape[1] != self.cfg.n_mels):
            raise InputError(f"expected mel of shape (B, {self.cfg.n_mels}, T_mel), got {tuple(mel.shape)}")
        x = self.input_conv(mel)
        x = self.input_norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        out = self.head(self.output_norm(x.transpose(1, 2))).transpose(1, 2)
        log_magnitude, phase = out.chunk(2, dim=1)
        return log_magnitude.clamp(max=self.cfg.max_log_magnitude), phase

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        if self.cfg.phase_iterations == 0 or self.training:
            return self.istft(self.spectrum(mel))
        log_magnitude, phase = self.log_magnitude_and_phase(mel)
        return griffin_lim(torch.exp(log_magnitude), phase, self.cfg, self.istft)


def polar_spectrum(log_magnitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """The head's halves ``(B, n_fft/2 + 1, T)`` -> the complex spectrum ``(B, n_fft + 2, T)``
    (real parts, then imaginary parts) that :class:`InverseStft` inverts."""
    magnitude = torch.exp(log_magnitude)
    return torch.cat([magnitude * torch.cos(phase), magnitude * torch.sin(phase)], dim=1)


def griffin_lim(magnitude: torch.Tensor, phase: torch.Tensor, cfg: IstftVocoderConfig,
                istft: InverseStft) -> torch.Tensor:
    """Fast Griffin-Lim (momentum ``cfg.phase_momentum``) for ``cfg.phase_iterations`` steps:
    a consistent spectrum whose magnitude is close to ``magnitude`` (both ``(B, n_fft/2 + 1,
    T_mel)`` in :class:`InverseStft` framing), started from ``phase``; returns ``(B, T_mel * hop)``.

    The loop runs in ``torch.stft(center=True)`` framing: frame ``t`` starts at ``t*hop - n_fft/2``
    there and at ``t*hop - (n_fft - hop)/2`` in the model's framing, so the same frames describe
    a signal ``delay = n_fft/2 - (n_fft - hop)/2`` samples early; the output is delayed back.
    """
    n_fft, hop, win = cfg.n_fft, cfg.hop_length, cfg.win_length
    frames = magnitude.shape[-1]
    length = frames * hop
    window = torch.hann_window(win, device=magnitude.device, dtype=magnitude.dtype)
    delay = n_fft // 2 - (n_fft - hop) // 2
    spec = torch.polar(magnitude, phase)
    previous = spec
    for _ in range(cfg.phase_iterations):
        wav = torch.istft(spec, n_fft, hop, win, window, center=True, length=length)
        proj = torch.stft(wav, n_fft, hop, win, window, center=True, return_complex=True)[..., :frames]
        accelerated = proj + cfg.phase_momentum * (proj - previous)
        previous = proj
        spec = magnitude * accelerated / accelerated.abs().clamp(min=1e-8)
    wav = torch.istft(spec, n_fft, hop, win, window, center=True, length=length)
    return F.pad(wav, (delay, 0))[..., :length]

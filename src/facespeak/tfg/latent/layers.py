"""StyleGAN2-style building blocks (Karras et al. 2020) as LIA uses them (Wang et al. ICLR 2022).

Equalised learning rate: weights are stored N(0, 1) and scaled by ``1/sqrt(fan_in)`` at run
time, so Adam sees every layer at the same scale. The parameter names and shapes follow the
LIA layout closely enough that :mod:`.lia_import` is a renaming, not a re-parametrisation.
Resampling uses a fixed separable [1, 3, 3, 1] low-pass filter (anti-aliasing, StyleGAN2 sec. B).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["EqualConv2d", "EqualLinear", "BiasLeakyReLU", "ConvLayer", "DownResBlock", "ModulatedConv2d",
           "StyledConv", "ToRGB", "ToFlow", "blur", "upsample2x", "BLUR_TAPS"]

BLUR_TAPS = (1.0, 3.0, 3.0, 1.0)
_GAIN = math.sqrt(2.0)  # keeps activations' second moment after leaky ReLU(0.2)


def _kernel(device: torch.device, dtype: torch.dtype, gain: float = 1.0) -> torch.Tensor:
    k = torch.tensor(BLUR_TAPS, device=device, dtype=dtype)
    k2 = k[:, None] * k[None, :]
    return k2 / k2.sum() * gain


def blur(x: torch.Tensor, pad: tuple[int, int], gain: float = 1.0) -> torch.Tensor:
    """Depthwise 4x4 low-pass of ``(B, C, H, W)`` with (before, after) zero padding per side."""
    c = x.shape[1]
    k = _kernel(x.device, x.dtype, gain).flip(0, 1)[None, None].expand(c, 1, 4, 4)
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    return F.conv2d(x, k, groups=c)


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Zero-insertion x2 upsampling followed by the low-pass (gain 4 keeps the mean)."""
    b, c, h, w = x.shape
    up = x.new_zeros(b, c, h, 2, w, 2)
    up[:, :, :, 0, :, 0] = x
    return blur(up.view(b, c, 2 * h, 2 * w), (2, 1), gain=4.0)


class EqualConv2d(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, padding: int = 0, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.scale, self.stride, self.padding = 1.0 / math.sqrt(c_in * k * k), stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


class EqualLinear(nn.Module):
    def __init__(self, d_in: int, d_out: int, bias_init: float = 0.0, activate: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_out, d_in))
        self.bias = nn.Parameter(torch.full((d_out,), float(bias_init)))
        self.scale, self.activate = 1.0 / math.sqrt(d_in), activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activate:
            return F.leaky_relu(F.linear(x, self.weight * self.scale) + self.bias, 0.2) * _GAIN
        return F.linear(x, self.weight * self.scale, self.bias)


class BiasLeakyReLU(nn.Module):
    """Per-channel bias then scaled leaky ReLU (StyleGAN2's fused activation)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias, 0.2) * _GAIN


class ConvLayer(nn.Module):
    """Equalised conv (optionally blur + stride-2 downsampling) + optional activation.

    With ``activate`` the bias lives in the activation (``act.bias``), else in the conv."""

    def __init__(self, c_in: int, c_out: int, k: int, down: bool = False, activate: bool = True, bias: bool = True) -> None:
        super().__init__()
        self.down = down
        self.conv = EqualConv2d(c_in, c_out, k, stride=2 if down else 1, padding=0 if down else k // 2,
                                bias=bias and not activate)
        self.act = BiasLeakyReLU(c_out) if activate else None
        p = 2 + k - 1  # blur taps - factor + kernel - 1
        self.pad = ((p + 1) // 2, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            x = blur(x, self.pad)
        x = self.conv(x)
        return self.act(x) if self.act is not None else x


class DownResBlock(nn.Module):
    """Residual block halving H and W: ``(B, C_in, H, W) -> (B, C_out, H/2, W/2)``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(c_in, c_in, 3)
        self.conv2 = ConvLayer(c_in, c_out, 3, down=True)
        self.skip = ConvLayer(c_in, c_out, 1, down=True, activate=False, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / _GAIN


class ModulatedConv2d(nn.Module):
    """Style-modulated conv (StyleGAN2 eq. 1-3), computed as scale-input / shared conv /
    scale-output, which equals the per-sample weight form and batches on CPU.

    ``x (B, C_in, H, W)``, ``style (B, D_style)`` -> ``(B, C_out, H', W')`` (H' = 2H if ``up``)."""

    def __init__(self, c_in: int, c_out: int, k: int, d_style: int, demodulate: bool = True, up: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, c_out, c_in, k, k))
        self.modulation = EqualLinear(d_style, c_in, bias_init=1.0)
        self.scale, self.k, self.up, self.demodulate = 1.0 / math.sqrt(c_in * k * k), k, up, demodulate

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        s = self.modulation(style)  # (B, C_in)
        w = self.weight[0] * self.scale  # (C_out, C_in, k, k)
        x = x * s[:, :, None, None]
        if self.up:
            p = 4 - 2 - (self.k - 1)
            x = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)
        else:
            x = F.conv2d(x, w, padding=self.k // 2)
        if self.demodulate:
            demod = torch.rsqrt((s**2) @ (w**2).sum((2, 3)).T + 1e-8)  # (B, C_out)
            x = x * demod[:, :, None, None]
        if self.up:
            x = blur(x, ((p + 1) // 2 + 1, p // 2 + 1), gain=4.0)
        return x


class StyledConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, d_style: int, up: bool = False) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(c_in, c_out, k, d_style, up=up)
        # LIA has a noise-injection weight but injects no noise; kept as a buffer so a converted
        # checkpoint maps completely and DDP sees no unused parameter
        self.register_buffer("noise_strength", torch.zeros(1))
        self.act = BiasLeakyReLU(c_out)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x, style))


class ToRGB(nn.Module):
    """Features -> RGB residual, summed with the upsampled coarser RGB (skip architecture)."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.conv = ConvLayer(c_in, 3, 1)
        # start with a small output: at N(0, 1) init the summed RGB skips are ~2x the frames'
        # magnitude, and in the CPU runs the first steps pushed the 32/64 px flows far off
        # (tanh saturated) and closed their masks; the generator then never used the source's
        # fine features (docs/latent_tfg.md, "CPU evidence")
        with torch.no_grad():
            self.conv.conv.weight.mul_(0.1)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x) + self.bias
        return out if skip is None else out + upsample2x(skip)


class ToFlow(nn.Module):
    """Predicts a flow field and an occlusion mask, warps the encoder feature map (LIA sec. 3.3).

    Returns ``(warped * mask, warped * mask + x * (1 - mask), logits)``; ``logits (B, 3, H, W)``
    (2 flow + 1 mask) are accumulated from coarse to fine scales like an RGB skip."""

    def __init__(self, c_in: int, d_style: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(c_in, 3, 1, d_style, demodulate=False)
        # start at the identity warp (flow 0, mask 1/2): with N(0, 1) weights the initial
        # flows span half the image and training first has to undo them (seen in a CPU run)
        nn.init.zeros_(self.conv.weight)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, feat: torch.Tensor, skip: torch.Tensor | None = None):
        logits = self.conv(x, style) + self.bias
        if skip is not None:
            logits = logits + upsample2x(skip)
        b, _, h, w = x.shape
        ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (H, W, 2) as (x, y)
        flow = torch.tanh(logits[:, :2]).permute(0, 2, 3, 1) + grid
        mask = torch.sigmoid(logits[:, 2:3])
        warped = F.grid_sample(feat, flow, mode="bilinear", padding_mode="zeros", align_corners=False) * mask
        return warped, warped + x * (1.0 - mask), logits

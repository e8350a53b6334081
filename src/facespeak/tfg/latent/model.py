"""The latent talking-face generator (TTSF sec. 3.1 on LIA, Wang et al. ICLR 2022).

- :class:`VisualEncoder` ``E_v``: image -> ``f (B, D_style)`` + feature maps at 8 .. size px.
- :class:`MotionExtractor`: MLP ``f -> alpha (B, M)``.
- :class:`MotionBasis`: ``D (D_style, M)`` = Q of the QR decomposition of a learned matrix, so
  its columns are orthonormal by construction; ``f_m = D alpha``.
- ``f_id = f - f_m`` (TTSF eq. 1): the motion-removed identity that conditions the TTS.
- :class:`WarpingGenerator`: StyleGAN2-like decoder; each block up-samples, predicts a flow and
  an occlusion mask from its latent, warps the encoder's map of that scale and blends.
  Latent of layer ``l``: ``f_id + f_lip`` if ``l`` is a lip layer, else ``f_id + f_m``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import LatentTFGConfig
from .layers import ConvLayer, DownResBlock, EqualConv2d, EqualLinear, StyledConv, ToFlow, ToRGB

__all__ = ["VisualEncoder", "MotionExtractor", "MotionBasis", "WarpingGenerator", "LatentTFG", "Encoded"]


class VisualEncoder(nn.Module):
    """``E_v``: ``(B, 3, H, W)`` in [-1, 1] -> ``f (B, D_style)`` and feature maps
    ``[(B, C_r, r, r) for r = 8, 16, ..., H]`` (coarse to fine)."""

    def __init__(self, cfg: LatentTFGConfig) -> None:
        super().__init__()
        self.stem = ConvLayer(3, cfg.channels(cfg.size), 1)
        self.blocks = nn.ModuleList()
        for log_r in range(cfg.log_size, 2, -1):
            self.blocks.append(DownResBlock(cfg.channels(2**log_r), cfg.channels(2 ** (log_r - 1))))
        self.head = EqualConv2d(cfg.channels(4), cfg.style_dim, 4, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h = self.stem(x)
        maps = [h]
        for block in self.blocks:
            h = block(h)
            maps.append(h)
        f = self.head(h).flatten(1)
        return f, maps[::-1][1:]  # drop the 4 px map: 8 px .. size px


class MotionExtractor(nn.Module):
    """MLP ``f (B, D_style) -> alpha (B, M)`` (magnitudes along the motion basis)."""

    def __init__(self, cfg: LatentTFGConfig) -> None:
        super().__init__()
        layers = [EqualLinear(cfg.style_dim, cfg.style_dim, activate=cfg.mlp_activation) for _ in range(cfg.mlp_layers)]
        self.net = nn.Sequential(*layers, EqualLinear(cfg.style_dim, cfg.motion_dim))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.net(f)


class MotionBasis(nn.Module):
    """Learned orthonormal directions ``D (D_style, M)``: the Q factor of ``weight`` (LIA sec. 3.2).

    Orthonormal by construction at every step (no penalty needed); the reduced QR's sign
    convention is LAPACK's, as in LIA, so converted LIA weights give LIA's directions."""

    def __init__(self, cfg: LatentTFGConfig) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cfg.style_dim, cfg.motion_dim))

    def directions(self) -> torch.Tensor:
        q, _ = torch.linalg.qr(self.weight.float() + 1e-8)
        return q.to(self.weight.dtype)

    def forward(self, alpha: torch.Tensor) -> torch.Tensor:
        """``alpha (..., M)`` -> ``f_m (..., D_style)``."""
        return alpha @ self.directions().T


class WarpingGenerator(nn.Module):
    """``latents (B, n_latent, D_style)`` + encoder maps -> image ``(B, 3, size, size)``."""

    def __init__(self, cfg: LatentTFGConfig) -> None:
        super().__init__()
        c4 = cfg.channels(4)
        self.input = nn.Parameter(torch.randn(1, c4, 4, 4))
        self.conv1 = StyledConv(c4, c4, 3, cfg.style_dim)
        self.up_convs, self.convs, self.to_flows, self.to_rgbs = (nn.ModuleList() for _ in range(4))
        c_in = c4
        for log_r in range(3, cfg.log_size + 1):
            c = cfg.channels(2**log_r)
            self.up_convs.append(StyledConv(c_in, c, 3, cfg.style_dim, up=True))
            self.convs.append(StyledConv(c, c, 3, cfg.style_dim))
            self.to_flows.append(ToFlow(c, cfg.style_dim))
            self.to_rgbs.append(ToRGB(c))
            c_in = c

    def forward(self, latents: torch.Tensor, maps: list[torch.Tensor]) -> torch.Tensor:
        x = self.conv1(self.input.expand(latents.shape[0], -1, -1, -1), latents[:, 0])
        rgb = flow = None
        for k, (up, conv, to_flow, to_rgb, feat) in enumerate(zip(self.up_convs, self.convs, self.to_flows,
                                                                  self.to_rgbs, maps)):
            x = conv(up(x, latents[:, 3 * k + 1]), latents[:, 3 * k + 2])
            warped, x, flow = to_flow(x, latents[:, 3 * k + 3], feat, flow)
            rgb = to_rgb(warped, rgb)
        return rgb


@dataclass
class Encoded:
    """What the encoder side gives for a batch of images (all ``(B, ...)``).

    f: ``(B, D_style)``; alpha: ``(B, M)``; f_m = D alpha: ``(B, D_style)``;
    f_id = f - f_m: ``(B, D_style)``; maps: encoder feature maps 8 .. size px."""

    f: torch.Tensor
    alpha: torch.Tensor
    f_m: torch.Tensor
    f_id: torch.Tensor
    maps: list[torch.Tensor]


class LatentTFG(nn.Module):
    """Encoder + motion extractor + orthonormal basis + warping generator."""

    def __init__(self, cfg: LatentTFGConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = VisualEncoder(cfg)
        self.motion = MotionExtractor(cfg)
        self.basis = MotionBasis(cfg)
        self.generator = WarpingGenerator(cfg)
        mask = torch.zeros(cfg.n_latent, dtype=torch.bool)
        mask[list(cfg.lip_layers)] = True
        self.register_buffer("lip_mask", mask, persistent=False)

    def encode(self, image: torch.Tensor) -> Encoded:
        """``image (B, 3, size, size)`` in [-1, 1] -> :class:`Encoded`."""
        f, maps = self.encoder(image)
        alpha = self.motion(f)
        f_m = self.basis(alpha)
        return Encoded(f, alpha, f_m, f - f_m, maps)

    def layer_latents(self, f_id: torch.Tensor, f_m: torch.Tensor, f_lip: torch.Tensor | None = None) -> torch.Tensor:
        """Per-layer latents ``(B, n_latent, D_style)``: lip layers ``f_id + f_lip``, the others
        ``f_id + f_m``. ``f_lip`` None = ``f_m`` (reconstruction stage: no audio yet)."""
        other = (f_id + f_m)[:, None]
        lip = other if f_lip is None else (f_id + f_lip)[:, None]
        return torch.where(self.lip_mask[None, :, None], lip, other)

    def decode(self, source: Encoded, f_m: torch.Tensor, f_lip: torch.Tensor | None = None) -> torch.Tensor:
        """Render ``source`` with motion ``f_m (B, D_style)`` [and lip motion ``f_lip (B, D_style)``]
        -> ``(B, 3, size, size)`` in ~[-1, 1]."""
        base = source.f_id if self.cfg.base_latent == "f_id" else source.f
        return self.generator(self.layer_latents(base, f_m, f_lip), source.maps)

    def forward(self, source: torch.Tensor, driving: torch.Tensor) -> torch.Tensor:
        """Self-reenactment: ``source``, ``driving (B, 3, size, size)`` -> the source with the
        driving frame's motion ``(B, 3, size, size)``."""
        return self.decode(self.encode(source), self.encode(driving).f_m)

    def parameter_counts(self) -> dict[str, int]:
        return {name: sum(p.numel() for p in getattr(self, name).parameters())
                for name in ("encoder", "motion", "basis", "generator")}

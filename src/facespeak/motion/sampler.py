"""Motion sampler (TTSF §3.3): OT-CFM over motion-normaliser codes with a Conformer prior mean.

Training (one step, all parts jointly; losses in :meth:`MotionSampler.losses`):
  - auto-encoder MSE of the normaliser (non-lip motion -> ``f_c`` -> motion);
  - prior: a Conformer maps the per-frame speech condition (B, T_video, D_cond) to ``mu``,
    regressed onto ``f_c`` (MSE, like Matcha-TTS's prior loss);
  - OT-CFM (sigma_min 1e-4; :mod:`facespeak.core.flow_matching`) with the source Gaussian
    ``N(mu, I)``: ``x_0 = mu + eps``, the velocity Conformer sees ``(x_t, mu, cond)`` and the
    flow time. ``f_c`` and ``mu`` are detached for the flow and prior targets, so each part
    learns from its own loss.

Sampling: ``x_0 = mu + temperature * eps`` from an explicit ``torch.Generator``, Euler steps
(configurable; default 10), decode with the normaliser.

Long sequences (:func:`generate_codes`): windows of ``window`` frames (the training clip
length, 32); each window after the first overlaps the already generated frames by at least
``context`` frames and is *inpainted*: its context frames follow the exact OT path from the
window's own noise to the known codes (their velocity is the closed-form path velocity, so
they arrive at the known values at t = 1), while the network generates the rest seeing that
context at every step. Only the first ``context - context // 2`` overlap frames are held
exactly; the last ``context // 2`` overlap frames are generated afresh and cross-faded linearly
from the old values to the new ones (inpainting alone left a small kink where the held frames
meet the generated ones: pose acceleration at joins 1.3x the average, vs 2.2x for windows
without context). A window keeps all but its last ``context // 2`` frames (those were
generated at the zero-padded edge with no look-ahead; the next window regenerates them); the
last window is aligned to the sequence end (more context, never a short window). Codes are then
decoded in one pass by the convolutional decoder. See :func:`window_plan`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..core.errors import InputError
from ..core.flow_matching import OTPath, cfm_loss, euler_solve
from .conformer import Conformer, ConformerConfig
from .normaliser import MotionNormaliser, MotionNormaliserConfig

__all__ = ["MotionSamplerConfig", "SamplingOptions", "MotionSampler", "generate_codes", "generate_motion",
           "sampler_condition", "window_plan", "D_COND"]

D_COND = 5  # lip amounts (4) + energy


@dataclass
class MotionSamplerConfig:
    normaliser: MotionNormaliserConfig = field(default_factory=MotionNormaliserConfig)
    prior: ConformerConfig = field(default_factory=ConformerConfig)
    estimator: ConformerConfig = field(default_factory=ConformerConfig)
    d_cond: int = D_COND
    sigma_min: float = 1e-4
    window: int = 32  # training clip length = generation window
    context: int = 8  # minimum overlap with already generated frames
    steps: int = 10

    @classmethod
    def tiny(cls) -> "MotionSamplerConfig":
        return cls(normaliser=MotionNormaliserConfig.tiny(), prior=ConformerConfig.tiny(),
                   estimator=ConformerConfig.tiny(), window=8, context=2, steps=2)

    @classmethod
    def default(cls) -> "MotionSamplerConfig":
        return cls()

    @classmethod
    def paper(cls) -> "MotionSamplerConfig":
        return cls(normaliser=MotionNormaliserConfig(d_code=16, hidden=128), prior=ConformerConfig.paper(),
                   estimator=ConformerConfig.paper())


@dataclass(frozen=True)
class SamplingOptions:
    steps: int | None = None  # Euler steps (None = config default)
    temperature: float = 1.0  # scale of eps around mu
    window: int | None = None
    context: int | None = None


def _time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of flow times t (B,) in [0, 1] -> (B, dim) (Vaswani et al. 2017)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=t.dtype) / max(half - 1, 1))
    ang = 1000.0 * t[:, None] * freqs[None]
    return torch.cat([ang.sin(), ang.cos()], dim=1)


class MotionSampler(nn.Module):
    """Normaliser + Conformer prior + Conformer velocity network. Buffers ``cond_mean`` / ``cond_std``."""

    def __init__(self, cfg: MotionSamplerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d_code = cfg.normaliser.d_code
        self.register_buffer("cond_mean", torch.zeros(cfg.d_cond))
        self.register_buffer("cond_std", torch.ones(cfg.d_cond))
        self.normaliser = MotionNormaliser(cfg.normaliser)
        self.prior = Conformer(cfg.prior, cfg.d_cond, d_code)
        d = cfg.estimator.d_model
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.estimator = Conformer(cfg.estimator, 2 * d_code + cfg.d_cond, d_code)
        self.path = OTPath(cfg.sigma_min)

    def set_cond_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.cond_mean.copy_(mean)
        self.cond_std.copy_(std.clamp_min(1e-3))

    def _cond(self, cond: torch.Tensor) -> torch.Tensor:
        if cond.dim() != 3 or cond.shape[-1] != self.cfg.d_cond:
            raise InputError(f"motion sampler: expected condition (B, T_video, {self.cfg.d_cond}), got {tuple(cond.shape)}")
        return (cond - self.cond_mean) / self.cond_std

    def prior_mean(self, cond: torch.Tensor) -> torch.Tensor:
        """Speech condition (B, T_video, D_cond) -> mu (B, T_video, D_code)."""
        return self.prior(self._cond(cond))

    def velocity(self, x: torch.Tensor, t: torch.Tensor, mu: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x_t, mu (B, T_video, D_code), t (B,), cond (B, T_video, D_cond) -> dx/dt (B, T_video, D_code)."""
        temb = self.time_mlp(_time_embedding(t, self.cfg.estimator.d_model))[:, None]
        return self.estimator(torch.cat([x, mu, self._cond(cond)], dim=-1), temb)

    def losses(self, motion: torch.Tensor, cond: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """motion (B, T_video, 8) physical units, cond (B, T_video, D_cond) -> {"ae", "prior", "cfm"}."""
        ae, code = self.normaliser.loss(motion, generator)
        target = code.detach()
        mu = self.prior_mean(cond)
        prior = ((mu - target) ** 2).mean()
        mu_d = mu.detach()
        mask = torch.ones(motion.shape[0], 1, motion.shape[1], device=motion.device, dtype=motion.dtype)
        cfm = cfm_loss(lambda x, t: self.velocity(x.transpose(1, 2), t, mu_d, cond).transpose(1, 2),
                       target.transpose(1, 2), mask, generator, self.path, mu0=mu_d.transpose(1, 2))
        return {"ae": ae, "prior": prior, "cfm": cfm}

    def forward(self, motion: torch.Tensor, cond: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        return self.losses(motion, cond, generator)


def _sample_window(model: MotionSampler, cond: torch.Tensor, known: torch.Tensor | None, generator: torch.Generator,
                   steps: int, temperature: float) -> torch.Tensor:
    """One window: cond (B, W, D_cond), known codes (B, c, D_code) for its first c frames -> (B, W, D_code)."""
    mu = model.prior_mean(cond)
    x0 = mu + temperature * torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    c = 0 if known is None else known.shape[1]
    u_known = model.path.target_velocity(x0[:, :c], known) if c else None

    def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = model.velocity(x, t, mu, cond)
        return torch.cat([u_known, out[:, c:]], dim=1) if c else out

    x = euler_solve(v, x0, steps)
    return torch.cat([known, x[:, c:]], dim=1) if c else x


def window_plan(t_total: int, window: int, context: int, known: int = 0) -> list[tuple[int, int, int]]:
    """Windows for a ``t_total``-frame sequence: ``(start, known_end, commit_end)`` per window.

    Frames ``[start, known_end)`` are context (already generated), ``[known_end, commit_end)``
    are kept from this window. A window that is not the last drops its final ``context // 2``
    frames (generated with the least look-ahead, at the zero-padded edge) and the next window
    regenerates them; the last window is aligned to the sequence end. ``known``: the first
    ``known`` frames are already generated (a continued sequence, :func:`generate_codes`)."""
    margin = context // 2
    if t_total <= window:
        return [(0, known, t_total)]
    plan = [(0, known, window - margin)]
    while plan[-1][2] < t_total:
        end = plan[-1][2]
        start = min(end - context, t_total - window)
        last = start + window >= t_total
        plan.append((start, end, t_total if last else start + window - margin))
    return plan


@torch.no_grad()
def generate_codes(model: MotionSampler, cond: torch.Tensor, generator: torch.Generator,
                   opts: SamplingOptions = SamplingOptions(), known: torch.Tensor | None = None) -> torch.Tensor:
    """Speech condition (B, T_video, D_cond) -> codes f_c (B, T_video, D_code), windowed (module doc).

    ``known`` (B, c, D_code): codes already generated for the first c frames of ``cond`` (a
    sequence continued piece by piece, as streaming does): they are the first window's context,
    held like the context of any later window (the last ``context // 2`` of them cross-faded)."""
    cfg = model.cfg
    steps, win, ctx = opts.steps or cfg.steps, opts.window or cfg.window, opts.context or cfg.context
    if not 1 <= steps <= 200:
        raise InputError(f"motion sampler steps: expected 1..200, got {steps}")
    if not (0 < ctx and ctx + ctx // 2 < win):
        raise InputError(f"motion sampler: expected 0 < 1.5 * context < window, got context {ctx}, window {win}")
    codes = known if known is not None and known.shape[1] else None
    blend = ctx // 2
    for start, known_end, commit_end in window_plan(cond.shape[1], win, ctx, 0 if codes is None else codes.shape[1]):
        hard_end = max(start, known_end - blend) if codes is not None else start
        known = codes[:, start:hard_end] if hard_end > start else None
        new = _sample_window(model, cond[:, start:start + win], known, generator, steps, opts.temperature)
        if codes is None:
            codes = new[:, :commit_end]
            continue
        w = (torch.arange(1, known_end - hard_end + 1, dtype=new.dtype) / (known_end - hard_end + 1))[None, :, None]
        mixed = (1 - w) * codes[:, hard_end:known_end] + w * new[:, hard_end - start:known_end - start]
        codes = torch.cat([codes[:, :hard_end], mixed, new[:, known_end - start:commit_end - start]], dim=1)
    return codes


@torch.no_grad()
def generate_motion(model: MotionSampler, cond: torch.Tensor, generator: torch.Generator,
                    opts: SamplingOptions = SamplingOptions()) -> torch.Tensor:
    """Speech condition (B, T_video, D_cond) -> non-lip motion (B, T_video, 8): yaw, pitch, roll
    (deg), tx, ty (cm), blink right/left and brow raise (clamped to [0, 1])."""
    motion = model.normaliser.decode(generate_codes(model, cond, generator, opts))
    return torch.cat([motion[..., :5], motion[..., 5:].clamp(0.0, 1.0)], dim=-1)


def sampler_condition(lips: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
    """lips (B, T_video, 4) amounts + energy (B, T_video, 1) ``||f~_t||`` -> cond (B, T_video, 5)."""
    if lips.shape[:2] != energy.shape[:2]:
        raise InputError(f"motion sampler: lips {tuple(lips.shape)} and energy {tuple(energy.shape)} differ in (B, T_video)")
    return torch.cat([lips, energy], dim=-1)

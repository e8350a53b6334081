"""Optimal-transport conditional flow matching (OT-CFM) and ODE solvers, shared by TTS and motion.

Path (Lipman et al. 2023; Matcha-TTS, Mehta et al. 2024, eq. 3-4; TTSF's motion sampler):
    x_t = (1 - (1 - sigma_min) t) x_0 + t x_1,      x_0 ~ N(mu0, I) (mu0 = 0 for TTS)
    u_t = x_1 - (1 - sigma_min) x_0                  (target velocity, independent of t)

Solvers are pure functions of a velocity function ``v(x, t) -> dx/dt`` and take an explicit
``torch.Generator`` for their noise: no global RNG, no state between calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["OTPath", "cfm_loss", "euler_solve", "midpoint_solve", "sample_noise"]

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class OTPath:
    """The OT conditional probability path with minimum noise ``sigma_min``."""

    sigma_min: float = 1e-4

    def sample(self, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Point on the path. ``t`` broadcasts against ``x0`` (e.g. shape (B, 1, 1))."""
        return (1.0 - (1.0 - self.sigma_min) * t) * x0 + t * x1

    def target_velocity(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """d x_t / d t along the path (constant in t)."""
        return x1 - (1.0 - self.sigma_min) * x0


def cfm_loss(
    velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x1: torch.Tensor,
    mask: torch.Tensor,
    generator: torch.Generator | None = None,
    path: OTPath = OTPath(),
    mu0: torch.Tensor | None = None,
) -> torch.Tensor:
    """Masked OT-CFM regression loss for a batch.

    Args:
        velocity: ``v(x_t, t)`` with ``x_t`` shaped like ``x1`` and ``t`` of shape (B,).
        x1: data, (B, C, T) (channels-first sequences, e.g. mels (B, n_mels, T_mel)).
        mask: (B, 1, T), 1 for valid frames.
        mu0: optional mean of the source Gaussian (TTSF's motion prior), shaped like ``x1``.
    Returns: scalar loss = sum of squared error over valid entries / (valid frames * C).
    """
    b = x1.shape[0]
    t = torch.rand(b, device=x1.device, dtype=x1.dtype, generator=generator)
    x0 = torch.randn(x1.shape, device=x1.device, dtype=x1.dtype, generator=generator)
    if mu0 is not None:
        x0 = x0 + mu0
    tb = t.view(b, *([1] * (x1.dim() - 1)))
    xt = path.sample(x0, x1, tb)
    u = path.target_velocity(x0, x1)
    v = velocity(xt, t)
    err = (v - u) ** 2 * mask
    return err.sum() / (mask.sum() * x1.shape[1]).clamp_min(1.0)


def sample_noise(
    shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32, temperature: float = 1.0,
) -> torch.Tensor:
    """Gaussian start point ``temperature * N(0, I)``, drawn from ``generator`` only."""
    return torch.randn(shape, generator=generator, device=device, dtype=dtype) * temperature


def euler_solve(velocity: VelocityFn, x0: torch.Tensor, n_steps: int, t0: float = 0.0, t1: float = 1.0) -> torch.Tensor:
    """Fixed-step Euler integration of dx/dt = v(x, t) from t0 to t1 (``n_steps`` >= 1)."""
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    x = x0
    dt = (t1 - t0) / n_steps
    b = x0.shape[0]
    for i in range(n_steps):
        t = torch.full((b,), t0 + i * dt, device=x0.device, dtype=x0.dtype)
        x = x + dt * velocity(x, t)
    return x


def midpoint_solve(velocity: VelocityFn, x0: torch.Tensor, n_steps: int, t0: float = 0.0, t1: float = 1.0) -> torch.Tensor:
    """Second-order midpoint integration (2 velocity calls per step)."""
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    x = x0
    dt = (t1 - t0) / n_steps
    b = x0.shape[0]
    for i in range(n_steps):
        t = torch.full((b,), t0 + i * dt, device=x0.device, dtype=x0.dtype)
        xm = x + 0.5 * dt * velocity(x, t)
        x = x + dt * velocity(xm, t + 0.5 * dt)
    return x

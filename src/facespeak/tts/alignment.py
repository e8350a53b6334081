"""Monotonic alignment search (Glow-TTS, Kim et al. 2020, Alg. 1) and duration -> path helpers."""

from __future__ import annotations

import functools

import numpy as np
import torch

__all__ = ["monotonic_alignment_search", "durations_to_path", "sequence_mask", "beta_binomial_log_prior"]


def sequence_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """lengths (B,) -> bool mask (B, max_len)."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


@functools.cache
def _mas_kernel():
    """:func:`_mas_single` compiled by numba (~100x faster; present via librosa/resemblyzer but
    optional), imported on the first alignment only: importing numba costs ~0.25 s of every
    process start, and synthesis never aligns."""
    from ..core.jit import njit  # lazy: imports numba (or its plain-Python stand-in)

    return njit(cache=True)(_mas_single)


def _mas_single(logp: np.ndarray, t_x: int, t_y: int, out: np.ndarray) -> None:  # pragma: no cover - jitted
    neg = -1e9
    v = np.full((t_x, t_y), neg, dtype=np.float32)
    for j in range(t_y):
        for i in range(max(0, t_x - (t_y - j)), min(t_x, j + 1)):
            if j == 0:
                cur = 0.0 if i == 0 else neg
            else:
                stay = v[i, j - 1]
                move = v[i - 1, j - 1] if i > 0 else neg
                cur = stay if stay >= move else move
            v[i, j] = cur + logp[i, j]
    i = t_x - 1
    for j in range(t_y - 1, -1, -1):
        out[i, j] = 1.0
        if i > 0 and (i == j or v[i, j - 1] < v[i - 1, j - 1]):
            i -= 1


@torch.no_grad()
def monotonic_alignment_search(logp: torch.Tensor, x_lengths: torch.Tensor, y_lengths: torch.Tensor) -> torch.Tensor:
    """Most likely monotonic hard alignment.

    Args:
        logp: (B, T_text, T_mel) log-likelihood of mel frame j under token i.
        x_lengths, y_lengths: (B,) valid lengths (requires y_length >= x_length).
    Returns: path (B, T_text, T_mel) with exactly one token per valid mel frame.
    """
    lp = logp.detach().float().cpu().numpy()
    out = np.zeros_like(lp, dtype=np.float32)
    for b in range(lp.shape[0]):
        tx, ty = int(x_lengths[b]), int(y_lengths[b])
        _mas_kernel()(np.ascontiguousarray(lp[b, :tx, :ty]), tx, ty, out[b, :tx, :ty])
    return torch.from_numpy(out).to(logp.device)


def durations_to_path(durations: torch.Tensor, x_mask: torch.Tensor, y_mask: torch.Tensor) -> torch.Tensor:
    """Integer durations (B, T_text) -> alignment path (B, T_text, T_mel) (token i covers its frames)."""
    cum = torch.cumsum(durations, dim=1)  # (B, T_text)
    t_y = y_mask.shape[-1]
    frames = torch.arange(t_y, device=durations.device)[None, None, :]
    end = cum[:, :, None]
    start = (cum - durations)[:, :, None]
    path = ((frames >= start) & (frames < end)).to(x_mask.dtype)
    return path * x_mask.reshape(x_mask.shape[0], -1, 1) * y_mask.reshape(y_mask.shape[0], 1, -1)


@functools.lru_cache(maxsize=16384)
def _beta_binomial_log_prior_np(t_text: int, t_mel: int, scale: float) -> np.ndarray:
    from scipy.special import gammaln

    def log_beta(x, y):
        return gammaln(x) + gammaln(y) - gammaln(x + y)

    n = t_text - 1
    k = np.arange(t_text, dtype=np.float64)[:, None]
    j = np.arange(1, t_mel + 1, dtype=np.float64)[None, :]
    # frame j's distribution over tokens: BetaBinomial(n=T_text-1, a=scale*j, b=scale*(T_mel-j+1))
    a, b = scale * j, scale * (t_mel - j + 1)
    log_choose = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    return (log_choose + log_beta(k + a, n - k + b) - log_beta(a, b)).astype(np.float32)


def beta_binomial_log_prior(x_lengths: torch.Tensor, y_lengths: torch.Tensor, t_text: int, t_mel: int,
                            scale: float = 1.0) -> torch.Tensor:
    """Static near-diagonal alignment prior (Badlani et al. 2022, "One TTS Alignment to Rule Them
    All", eq. 5): log P(token i | frame j) for each item, (B, T_text, T_mel), 0 outside lengths.
    Added to the MAS log-likelihood it keeps early alignments from collapsing onto a few tokens."""
    out = torch.zeros(len(x_lengths), t_text, t_mel)
    for b, (tx, ty) in enumerate(zip(x_lengths.tolist(), y_lengths.tolist())):
        out[b, :tx, :ty] = torch.from_numpy(_beta_binomial_log_prior_np(int(tx), int(ty), float(scale)))
    return out

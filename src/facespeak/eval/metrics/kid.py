"""Kernel inception distance between two feature sets (KID; Bińkowski et al. 2018, "Demystifying
MMD GANs", §3 and App. D).

KID is the squared maximum mean discrepancy (MMD²) between the sets under the cubic polynomial
kernel ``k(x, y) = (x . y / D + 1)^3``, with the unbiased estimator

    MMD²_u = mean_{i != j} k(a_i, a_j) + mean_{i != j} k(b_i, b_j) - 2 mean_{i, j} k(a_i, b_j),

averaged over ``n_subsets`` random subsets of ``subset_size`` items drawn from each set (without
replacement within a subset), as the paper's reference code does; the spread over subsets is
reported beside the mean. Unlike FID it is unbiased, so small sets (a few hundred mouth crops)
compare fairly, and it can come out slightly below 0 for sets from the same distribution.
Features: Inception pool3 (:func:`facespeak.eval.features.inception_features`, 2048-d).
"""

from __future__ import annotations

import numpy as np

from facespeak.core.errors import InputError

__all__ = ["polynomial_mmd2", "kernel_inception_distance"]


def _kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def polynomial_mmd2(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Unbiased MMD² of ``(m, D)`` and ``(n, D)`` features (m, n >= 2) under the cubic kernel."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise InputError(f"expected two feature sets (N >= 2, D) with the same D, got {a.shape} and {b.shape}")
    m, n = len(a), len(b)
    kaa, kbb, kab = _kernel(a, a), _kernel(b, b), _kernel(a, b)
    within_a = (kaa.sum() - np.trace(kaa)) / (m * (m - 1))
    within_b = (kbb.sum() - np.trace(kbb)) / (n * (n - 1))
    return float(within_a + within_b - 2.0 * kab.mean())


def kernel_inception_distance(features_a: np.ndarray, features_b: np.ndarray, subset_size: int = 100,
                              n_subsets: int = 50, seed: int = 0) -> tuple[float, float]:
    """KID of ``(N_a, D)`` and ``(N_b, D)`` features -> ``(mean, std)`` of MMD² over subsets.

    Each subset takes ``min(subset_size, N_a, N_b)`` items of each set at random (seeded by
    ``seed``: same inputs -> same numbers)."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    size = min(int(subset_size), len(a), len(b))
    if size < 2 or n_subsets < 1:
        raise InputError(f"KID: expected subsets of >= 2 items from each set, got sets of {len(a)} and {len(b)} "
                         f"with subset_size {subset_size}, n_subsets {n_subsets}")
    rng = np.random.default_rng(seed)
    values = [polynomial_mmd2(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
              for _ in range(int(n_subsets))]
    return float(np.mean(values)), float(np.std(values))

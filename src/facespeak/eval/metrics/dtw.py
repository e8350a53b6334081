"""Dynamic time warping between two feature sequences (pure numpy).

Symmetric step pattern {(1, 0), (0, 1), (1, 1)} with unit weights and no band constraint
(Sakoe & Chiba 1978, without slope limits): the accumulated cost is

    D[i, j] = C[i, j] + min(D[i-1, j-1], D[i-1, j], D[i, j-1]),

filled one anti-diagonal at a time so that each step is a vectorised numpy operation (cells on
anti-diagonal ``k = i + j`` depend only on diagonals ``k-1`` and ``k-2``).
"""

from __future__ import annotations

import numpy as np

from facespeak.core.errors import InputError

__all__ = ["pairwise_euclidean", "dtw_path"]


def pairwise_euclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of ``a`` (T_a, D) and ``b`` (T_b, D) -> (T_a, T_b)."""
    from scipy.spatial.distance import cdist

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise InputError(f"expected (T_a, D) and (T_b, D) features, got shapes {a.shape} and {b.shape}")
    return cdist(a, b)  # exact: identical rows give exactly 0


def _accumulate(cost: np.ndarray) -> np.ndarray:
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for k in range(2, n + m + 1):  # k = i + j in 1-based accumulated coordinates
        i = np.arange(max(1, k - m), min(n, k - 1) + 1)
        j = k - i
        best = np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
        acc[i, j] = cost[i - 1, j - 1] + best
    return acc


def dtw_path(cost: np.ndarray) -> tuple[np.ndarray, float]:
    """Minimum-cost monotonic alignment of a local cost matrix.

    Args:
        cost: ``(T_a, T_b)`` non-negative local costs (e.g. :func:`pairwise_euclidean`).

    Returns:
        ``(path, total)``: ``path`` is ``(T_path, 2)`` int index pairs ``(i, j)`` from ``(0, 0)``
        to ``(T_a - 1, T_b - 1)``, each step advancing i, j or both by one;
        ``total`` is the summed cost along the path.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2 or min(cost.shape) == 0:
        raise InputError(f"expected a non-empty (T_a, T_b) cost matrix, got shape {cost.shape}")
    acc = _accumulate(cost)
    i, j = cost.shape
    path = [(i - 1, j - 1)]
    while (i, j) != (1, 1):
        moves = ((i - 1, j - 1), (i - 1, j), (i, j - 1))
        i, j = min(moves, key=lambda ij: acc[ij])
        path.append((i - 1, j - 1))
    return np.asarray(path[::-1], dtype=np.int64), float(acc[-1, -1])

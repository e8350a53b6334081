"""Kernel inception distance (facespeak.eval.metrics.kid) on small feature sets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from facespeak.core.errors import InputError
from facespeak.eval.metrics import kernel_inception_distance, polynomial_mmd2


def _mmd2_by_loops(a: np.ndarray, b: np.ndarray) -> float:
    """The unbiased estimator written out pair by pair (Bińkowski et al. 2018, eq. for MMD²_u)."""
    d = a.shape[1]
    k = lambda x, y: (float(np.dot(x, y)) / d + 1.0) ** 3  # noqa: E731
    m, n = len(a), len(b)
    aa = sum(k(a[i], a[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    bb = sum(k(b[i], b[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    ab = sum(k(x, y) for x in a for y in b) / (m * n)
    return aa + bb - 2 * ab


def test_mmd2_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)), rng.normal(0.5, 1.0, size=(4, 3))
    assert polynomial_mmd2(a, b) == pytest.approx(_mmd2_by_loops(a, b), rel=1e-10)
    # 1-D by hand: a = {0, 1}, b = {2, 3}: k(x, y) = (xy + 1)^3
    one = polynomial_mmd2(np.array([[0.0], [1.0]]), np.array([[2.0], [3.0]]))
    by_hand = (1 + 1) / 2 + (343 + 343) / 2 - 2 * (1 + 1 + 27 + 64) / 4  # within a, within b, across
    assert one == pytest.approx(by_hand)


def test_kid_near_zero_for_one_distribution_and_grows_with_the_shift():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(200, 16)), rng.normal(size=(200, 16))
    same, same_std = kernel_inception_distance(x, y, subset_size=50, n_subsets=20)
    near, _ = kernel_inception_distance(x, y + 0.3, subset_size=50, n_subsets=20)
    far, _ = kernel_inception_distance(x, y + 1.0, subset_size=50, n_subsets=20)
    assert abs(same) < 3 * same_std + 1e-3
    assert same < near < far
    assert kernel_inception_distance(x, y, 50, 20, seed=3) == kernel_inception_distance(x, y, 50, 20, seed=3)


def test_kid_refuses_sets_too_small():
    with pytest.raises(InputError):
        kernel_inception_distance(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(InputError):
        polynomial_mmd2(np.zeros((3, 4)), np.zeros((3, 5)))

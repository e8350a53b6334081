"""Face metrics as pure functions: ID-SIM, identity-feature clustering (Fig. 5), voice-face gender.

- **ID-SIM** (the paper's Table 1): cosine similarity between the face-recognition descriptor of
  the source portrait and of each output frame, averaged over frames. We use dlib's 128-d
  ResNet descriptor (``face_recognition_models``); its native measure, the Euclidean distance
  (same person < 0.6, typically 0.34-0.44; different 0.74-0.92), is reported beside it.
- **Identity-feature clustering** (the paper's Fig. 5: speaker features of one person scatter
  across frames unless motion is removed): for features ``(N, D)`` of several identities over
  many frames, the within-identity share of the total variance, ``sum_i |x_i - mean_{id(i)}|^2 /
  sum_i |x_i - mean|^2`` (0 = every identity a point, 1 = identity explains nothing), and a 2-D
  PCA projection for the plot.
- **Voice-face gender agreement**: the voice's median-F0 range
  (:func:`facespeak.eval.metrics.speech.f0_gender_range`) equals the face's apparent gender.
"""

from __future__ import annotations

import numpy as np

from facespeak.core.errors import InputError

from .speech import f0_gender_range

__all__ = ["identity_similarity", "within_identity_variance", "pca_2d", "gender_agrees"]


def identity_similarity(source: np.ndarray, frames: np.ndarray) -> dict[str, float]:
    """ID-SIM of ``(D,)`` source descriptor vs ``(N, D)`` frame descriptors.

    Returns:
        ``{"id_sim": mean cosine, "id_sim_min": worst frame's cosine, "id_distance": mean
        Euclidean distance, "id_frames": N}`` (``nan`` values when ``N == 0``).
    """
    src = np.asarray(source, np.float64).reshape(-1)
    fr = np.asarray(frames, np.float64)
    if fr.ndim != 2 or fr.shape[1] != src.size:
        raise InputError(f"expected frame descriptors (N, {src.size}), got shape {fr.shape}")
    if len(fr) == 0:
        return {"id_sim": float("nan"), "id_sim_min": float("nan"), "id_distance": float("nan"), "id_frames": 0}
    norms = np.linalg.norm(fr, axis=1) * np.linalg.norm(src)
    if np.any(norms < 1e-12):
        raise InputError("expected non-zero face descriptors, got a zero vector")
    cos = np.clip(fr @ src / norms, -1.0, 1.0)
    return {"id_sim": float(cos.mean()), "id_sim_min": float(cos.min()),
            "id_distance": float(np.linalg.norm(fr - src, axis=1).mean()), "id_frames": int(len(fr))}


def within_identity_variance(features: np.ndarray, labels: list[str] | np.ndarray) -> float:
    """Within-identity share of total variance of ``(N, D)`` features with ``N`` labels, in [0, 1]."""
    x = np.asarray(features, np.float64)
    lab = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(lab) or len(x) < 2:
        raise InputError(f"expected (N >= 2, D) features and N labels, got {x.shape} and {len(lab)} labels")
    total = float(np.sum((x - x.mean(axis=0)) ** 2))
    if total <= 1e-20:
        return 0.0
    within = sum(float(np.sum((x[lab == k] - x[lab == k].mean(axis=0)) ** 2)) for k in np.unique(lab))
    return within / total


def pca_2d(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, D)`` -> (``(N, 2)`` projection on the first two principal axes, ``(2,)`` explained
    variance ratios). Columns beyond the rank are 0."""
    x = np.asarray(features, np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise InputError(f"expected (N >= 2, D) features, got shape {x.shape}")
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, len(s))
    proj = np.zeros((len(x), 2))
    proj[:, :k] = centred @ vt[:k].T
    var = s**2
    ratio = np.zeros(2)
    ratio[:k] = var[:k] / var.sum() if var.sum() > 0 else 0.0
    return proj, ratio


def gender_agrees(median_f0_hz: float, face_gender: str) -> bool | None:
    """Whether a voice's median F0 (Hz) lies in the range of the face's apparent gender
    (``'male'`` / ``'female'``); ``None`` when the face's gender is unknown."""
    if face_gender not in ("male", "female"):
        return None
    return f0_gender_range(median_f0_hz) == face_gender

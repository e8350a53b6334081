"""JSON-ready description of the faces in a photo: what `facespeak faces` prints and what the
server's ``/api/faces`` answers (one implementation for both).

Each face: box/size px, detector score, yaw/pitch/roll deg, whether it is large enough, a
profile, animatable by `say` (:func:`facespeak.face.analysis.animatable_problem`), the default
(:func:`facespeak.face.analysis.default_face_index`: the largest face that can be animated), and
optionally the apparent gender/age.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .analysis import MIN_FACE_SIDE, Face, animatable_problem, default_face_index
from .gender import estimate_gender

__all__ = ["describe_face", "describe_faces"]


def describe_face(image: np.ndarray, index: int, face: Face, with_gender: bool, min_side: int = MIN_FACE_SIDE,
                  default: int = 0) -> dict[str, Any]:
    """One face of ``image`` (H, W, 3) uint8 RGB as a JSON-ready dict (angles in degrees)."""
    yaw, pitch, roll = face.pose
    row = {"index": index, "box": [round(v) for v in face.box], "size": [round(face.width), round(face.height)],
           "score": round(face.score, 3), "yaw": round(yaw, 1), "pitch": round(pitch, 1), "roll": round(roll, 1),
           "usable": face.short_side >= min_side, "profile": face.is_profile(), "animatable": animatable_problem(face) is None,
           "default": index == default}
    if with_gender:
        est = estimate_gender(image, face)
        row.update(gender=est.label, p_female=round(est.p_female, 3), age=round(est.age, 1))
    return row


def describe_faces(image: np.ndarray, faces: list[Face], with_gender: bool = True,
                   min_side: int = MIN_FACE_SIDE) -> dict[str, Any]:
    """``{"width", "height", "default_index", "faces": [describe_face(...) ...]}`` for ``faces``
    (from :func:`facespeak.face.analysis.analyse_faces`, largest first; not empty)."""
    default = default_face_index(faces)
    h, w = image.shape[:2]
    return {"width": w, "height": h, "default_index": default,
            "faces": [describe_face(image, i, f, with_gender, min_side, default) for i, f in enumerate(faces)]}

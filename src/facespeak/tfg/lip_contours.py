"""The inner-lip contour of a 478-point face mesh and what the mouth interior is measured on:
the polygon the lips enclose, their opening, one lip edge from corner to corner, and a mask of
a polygon. Pure functions of ``(478, 2)`` landmark px."""

from __future__ import annotations

import cv2
import numpy as np

from . import mesh_topology as mt

__all__ = ["inner_lip_polygon", "lip_opening", "lip_line", "polygon_mask", "grown_polygon"]


def inner_lip_polygon(landmarks: np.ndarray) -> np.ndarray:
    """``(20, 2)`` inner-lip contour (corner, upper lip, corner, lower lip back) from ``(478, 2)``."""
    left, right = mt.MOUTH_CORNERS_INNER
    idx = [left, *mt.LIP_UPPER_INNER, right, *reversed(mt.LIP_LOWER_INNER)]
    return landmarks[idx]


def lip_opening(landmarks: np.ndarray) -> float:
    """Lip opening in px: mean distance of the three middle inner-lip pairs of ``(478, 2)``."""
    pairs = mt.INNER_LIP_PAIRS[3:6]
    return float(np.mean([np.linalg.norm(landmarks[lo] - landmarks[up]) for up, lo in pairs]))


def polygon_mask(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    """``(h, w) float32`` anti-aliased 0-1 mask of ``polygon (N, 2)`` px (1/16 px precision)."""
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(polygon * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    return m.astype(np.float32) / 255.0


def lip_line(lm: np.ndarray, inner: tuple[int, ...]) -> np.ndarray:
    """``(len(inner) + 2, 2)`` one inner lip edge from corner to corner (``mt.LIP_UPPER_INNER``
    or ``mt.LIP_LOWER_INNER``)."""
    return lm[[mt.MOUTH_CORNERS_INNER[0], *inner, mt.MOUTH_CORNERS_INNER[1]]]


def grown_polygon(poly: np.ndarray, factor: float) -> np.ndarray:
    """``poly (N, 2)`` scaled by ``factor`` about its mean point."""
    centre = poly.mean(axis=0)
    return centre + (poly - centre) * factor

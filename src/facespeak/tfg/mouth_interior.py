"""Paint the inside of the mouth where the warped lips part.

The warp stretches whatever the photo had between the lips (usually a thin dark line, or the
teeth of a smiling photo) over the new opening. Where the lips open *beyond* the portrait's own
opening, we paint, inside the inner-lip polygon, in this order:

1. a dark cavity whose rim takes a little of the lips' own colour (shaded towards the back);
2. a tongue hint: a dull red ellipse resting on the lower lip, visible when the mouth is open;
3. an upper-teeth hint: an off-white band hanging from the upper lip, at most 30 % of the
   opening and ~9 % of the mouth width high, fading towards the corners.

Every layer is an anti-aliased polygon/ellipse mask softened by a blur of ~1 % of the mouth
width and blended with strength that ramps with the *extra* opening (so a closed mouth is
untouched, and zero motion returns the photo unchanged). Colours are scaled by the face's
brightness so teeth do not glow in dark photos, and tinted by half the photo's colour cast
(within 15 %) so they do not look blue in warm light. All work happens in a small box around the
mouth (about 1 ms per frame at 512 px).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import mesh_topology as mt

__all__ = ["MouthStyle", "paint_mouth_interior", "inner_lip_polygon", "lip_opening"]


@dataclass(frozen=True)
class MouthStyle:
    """Colours (RGB 0-255, for a face of mean brightness ~150) and proportions."""

    cavity_rgb: tuple[int, int, int] = (44, 14, 16)
    tongue_rgb: tuple[int, int, int] = (128, 52, 56)
    teeth_rgb: tuple[int, int, int] = (206, 198, 184)
    teeth_fraction: float = 0.25  # of the opening
    teeth_max_width_fraction: float = 0.07  # of the mouth width
    ramp_width_fraction: float = 0.03  # extra opening (of mouth width) for full strength

    @classmethod
    def tiny(cls) -> "MouthStyle":
        return cls()


def inner_lip_polygon(landmarks: np.ndarray) -> np.ndarray:
    """``(20, 2)`` inner-lip contour (corner, upper lip, corner, lower lip back) from ``(478, 2)``."""
    left, right = mt.MOUTH_CORNERS_INNER
    idx = [left, *mt.LIP_UPPER_INNER, right, *reversed(mt.LIP_LOWER_INNER)]
    return landmarks[idx]


def lip_opening(landmarks: np.ndarray) -> float:
    """Lip opening in px: mean distance of the three middle inner-lip pairs of ``(478, 2)``."""
    pairs = mt.INNER_LIP_PAIRS[3:6]
    return float(np.mean([np.linalg.norm(landmarks[lo] - landmarks[up]) for up, lo in pairs]))


def _mask(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(polygon * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    return m.astype(np.float32) / 255.0


def paint_mouth_interior(frame: np.ndarray, landmarks: np.ndarray, rest_opening: float,
                         style: MouthStyle) -> np.ndarray:
    """Paint the mouth interior into a copy of ``frame``.

    Args:
        frame: ``(H, W, 3) uint8`` RGB, the warped frame.
        landmarks: ``(478, 2)`` its mesh in frame px.
        rest_opening: the portrait's own lip opening in px (painting starts beyond it).
        style: colours and proportions.

    Returns:
        ``(H, W, 3) uint8``; ``frame`` itself (not a copy) when nothing needs painting.
    """
    corners = landmarks[list(mt.MOUTH_CORNERS_INNER)]
    width = float(np.linalg.norm(corners[1] - corners[0]))
    opening = lip_opening(landmarks)
    ramp = max(style.ramp_width_fraction * width, 1e-3)
    strength = float(np.clip((opening - rest_opening) / ramp, 0.0, 1.0))
    closing = float(np.clip((rest_opening - opening) / ramp, 0.0, 1.0))
    if width < 2.0 or (strength <= 0.0 and closing <= 0.0):
        return frame
    poly = inner_lip_polygon(landmarks)
    pad = int(np.ceil(0.1 * width)) + 2
    x0, y0 = np.maximum(np.floor(poly.min(axis=0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(poly.max(axis=0)).astype(int) + pad, [frame.shape[1], frame.shape[0]])
    if x1 <= x0 or y1 <= y0:
        return frame
    patch = frame[y0:y1, x0:x1].astype(np.float32)
    local = landmarks - [x0, y0]
    if strength > 0.0:
        layers = _layers(patch, local, opening, width, style)
    else:  # the lips close over the photo's own gap: cover its squeezed teeth/cavity with lips
        layers, strength = _seam_layers(patch, local, width), closing
    sigma = max(0.5, 0.01 * width)
    out = patch
    for colour, mask in layers:
        alpha = cv2.GaussianBlur(mask, (0, 0), sigma) * strength
        out = out * (1.0 - alpha[..., None]) + colour * alpha[..., None]
    result = frame.copy()
    result[y0:y1, x0:x1] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return result


def _lip_colour(patch: np.ndarray, poly: np.ndarray, inside: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Mean colour of the lip ring just outside the inner-lip polygon."""
    ring = (inside < 0.5) & (_mask(patch.shape[:2], _grown(poly, 1.25)) > 0.5)
    return patch[ring].mean(axis=0) if ring.any() else fallback


def _lip_line(lm: np.ndarray, inner: tuple[int, ...]) -> np.ndarray:
    """``(len(inner) + 2, 2)`` one inner lip edge from corner to corner (``mt.LIP_UPPER_INNER``
    or ``mt.LIP_LOWER_INNER``)."""
    return lm[[mt.MOUTH_CORNERS_INNER[0], *inner, mt.MOUTH_CORNERS_INNER[1]]]


def _seam_layers(patch: np.ndarray, lm: np.ndarray, width: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Closed-lip layers for a photo with an open mouth whose lips are brought together: the
    squeezed interior (a bright teeth line or a dark slit, a few px whatever the warp) becomes
    lip colour over a band along the lips' meeting line, with a thin shaded seam in the middle."""
    shape = patch.shape[:2]
    poly = inner_lip_polygon(lm)
    mid = np.round((_lip_line(lm, mt.LIP_UPPER_INNER) + _lip_line(lm, mt.LIP_LOWER_INNER)) / 2.0 * 16).astype(np.int32)

    def band(thickness: float) -> np.ndarray:
        m = np.zeros(shape, np.uint8)
        cv2.polylines(m, [mid], False, 255, max(1, int(round(thickness))), cv2.LINE_AA, shift=4)
        return m.astype(np.float32) / 255.0

    gap = _mask(shape, poly)
    lip = _lip_colour(patch, poly, gap, patch.reshape(-1, 3).mean(axis=0))
    return [(lip, np.maximum(gap, band(SEAM_BAND * width))), (0.6 * lip, band(0.02 * width) * 0.8)]


#: band (of the mouth width) along the lips' meeting line repainted as lips when they close
SEAM_BAND = 0.08


def _layers(patch: np.ndarray, lm: np.ndarray, opening: float, width: float,
            style: MouthStyle) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(colour (h, w, 3) or (3,), mask (h, w))`` layers, bottom first."""
    shape = patch.shape[:2]
    poly = inner_lip_polygon(lm)
    # reach 4 % past the corners: the squeezed photo content there shows as specks otherwise
    wide = poly.copy()
    wide[:, 0] = poly[:, 0].mean() + (poly[:, 0] - poly[:, 0].mean()) * 1.04
    inside = _mask(shape, wide)
    brightness = float(np.clip(patch.mean() / 150.0, 0.45, 1.15))
    # the photo's colour cast (per channel, relative to grey; half strength, within +-15 %): a
    # neutral teeth colour looks blue-grey inside a warm, orange-lit face
    mean_rgb = patch.reshape(-1, 3).mean(axis=0)
    cast = np.clip(1.0 + 0.5 * (mean_rgb / max(float(mean_rgb.mean()), 1e-3) - 1.0), 0.85, 1.15).astype(np.float32)
    # 1. cavity, rim tinted by the lips' colour
    lip_colour = _lip_colour(patch, poly, inside, np.array(style.cavity_rgb, float))
    depth = cv2.distanceTransform((inside > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
    rim = np.exp(-depth / max(0.12 * opening, 0.5))[..., None]
    cavity = np.array(style.cavity_rgb, np.float32) * brightness * (1 - 0.35 * rim) + 0.35 * rim * 0.45 * lip_colour
    layers = [(cavity, inside)]
    # 2. tongue: ellipse sitting on the lower lip's middle
    lower_mid = lm[mt.LIP_LOWER_INNER[4]]
    if opening > 0.12 * width:
        tongue = np.zeros(shape, np.uint8)
        centre = (lower_mid + [0.0, -0.15 * opening]) * 16
        axes = (0.26 * width * 16, 0.28 * opening * 16)
        cv2.ellipse(tongue, (int(centre[0]), int(centre[1])), (int(axes[0]), int(axes[1])), 0, 0, 360, 255,
                    -1, cv2.LINE_AA, shift=4)
        layers.append((np.array(style.tongue_rgb, np.float32) * brightness * cast, tongue.astype(np.float32) / 255 * inside * 0.6))
    # 3. upper teeth hanging from the upper inner lip, fading to the corners
    upper = _lip_line(lm, mt.LIP_UPPER_INNER)
    height = min(style.teeth_fraction * opening, style.teeth_max_width_fraction * width)
    teeth_poly = np.concatenate([upper - [0.0, 0.5], (upper + [0.0, height])[::-1]])
    centre_x = (upper[0, 0] + upper[-1, 0]) / 2.0
    xs = np.arange(shape[1], dtype=np.float32)
    fade = np.clip(1.0 - ((xs - centre_x) / (0.42 * width)) ** 2, 0.0, 1.0)[None, :] ** 0.7
    shade = np.array(style.teeth_rgb, np.float32) * brightness * cast
    layers.append((shade, _mask(shape, teeth_poly) * inside * fade * 0.75))
    return layers


def _grown(poly: np.ndarray, factor: float) -> np.ndarray:
    centre = poly.mean(axis=0)
    return centre + (poly - centre) * factor

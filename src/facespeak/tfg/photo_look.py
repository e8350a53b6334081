"""How the portrait looks, estimated once per portrait for painting the mouth interior
(:mod:`facespeak.tfg.mouth_interior`): face luma and highlights, skin chroma, colour cast, blur,
and the photo's own teeth when its lips part over them.

The blur is estimated with the re-blur gradient ratio of Zhuo & Sim, "Defocus map estimation
from a single image" (Pattern Recognition 2011).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..face.image_io import LUMA_BT601
from . import mesh_topology as mt
from .lip_contours import inner_lip_polygon, lip_line, lip_opening, polygon_mask

__all__ = ["PhotoLook", "OwnTeeth", "estimate_look", "REF_LUMA", "REF_SKIN_CHROMA"]

#: reference face luma and skin chroma/luma for which the style's colours are given
REF_LUMA, REF_SKIN_CHROMA = 150.0, 0.35


@dataclass(frozen=True, eq=False)
class OwnTeeth:
    """The photo's own mouth interior: ``image`` ``(h, w, 3) float32`` canvas pixels from
    ``origin`` (x, y px), ``mask`` ``(h, w) float32`` inside its lips, ``split`` ``(11, 2)``
    canvas px: the lips' midline (above: upper teeth, below: lower teeth); ``texture``
    ``(h, w, 4) float32``: image and mask stacked (what each frame samples)."""

    image: np.ndarray = field(repr=False)
    mask: np.ndarray = field(repr=False)
    origin: tuple[int, int]
    split: np.ndarray = field(repr=False)
    texture: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "texture", np.dstack([self.image, self.mask]))


@dataclass(frozen=True, eq=False)
class PhotoLook:
    """How the photo looks (estimated once per portrait by :func:`estimate_look`).

    luma: median face luma (0-255); white: the face's highlight luma (99th percentile);
    saturation: skin chroma relative to ordinary skin (0 = grey photo); cast: ``(3,)`` per-channel
    colour cast (1 = neutral); blur_sigma: the face's blur, canvas px (Gaussian sigma);
    teeth_rgb: the photo's own teeth colour when it shows them; own: its mouth interior or None.
    """

    luma: float = REF_LUMA
    white: float = 255.0
    saturation: float = 1.0
    cast: np.ndarray = field(default_factory=lambda: np.ones(3, np.float32), repr=False)
    blur_sigma: float = 0.5
    teeth_rgb: np.ndarray | None = field(default=None, repr=False)
    own: OwnTeeth | None = field(default=None, repr=False)


def estimate_look(canvas: np.ndarray, landmarks: np.ndarray) -> PhotoLook:
    """Estimate :class:`PhotoLook` of ``(H, W, 3) uint8`` ``canvas`` from its ``(478, 2)`` mesh (px)."""
    lm = np.asarray(landmarks, np.float64)[:, :2]
    oval = np.zeros(canvas.shape[:2], np.uint8)
    cv2.fillPoly(oval, [np.round(lm[list(mt.FACE_OVAL)]).astype(np.int32)], 1)
    face = canvas[oval.astype(bool)].astype(np.float32)
    if len(face) < 50:
        return PhotoLook()
    luma = face @ LUMA_BT601
    chroma = face.max(axis=1) - face.min(axis=1)
    mean_rgb = face.mean(axis=0)
    cast = np.clip(1.0 + 0.5 * (mean_rgb / max(float(mean_rgb.mean()), 1e-3) - 1.0), 0.85, 1.15)
    skin = float(np.median(chroma / np.maximum(luma, 1.0)))
    look = PhotoLook(luma=float(np.median(luma)), white=float(np.percentile(luma, 99)),
                     saturation=float(np.clip(skin / REF_SKIN_CHROMA, 0.0, 1.3)), cast=cast.astype(np.float32),
                     blur_sigma=_blur_sigma(canvas, lm))
    return _with_own_teeth(look, canvas, lm)


def _blur_sigma(canvas: np.ndarray, lm: np.ndarray, reblur: float = 1.0) -> float:
    """Gaussian blur (px) of the face: at its strongest edges the gradient of the image over the
    gradient of the image re-blurred by ``reblur`` is ``R = sqrt(s^2 + r^2) / s`` for an edge of
    blur ``s`` (Zhuo & Sim 2011), so ``s = r / sqrt(R^2 - 1)``; median over the top 5 % edges."""
    x0, y0 = np.maximum(np.floor(lm.min(axis=0)).astype(int), 0)
    x1, y1 = np.ceil(lm.max(axis=0)).astype(int) + 1
    grey = cv2.cvtColor(np.ascontiguousarray(canvas[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    if min(grey.shape) < 16:
        return 0.5

    def grad(img: np.ndarray) -> np.ndarray:
        return cv2.magnitude(cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3))

    g0, g1 = grad(grey), grad(cv2.GaussianBlur(grey, (0, 0), reblur))
    strong = g0 >= max(np.percentile(g0, 95), 8.0)
    if strong.sum() < 10:
        return 0.5
    ratio = np.clip(g0[strong] / np.maximum(g1[strong], 1e-3), 1.01, None)
    return float(np.clip(np.median(reblur / np.sqrt(ratio**2 - 1.0)), 0.3, 6.0))


def _with_own_teeth(look: PhotoLook, canvas: np.ndarray, lm: np.ndarray) -> PhotoLook:
    """``look`` with the photo's own mouth interior when its lips part over teeth (>= 15 % of
    the opening bright and low-chroma, opening >= 5 % of the mouth width)."""
    width = float(np.linalg.norm(lm[mt.MOUTH_CORNERS_INNER[1]] - lm[mt.MOUTH_CORNERS_INNER[0]]))
    if width < 4.0 or lip_opening(lm) < 0.05 * width:
        return look
    poly = inner_lip_polygon(lm)
    x0, y0 = np.maximum(np.floor(poly.min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(poly.max(axis=0)).astype(int) + 3, [canvas.shape[1], canvas.shape[0]])
    image = canvas[y0:y1, x0:x1].astype(np.float32)
    mask = cv2.erode(polygon_mask(image.shape[:2], poly - [x0, y0]), np.ones((3, 3), np.uint8))
    luma = image @ LUMA_BT601
    teeth = (mask > 0.5) & (luma >= 0.9 * look.luma) & (image.max(axis=2) - image.min(axis=2) <= 0.25 * luma + 10)
    if teeth.sum() < max(6, 0.15 * (mask > 0.5).sum()):
        return look
    own = OwnTeeth(image, mask, (int(x0), int(y0)), _teeth_split(luma, mask, lm, (x0, y0), float(np.median(luma[teeth]))))
    return PhotoLook(look.luma, look.white, look.saturation, look.cast, look.blur_sigma,
                     np.median(image[teeth], axis=0).astype(np.float32), own)


def _teeth_split(luma: np.ndarray, mask: np.ndarray, lm: np.ndarray, origin: tuple[int, int],
                 teeth_luma: float) -> np.ndarray:
    """``(11, 2)`` canvas px between the photo's upper and lower teeth: per inner-lip column the
    middle of a dark gap between two bright runs (upper and lower teeth); above a single bright
    run in the column's lower part (only lower teeth show); else the lower lip (only upper
    teeth show, or none: everything there moves with the skull)."""
    upper, lower = lip_line(lm, mt.LIP_UPPER_INNER), lip_line(lm, mt.LIP_LOWER_INNER)
    split = lower.copy()
    dark = np.where(mask > 0.5, cv2.GaussianBlur(luma, (0, 0), 1.0), np.inf)
    for i in range(1, len(upper) - 1):
        x = int(round((upper[i, 0] + lower[i, 0]) / 2.0)) - origin[0]
        ya, yb = int(np.ceil(upper[i, 1])) - origin[1], int(np.floor(lower[i, 1])) - origin[1]
        if not (0 <= x < dark.shape[1]) or yb - ya < 2:
            continue
        column = dark[max(ya, 0):min(yb + 1, dark.shape[0]), x]
        bright = np.flatnonzero(column >= 0.75 * teeth_luma)
        if len(bright) == 0:
            continue
        gap = np.flatnonzero(column[bright[0]:bright[-1] + 1] < 0.6 * teeth_luma)
        if len(gap):  # a dark gap between an upper and a lower row of teeth
            split[i, 1] = origin[1] + max(ya, 0) + bright[0] + float(np.median(gap))
        elif bright.mean() > 0.6 * len(column) and (column[: bright[0]] < 0.6 * teeth_luma).any():
            split[i, 1] = origin[1] + max(ya, 0) + bright[0] - 0.5  # only lower teeth show here
    split[0], split[-1] = (upper[0] + lower[0]) / 2.0, (upper[-1] + lower[-1]) / 2.0
    return split

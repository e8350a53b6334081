"""Aligned square face crops: a similarity transform from three face points to a template.

The three points are the two eye centres (mean of each eye's two corners, stable under gaze)
and the mouth centre (mean of the mouth corners). Template, in units of the crop side, for
``scale=1``:

    image-left eye (subject's right)  (0.375, 0.44)
    image-right eye (subject's left)  (0.625, 0.44)
    mouth centre                      (0.500, 0.68)

i.e. inter-ocular distance = 1/4 of the crop, eyes a little above the middle: the whole head,
hair and a bit of neck are in view, close to FFHQ / VoxCeleb-style 256 px talking-head crops
(LIA works on such crops). ``scale > 1`` zooms in (template offsets from the crop centre
are multiplied by ``scale``).

The transform is a similarity (rotation, uniform scale, translation), so roll is removed and
yaw/pitch are kept. Rotation: the least-squares similarity of the three points (Umeyama 1991).
Scale: the smaller of the two scales implied by the inter-ocular distance and by the
eye-midpoint-to-mouth distance (as FFHQ's alignment takes the larger of the two face
measures), so a turned face (short eye distance) or a nodding face (short eye-mouth distance)
is not over-zoomed. Translation: the point halfway between the eye midpoint and the mouth
lands on its template position.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .analysis import Face
from .image_io import LUMA_BT601

__all__ = ["ALIGN_TEMPLATE", "AlignedFace", "align_face", "alignment_points", "crop_landmarks",
           "similarity_transform", "template_transform", "soften_outside", "fit_inside",
           "INSIDE_MAX_ZOOM"]

# Rows: image-left eye, image-right eye, mouth centre; in crop-side units for scale = 1.
ALIGN_TEMPLATE = np.array([[0.375, 0.44], [0.625, 0.44], [0.5, 0.68]])


@dataclass(frozen=True, eq=False)
class AlignedFace:
    """An aligned crop and the transforms between it and the source image.

    Attributes:
        crop: ``(size, size, 3) uint8`` RGB.
        matrix: ``(2, 3)`` affine, image px -> crop px (``[x_c, y_c] = M @ [x, y, 1]``).
        inverse: ``(2, 3)`` affine, crop px -> image px.
    """

    crop: np.ndarray = field(repr=False)
    matrix: np.ndarray
    inverse: np.ndarray

    @property
    def size(self) -> int:
        return int(self.crop.shape[0])

    @property
    def scale(self) -> float:
        """Crop px per image px."""
        return float(np.hypot(self.matrix[0, 0], self.matrix[1, 0]))


def alignment_points(face: Face) -> np.ndarray:
    """``(3, 2)`` image px: subject's right eye (image-left), left eye, mouth centre."""
    return np.stack([face.point("right_eye_corners")[:2], face.point("left_eye_corners")[:2],
                     face.point("mouth_corners")[:2]]).astype(np.float64)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity ``(2, 3)`` mapping ``src (N, 2)`` onto ``dst (N, 2)`` (Umeyama)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s0, d0 = src - mu_s, dst - mu_d
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ sign @ vt
    var_s = (s0**2).sum() / len(src)
    c = float(np.trace(np.diag(sig) @ sign) / var_s)
    out = np.empty((2, 3))
    out[:, :2] = c * rot
    out[:, 2] = mu_d - c * rot @ mu_s
    return out


def align_face(image: np.ndarray, face: Face, size: int = 256, scale: float = 1.0,
               inside: bool = False) -> AlignedFace:
    """Crop ``face`` from ``image`` upright, eyes and mouth on the template.

    Args:
        image: ``(H, W, 3) uint8`` RGB the face was found in.
        face: from :func:`facespeak.face.analysis.analyse_faces`.
        size: crop side in px.
        scale: zoom; 1 = template above, 2 = face twice as large in the crop.
        inside: keep the crop inside the photo where a shift and a zoom (up to
            :data:`INSIDE_MAX_ZOOM`) that keep the eyes and mouth well inside the crop allow it
            (:func:`fit_inside`): the renderer's framing, so a photo cut close to the face, or a
            face near the photo's edge, shows no area the photo does not have.

    Returns:
        :class:`AlignedFace`; areas outside the image are filled by edge replication.
    """
    assert image.shape[:2] == tuple(face.image_size), (image.shape, face.image_size)
    assert size > 0 and scale > 0, (size, scale)
    matrix = template_transform(alignment_points(face), ((ALIGN_TEMPLATE - 0.5) * scale + 0.5) * size)
    if inside:
        matrix = fit_inside(matrix, image, size, face.landmarks[list(_KEEP_IN_VIEW), :2])
    interp = cv2.INTER_AREA if np.hypot(matrix[0, 0], matrix[1, 0]) < 1 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(image, matrix, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    return AlignedFace(crop, matrix, cv2.invertAffineTransform(matrix))


INSIDE_MAX_ZOOM = 1.5  # a 112 px face-recognition crop needs 1.5; zooming further cuts the head more than
# the soft fill of the rest shows (a 512 x 411 portrait would need 1.55: its head top cut off)
INSIDE_MARGIN = 0.12  # eyes and mouth stay this fraction of the side away from the crop's edges
# eye corners, mouth corners and nose tip (MediaPipe face mesh); not the chin: a photo cut at the
# chin is framed as it was taken
_KEEP_IN_VIEW = (33, 133, 362, 263, 61, 291, 1)


def fit_inside(matrix: np.ndarray, image: np.ndarray, size: int, keep: np.ndarray,
               max_zoom: float = INSIDE_MAX_ZOOM, margin: float = INSIDE_MARGIN) -> np.ndarray:
    """The ``(2, 3)`` crop transform moved, and if that is not enough zoomed in about the crop's
    centre (the least zoom, in 5 % steps up to ``max_zoom``), so that the square ``size`` crop
    lies inside the photo ``image`` while the ``keep`` points ``(N, 2)`` (image px) stay
    ``margin`` x size inside the crop. ``matrix`` itself when the crop already lies inside, when
    the photo's edges it crosses are plain (a studio background: :func:`soften_outside`
    continues them invisibly, and zooming in would only cut the head) or when nothing allowed
    fits."""
    h, w = image.shape[:2]
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    centre, lo, hi = (size - 1) / 2.0, margin * size, (1.0 - margin) * size
    for zoom in np.arange(1.0, max_zoom + 1e-9, 0.05):
        m = matrix.copy()
        m[:, :2] *= zoom
        m[:, 2] = zoom * (matrix[:, 2] - centre) + centre
        inv = cv2.invertAffineTransform(m)
        foot = corners @ inv[:, :2].T + inv[:, 2]  # the crop's corners in the photo
        (x0, y0), (x1, y1) = foot.min(axis=0), foot.max(axis=0)
        if x1 - x0 > w or y1 - y0 > h:
            if zoom == 1.0 and _plain_edges(image, foot):
                return matrix
            continue
        if zoom == 1.0 and x0 >= -0.5 and y0 >= -0.5 and x1 <= w - 0.5 and y1 <= h - 0.5:
            return matrix
        shift = np.array([max(0.0, -0.5 - x0) + min(0.0, w - 0.5 - x1), max(0.0, -0.5 - y0) + min(0.0, h - 0.5 - y1)])
        m[:, 2] -= m[:, :2] @ shift  # the footprint moves by ``shift`` photo px
        pts = keep @ m[:, :2].T + m[:, 2]
        if (pts >= lo).all() and (pts <= hi).all():
            return m
    return matrix


PLAIN_EDGE_STD = 10.0  # grey levels: a photo edge this even is a plain background


def _plain_edges(image: np.ndarray, foot: np.ndarray, band: int = 6) -> bool:
    """Is every edge of the photo that the crop's footprint ``(4, 2)`` (image px) reaches past
    plain (luma std over a ``band``-px strip along it, within the footprint's span) ?"""
    h, w = image.shape[:2]
    (x0, y0), (x1, y1) = np.floor(foot.min(axis=0)).astype(int), np.ceil(foot.max(axis=0)).astype(int)
    ya, yb, xa, xb = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    strips = [image[ya:yb, :band] if x0 < 0 else None, image[ya:yb, w - band:] if x1 > w else None,
              image[:band, xa:xb] if y0 < 0 else None, image[h - band:, xa:xb] if y1 > h else None]
    luma = [s.reshape(-1, 3).astype(np.float64) @ LUMA_BT601 for s in strips if s is not None and s.size]
    return bool(luma) and max(float(v.std()) for v in luma) <= PLAIN_EDGE_STD


def template_transform(points: np.ndarray, template: np.ndarray) -> np.ndarray:
    """``(2, 3)`` similarity for ``(3, 2)`` points -> template, scale per the module docstring."""
    fit = similarity_transform(points, template)
    rot = fit[:, :2] / np.hypot(fit[0, 0], fit[1, 0])

    def measures(p: np.ndarray) -> tuple[np.ndarray, float, float]:
        eye_mid = (p[0] + p[1]) / 2.0
        return (eye_mid + p[2]) / 2.0, float(np.linalg.norm(p[1] - p[0])), float(np.linalg.norm(p[2] - eye_mid))

    anchor, iod, em = measures(points)
    t_anchor, t_iod, t_em = measures(template)
    c = min(t_iod / max(iod, 1e-6), t_em / max(em, 1e-6))
    out = np.empty((2, 3))
    out[:, :2] = c * rot
    out[:, 2] = t_anchor - c * rot @ anchor
    return out


def crop_landmarks(face: Face, matrix: np.ndarray) -> np.ndarray:
    """Map the face's ``(478, 3)`` landmarks into crop px (z scaled by the same factor as x, y)."""
    lm = face.landmarks.astype(np.float64)
    out = np.empty_like(lm)
    out[:, :2] = lm[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    out[:, 2] = lm[:, 2] * float(np.hypot(matrix[0, 0], matrix[1, 0]))
    return out.astype(np.float32)


def soften_outside(aligned: AlignedFace, image_shape: tuple[int, ...], blur_frac: float = 1 / 32) -> np.ndarray:
    """The crop with the part that lies outside the photo (filled by edge replication: straight
    streaks of the edge's colours) replaced by a blur of it, feathered over a pixel or two:
    a soft continuation of the edge's colours, neither streaks nor a mirrored copy of the
    head. ``blur_frac``: the blur's sigma as a fraction of the crop side. A crop inside the
    photo comes back unchanged (the same array)."""
    crop, side = aligned.crop, aligned.crop.shape[0]
    inside = cv2.warpAffine(np.full(tuple(image_shape[:2]), 255, np.uint8), aligned.matrix, (crop.shape[1], side),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if inside.min() == 255:
        return crop
    alpha = (inside.astype(np.float32) / 255.0)[..., None]
    soft = cv2.GaussianBlur(crop, (0, 0), max(1.0, blur_frac * side), borderType=cv2.BORDER_REPLICATE)
    return np.clip(crop * alpha + soft * (1.0 - alpha) + 0.5, 0, 255).astype(np.uint8)

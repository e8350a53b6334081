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

__all__ = ["ALIGN_TEMPLATE", "AlignedFace", "align_face", "alignment_points", "crop_landmarks",
           "similarity_transform", "template_transform", "soften_outside"]

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


def align_face(image: np.ndarray, face: Face, size: int = 256, scale: float = 1.0) -> AlignedFace:
    """Crop ``face`` from ``image`` upright, eyes and mouth on the template.

    Args:
        image: ``(H, W, 3) uint8`` RGB the face was found in.
        face: from :func:`facespeak.face.analysis.analyse_faces`.
        size: crop side in px.
        scale: zoom; 1 = template above, 2 = face twice as large in the crop.

    Returns:
        :class:`AlignedFace`; areas outside the image are filled by edge replication.
    """
    assert image.shape[:2] == tuple(face.image_size), (image.shape, face.image_size)
    assert size > 0 and scale > 0, (size, scale)
    matrix = template_transform(alignment_points(face), ((ALIGN_TEMPLATE - 0.5) * scale + 0.5) * size)
    interp = cv2.INTER_AREA if np.hypot(matrix[0, 0], matrix[1, 0]) < 1 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(image, matrix, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    return AlignedFace(crop, matrix, cv2.invertAffineTransform(matrix))


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

"""Random views of a face for training face models: mesh-driven expression warps (jaw drop,
smile, blink) and flip / rotation / scale / lighting changes, plus the square crop around a
face they are applied to.

Used by the identity-encoder training (:mod:`facespeak.train.identity_task`) and the face bank
of the TTS data (:mod:`facespeak.data.face_bank`). Pure functions of an image and its
:class:`~facespeak.face.analysis.Face`; randomness comes from the caller's
``numpy.random.Generator``.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..core.errors import InputError
from .analysis import Face

__all__ = ["expression_warp", "augment_face_image", "face_crop"]

_LOWER_LIP = (14, 87, 178, 88, 95, 317, 402, 318, 324, 17, 84, 181, 91, 146, 314, 405, 321, 375)
_CHIN = (152, 148, 176, 149, 150, 377, 400, 378, 379, 136, 365)
_UPPER_LIDS = (159, 158, 160, 161, 157, 386, 385, 387, 388, 384)
_LOWER_LIDS = (145, 153, 144, 163, 154, 374, 380, 373, 390, 381)
_ANCHORS = (1, 4, 6, 13, 0, 33, 133, 263, 362, 105, 334, 10, 234, 454, 127, 356)


def _displacement_warp(image: np.ndarray, points: np.ndarray, moves: np.ndarray, sigma: float) -> np.ndarray:
    """Move ``points (P, 2)`` px by ``moves (P, 2)`` px with a smooth Gaussian-weighted field.

    Field ``D(x) = sum_k w_k(x) v_k / (sum_k w_k(x) + 0.05)``, ``w_k = exp(-|x - c_k|^2 / 2 sigma^2)``
    (anchors have ``v = 0``); sampled backwards, ``out(x) = in(x - D(x))`` (fine for small moves); edges replicated.
    """
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    num = np.zeros((h, w, 2), np.float32)
    den = np.full((h, w), 0.05, np.float32)
    for (cx, cy), v in zip(points, moves):
        wk = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2))
        den += wk
        num += wk[..., None] * v
    d = num / den[..., None]
    return cv2.remap(image, xs - d[..., 0], ys - d[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def expression_warp(image: np.ndarray, face: Face, kind: str, amount: float) -> np.ndarray:
    """Mesh-driven expression change of ``face`` in ``image (H, W, 3) uint8``.

    kind: ``'jaw'`` (mouth opens by ``amount`` x inter-ocular distance), ``'smile'`` (mouth
    corners out and up), ``'blink'`` (upper lids move ``amount`` of the way to the lower lids).
    """
    p = face.landmarks[:, :2].astype(np.float32)
    iod = float(np.linalg.norm(p[33] - p[263]))
    moved: list[int] = []
    vecs: list[np.ndarray] = []
    if kind == "jaw":
        moved = list(_LOWER_LIP + _CHIN)
        down = (p[152] - p[6]) / (np.linalg.norm(p[152] - p[6]) + 1e-6)
        vecs = [down * amount * iod] * len(moved)
    elif kind == "smile":
        centre = (p[61] + p[291]) / 2
        up = (p[6] - p[152]) / (np.linalg.norm(p[6] - p[152]) + 1e-6)
        moved = [61, 291]
        vecs = [((p[i] - centre) / (np.linalg.norm(p[i] - centre) + 1e-6) + 0.6 * up) * amount * iod for i in moved]
    elif kind == "blink":
        moved = list(_UPPER_LIDS)
        vecs = [(p[lo] - p[up]) * amount for up, lo in zip(_UPPER_LIDS, _LOWER_LIDS)]
    else:
        raise InputError(f"expression warp kind: expected 'jaw', 'smile' or 'blink', got {kind!r}")
    anchors = [i for i in _ANCHORS + (_LOWER_LIDS if kind == "blink" else ()) if i not in moved]
    pts = np.concatenate([p[moved], p[anchors]])
    mv = np.concatenate([np.asarray(vecs, np.float32), np.zeros((len(anchors), 2), np.float32)])
    sigma = 0.08 * iod if kind == "blink" else 0.13 * iod
    return _displacement_warp(image, pts, mv, sigma)


def augment_face_image(image: np.ndarray, face: Face, rng: np.random.Generator) -> np.ndarray:
    """A random view of ``face``: maybe an expression warp, then flip / rotate / scale / light."""
    out = image
    if rng.random() < 0.6:
        kind = str(rng.choice(["jaw", "smile", "blink"]))
        amount = {"jaw": rng.uniform(0.05, 0.2), "smile": rng.uniform(0.04, 0.12), "blink": rng.uniform(0.4, 0.9)}
        out = expression_warp(out, face, kind, float(amount[kind]))
    if rng.random() < 0.5:
        out = out[:, ::-1]
    h, w = out.shape[:2]
    cx, cy = w / 2.0, h / 2.0
    m = cv2.getRotationMatrix2D((cx, cy), float(rng.uniform(-18, 18)), float(rng.uniform(0.8, 1.2)))
    out = cv2.warpAffine(np.ascontiguousarray(out), m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    gain, bias = rng.uniform(0.7, 1.3), rng.uniform(-25, 25)
    return np.clip(out.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)


def face_crop(image: np.ndarray, face: Face, side: int = 320) -> np.ndarray:
    """Square crop 2.4 x the face box around the face, resized to ``side`` px (edges replicated)."""
    cx, cy = face.centre
    half = 1.2 * max(face.width, face.height)
    m = np.array([[side / (2 * half), 0, side / 2 - cx * side / (2 * half)],
                  [0, side / (2 * half), side / 2 - cy * side / (2 * half)]], np.float32)
    return cv2.warpAffine(image, m, (side, side), flags=cv2.INTER_AREA if half * 2 > side else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)

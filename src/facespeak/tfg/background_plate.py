"""The photo with the face taken out, for the head-ring triangles that lie over a turned face.

On a photo turned 40-60 deg the far side of the face (nose tip, lips, brow) juts out past the
mesh's far face oval in projection: the head-ring triangles from that oval outwards cover the
nose and lips in the photo, hidden behind the face's own triangles (drawn later, nearer). When
the head turns back towards the camera or the jaw opens, the face moves off them and they show
their texture: a second, unmoving copy of the photo's nose, far eye and lips beside the face
(session 13, docs/renderer.md "Turned faces to 60 deg"). What lies there in reality is what the
face hid: the background. So those triangles sample a *plate* instead: the photo with the face
(the union of the face triangles at zero motion) filled from its surroundings by push-pull
interpolation (a mask-weighted Gaussian pyramid, down then up; Gortler et al., "The Lumigraph",
SIGGRAPH 1996, section 3.4.3), which equals the photo outside the face.

Triangles that only touch the face along the oval (every frontal photo's ring) sample nothing of
it and keep the photo: only ring triangles that overlap the face by more than an edge use the plate.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["PLATE_OVERLAP_PX", "PLATE_GROW", "PLATE_MIN_TRIANGLES", "grown_face", "background_plate",
           "triangles_over_face", "sample_plate"]

#: a non-face triangle whose photo area overlaps the face (eroded by 1 px) by more than this
#: many pixels samples the plate
PLATE_OVERLAP_PX = 2
#: the face taken out of the plate is the mesh's grown by this fraction of its width: on a turned
#: photo the far eye's corner, the nose's rim and the lips reach a few px past the mesh
PLATE_GROW = 0.04
#: the plate is used only when at least this many far-side ring triangles overlap the face itself
#: (eroded, not grown): 15-40 on the train photos turned 17-50 deg, 0-2 on frontal ones (their
#: ring only touches the oval; a frontal face keeps the photo around it exactly)
PLATE_MIN_TRIANGLES = 5


def grown_face(face: np.ndarray) -> np.ndarray:
    """``(h, w) bool`` the face mask grown sideways by :data:`PLATE_GROW` of its width (what juts
    past the far oval does so sideways; grown downwards too, the plate took the real chin's edge
    below the mesh's jaw line)."""
    cols = np.flatnonzero(face.any(axis=0))
    grow = int(round(PLATE_GROW * (cols[-1] - cols[0] + 1))) if len(cols) else 0
    if grow <= 0:
        return face
    return cv2.dilate(face.astype(np.uint8), np.ones((1, 2 * grow + 1), np.uint8)) > 0


def background_plate(canvas: np.ndarray, face: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``(h, w, 3) uint8`` the region ``box`` (x0, y0, x1, y1 canvas px) of ``canvas`` with the
    ``(h, w) bool`` face pixels, grown by :data:`PLATE_GROW`, filled from their surroundings
    (push-pull); unchanged elsewhere."""
    x0, y0, x1, y1 = box
    region = canvas[y0:y1, x0:x1]
    if not face.any():
        return region.copy()
    face = grown_face(face)
    known = (~face).astype(np.float32)
    image = region.astype(np.float32) * known[..., None]
    levels = []
    while min(image.shape[:2]) > 8:
        levels.append((image, known))
        image, known = cv2.pyrDown(image), cv2.pyrDown(known)
    fill = image / np.maximum(known, 1e-6)[..., None]
    for image, known in reversed(levels):
        up = cv2.pyrUp(fill, dstsize=(image.shape[1], image.shape[0]))
        confidence = np.clip(known * 4.0, 0.0, 1.0)[..., None]  # a level's own estimate once it has support
        fill = image / np.maximum(known, 1e-6)[..., None] * confidence + up * (1.0 - confidence)
    plate = region.copy()
    plate[face] = np.clip(fill[face] + 0.5, 0, 255).astype(np.uint8)
    return plate


def triangles_over_face(source: np.ndarray, triangles: np.ndarray, candidate: np.ndarray,
                        face: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``(n_tri,) bool``: the triangles that sample the plate.

    ``candidate`` triangles are the non-face ones on the far side of the face (the side its nose
    points to; on the near side, ring triangles over the face are folds at the jaw angle under the
    ear and keep the photo's skin). When at least :data:`PLATE_MIN_TRIANGLES` of them cover more
    than :data:`PLATE_OVERLAP_PX` pixels of the ``(h, w) bool`` face of region ``box`` eroded by one
    pixel (a shared edge alone does not count), the photo is turned and every candidate whose photo
    area (``source[triangles]``, canvas px) covers more than that of the *grown* face
    (:func:`grown_face`, what the plate fills) samples the plate, so neighbours that do not meet
    the photo only where plate and photo agree. Otherwise none does.
    """
    core = cv2.erode(face.astype(np.uint8), np.ones((3, 3), np.uint8))
    strict = _overlapping(source, triangles, candidate, core, box)
    if strict.sum() < PLATE_MIN_TRIANGLES:
        return np.zeros(len(triangles), bool)
    return _overlapping(source, triangles, candidate, grown_face(face).astype(np.uint8), box)


def _overlapping(source: np.ndarray, triangles: np.ndarray, candidate: np.ndarray, mask: np.ndarray,
                 box: tuple[int, int, int, int]) -> np.ndarray:
    """``(n_tri,) bool`` candidate triangles covering more than :data:`PLATE_OVERLAP_PX` pixels of
    the ``(h, w) uint8`` 0/1 ``mask`` of region ``box``."""
    x0, y0 = box[:2]
    out = np.zeros(len(triangles), bool)
    polys = np.round((source[triangles] - [x0, y0]) * 16).astype(np.int32)
    for i in np.flatnonzero(candidate):
        lo = np.maximum(np.floor(source[triangles[i]].min(axis=0) - [x0, y0]).astype(int) - 1, 0)
        hi = np.minimum(np.ceil(source[triangles[i]].max(axis=0) - [x0, y0]).astype(int) + 2,
                        [mask.shape[1], mask.shape[0]])
        if (hi <= lo).any() or not mask[lo[1]:hi[1], lo[0]:hi[0]].any():
            continue
        tri = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.uint8)
        cv2.fillConvexPoly(tri, polys[i] - lo * 16, 1, cv2.LINE_8, 4)
        out[i] = int((tri & mask[lo[1]:hi[1], lo[0]:hi[0]]).sum()) > PLATE_OVERLAP_PX
    return out


def sample_plate(region: np.ndarray, plate: np.ndarray, ids: np.ndarray, back: np.ndarray,
                 over_face: np.ndarray, points: np.ndarray, triangles: np.ndarray,
                 box: tuple[int, int, int, int], border: int) -> np.ndarray:
    """Resample the pixels of the ``over_face`` triangles from ``plate`` (in place).

    Args:
        region: ``(h, w, 3) uint8`` the warped region of this frame (changed in place).
        plate: ``(h, w, 3) uint8`` :func:`background_plate` of the same region.
        ids: ``(h, w)`` owning triangle of each region pixel (``n_tri``: none).
        back: ``(2, h, w) float32`` canvas px each region pixel samples.
        over_face: ``(n_tri,) bool`` :func:`triangles_over_face`.
        points: ``(N, 2)`` this frame's control points (canvas px); triangles: ``(n_tri, 3)``.
        box: the region (x0, y0, x1, y1 canvas px); border: the ``cv2`` border mode of the warp.
    """
    x0, y0, x1, y1 = box
    corners = points[triangles[over_face]].reshape(-1, 2) - [x0, y0]
    if len(corners) == 0:
        return region
    lo = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 1, 0)
    hi = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 2, [x1 - x0, y1 - y0])
    if (hi <= lo).any():
        return region
    rows, cols = slice(lo[1], hi[1]), slice(lo[0], hi[0])
    lut = np.append(over_face, False)
    ys, xs = np.nonzero(lut[ids[rows, cols]])  # most of them lie under the face: few are drawn
    if len(ys) == 0:
        return region
    ys, xs = ys + lo[1], xs + lo[0]
    n = len(ys)  # only the pixels that need it, as rows of 1024 (cv2.remap takes < 32767 columns)
    maps = np.zeros((2, -(-n // 1024) * 1024), np.float32)
    maps[:, :n] = back[:, ys, xs] - np.array([[x0], [y0]], np.float32)
    maps = maps.reshape(2, -1, 1024)
    sampled = cv2.remap(plate, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=border)
    region[ys, xs] = sampled.reshape(-1, 3)[:n]
    return region

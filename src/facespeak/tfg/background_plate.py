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

The push-pull fill is smooth; near the face's edge the plate carries the texture of what lies
beside the face instead: each face pixel takes its mirror image across the face's edge in its row
(:func:`mirror_sources`), fading into the smooth fill deeper in. Where hair lies over a turned
face's far cheek (Lenna, -27 deg) the smooth fill drew a flat band between the moved cheek and the
strands, a hard, cut-out cheek line; the mirrored hair continues the strands (session 14).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["PLATE_OVERLAP_PX", "PLATE_GROW", "PLATE_MIN_TRIANGLES", "MIRROR_SMOOTH", "MIRROR_DEPTH", "grown_face",
           "background_plate", "mirror_sources", "triangles_over_face", "sample_plate"]

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
#: the face's edge that the fill mirrors across, per row, is smoothed over rows by a Gaussian of this
#: fraction of the face's width (the grown mask's edge steps from row to row; mirrored across it,
#: a hair strand beside the face came out as a staircase)
MIRROR_SMOOTH = 0.02
#: the mirrored texture is used whole up to half this fraction of the face's width from the edge and
#: fades into the smooth fill by 1.5 times it (mirrored from farther out, a bright strand of
#: Lenna's hair 3-5 px past her cheek came out as a pale wedge at eye level)
MIRROR_DEPTH = 0.04


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
    ``(h, w) bool`` face pixels, grown by :data:`PLATE_GROW`, filled from their surroundings:
    the push-pull fill, carrying the mirrored texture beside the face near its edge
    (:func:`mirror_sources`); unchanged elsewhere."""
    x0, y0, x1, y1 = box
    region = canvas[y0:y1, x0:x1]
    if not face.any():
        return region.copy()
    face = grown_face(face)
    fill = _push_pull(region, face)
    ys, xs, mx, weight = mirror_sources(face)
    mirrored = _remap_points(region, np.where(weight > 0, mx, 0.0), ys.astype(np.float32), cv2.BORDER_REPLICATE)
    plate = region.copy()
    blend = weight[:, None] * mirrored + (1.0 - weight[:, None]) * fill[ys, xs]
    plate[ys, xs] = np.clip(blend + 0.5, 0, 255).astype(np.uint8)
    return plate


def _push_pull(region: np.ndarray, face: np.ndarray) -> np.ndarray:
    """``(h, w, 3) float32`` the ``(h, w, 3)`` region interpolated into its ``(h, w) bool`` face
    pixels from the rest (push-pull: a mask-weighted Gaussian pyramid, down then up)."""
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
    return fill


def mirror_sources(face: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where each pixel of the ``(h, w) bool`` face mask takes the texture beside the face from.

    In its row, a face pixel is mirrored across the nearer of the row's two face edges (each
    edge smoothed over rows by :data:`MIRROR_SMOOTH` of the face's width), to at least the first
    pixel outside the face: continuous with the photo at the edge, the same strands, shading and
    grain beside it. Its weight is 1 up to half :data:`MIRROR_DEPTH` of the face's width from that
    edge and falls to 0 at 1.5 times it; 0 where the mirror image leaves the region or lands in
    the face (a row the face crosses twice).

    Returns:
        ``(n,)`` rows and ``(n,)`` columns of the face pixels, ``(n,) float32`` the column each
        samples (same row) and ``(n,) float32`` its weight.
    """
    h, w = face.shape
    rows = face.any(axis=1)
    cols = np.flatnonzero(face.any(axis=0))
    width = float(cols[-1] - cols[0] + 1) if len(cols) else 1.0
    left = np.argmax(face, axis=1) - 0.5  # the edge before a row's first face pixel
    right = w - np.argmax(face[:, ::-1], axis=1) - 0.5  # ... and after its last
    ys, xs = np.nonzero(face)
    near_left = xs - left[ys] <= right[ys] - xs
    axis = np.where(near_left, _smooth_rows(left, rows, MIRROR_SMOOTH * width)[ys],
                    _smooth_rows(right, rows, MIRROR_SMOOTH * width)[ys])
    mx = np.where(near_left, np.minimum(2.0 * axis - xs, left[ys] - 0.5), np.maximum(2.0 * axis - xs, right[ys] + 0.5))
    weight = np.clip(1.5 - np.abs(xs - axis) / (MIRROR_DEPTH * width), 0.0, 1.0)
    inside = (mx >= 0) & (mx <= w - 1)
    inside[inside] = ~face[ys[inside], np.round(mx[inside]).astype(np.int64)]
    return ys, xs, mx.astype(np.float32), np.where(inside, weight, 0.0).astype(np.float32)


def _smooth_rows(edge: np.ndarray, rows: np.ndarray, sigma: float) -> np.ndarray:
    """``(h,)`` a per-row ``edge`` position Gaussian-smoothed over the ``rows`` that have one."""
    if sigma < 0.5:
        return edge
    radius = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    weight = np.convolve(rows.astype(np.float64), kernel, mode="same")
    return np.convolve(np.where(rows, edge, 0.0), kernel, mode="same") / np.maximum(weight, 1e-9)


def _remap_points(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, border: int) -> np.ndarray:
    """``(n, 3)`` bilinear samples of ``(h, w, 3)`` ``image`` at ``(n,)`` float positions, in rows
    of 1024 (``cv2.remap`` takes fewer than 32767 columns, which a full-size photo exceeds)."""
    n = len(xs)
    maps = np.zeros((2, -(-n // 1024) * 1024), np.float32)
    maps[0, :n], maps[1, :n] = xs, ys
    maps = maps.reshape(2, -1, 1024)
    sampled = cv2.remap(image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=border)
    return sampled.reshape(-1, image.shape[2])[:n]


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
    region[ys, xs] = _remap_points(plate, back[0, ys, xs] - x0, back[1, ys, xs] - y0, border)  # only these
    return region

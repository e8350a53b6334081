"""Where each triangle of the mesh warp (:mod:`facespeak.tfg.mesh_renderer`) takes its texture
from, per frame: its own source triangle in the photo; its mirror image across the face's
symmetry plane, colour-matched to the side it fills (skin a turn reveals); or an unwarped copy of
the photo (:func:`rigid_copy`) where neither holds up (a hidden triangle, a squeezed sliver, an
over-stretched triangle whose copy lies inside the face); a face triangle's copy is kept inside the
photo's face (:func:`keep_inside`). A sliver along a turned face's far silhouette whose own
texture is partly the wall behind it slides off it as a turn back grows it (:func:`face_colours`,
:func:`clean_shift`; issue 12's pale wedges). Pixels of a squashed triangle outside
its exact shape sample its texture's edge (:func:`clamp_to_texture`). The tearing check
(:mod:`facespeak.tfg.warp_check`) measures the result (docs/renderer.md, "No tearing").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np

from ..core.jit import njit
from . import mesh_topology as mt
from .mesh_space import canonical_landmarks
from .mesh_triangles import signed_area as _signed_area
from .texture_foreign import (FOREIGN_MAX_SHIFT, FOREIGN_REVEAL, FOREIGN_SLIVER, clean_shift, eye_to_mouth, face_colours,
                              nose_and_lips)

if TYPE_CHECKING:
    from .mesh_renderer import FrameWarp, _Warp

__all__ = ["MIRROR_STRETCH", "MIRROR_MIN_SCALE", "MIRROR_MIN_HEIGHT", "BACK_SCALE_MAX", "MIRROR_POINT", "mirror_table",
           "side_gains", "match_mirrored", "RestTextures", "rest_textures", "texture_source", "eye_to_mouth", "back_scale",
           "backward_affines", "clamp_to_texture", "rigid_copy", "keep_inside", "INSIDE_STEP_PX", "inside_face"]


def mirror_table() -> np.ndarray:
    """``(468 + 36,)`` control point -> its mirror image across the face's symmetry plane
    (MediaPipe's canonical face is left-right symmetric; the head ring follows the face oval)."""
    from scipy.spatial import cKDTree

    canon = canonical_landmarks()[: mt.N_MESH_NO_IRIS]
    _, face = cKDTree(canon).query(canon * [-1.0, 1.0, 1.0])
    oval = {p: k for k, p in enumerate(mt.FACE_OVAL)}
    ring = [oval[int(face[p])] + mt.N_MESH_NO_IRIS for p in mt.FACE_OVAL]
    return np.concatenate([face, ring]).astype(np.int64)


MIRROR_POINT = mirror_table()
#: a front-facing triangle whose texture would stretch by more than this takes the mirror
#: image's texture when that one stretches less (and faces the camera in the photo). 3x, the
#: tearing check's limit (session 11; 2x before): the other side's shading, hair or collar differ,
#: and at 2-3x the mirror images drew dark patches beside a turned frontal nose, a white wedge at
#: the collar and hair as dark wedges in a neck, where the own texture holds up
MIRROR_STRETCH = 3.0
#: ... unless the output triangle is a sliver under this fraction of the mirror image's area
MIRROR_MIN_SCALE = 0.5
#: ... or the mirror image itself is thinner than this fraction of the eye-to-mouth distance (its
#: smallest height; 2 px in a 512 px crop, whose eye-to-mouth distance is ~115 px): a strip along
#: the other side's silhouette is that side's edge (hair, shadow, background), not skin; mirrored
#: onto this side's silhouette it drew a dark hairline down the cheek (session 13)
MIRROR_MIN_HEIGHT = 0.0175
#: a triangle whose backward map (output px -> photo px) magnifies more than this samples the
#: nearest point of its texture's edge for its pixels outside its exact output shape
#: (:func:`clamp_to_texture`)
BACK_SCALE_MAX = 4.0


def side_gains(canvas: np.ndarray, source: np.ndarray, triangles: np.ndarray, facing: np.ndarray,
                side: np.ndarray) -> np.ndarray:
    """``(2, 3)`` per-channel gain for texture mirrored *onto* each half of the face: mean colour
    of that half's skin over the other half's (front-facing face triangles' centroids), within
    0.6-1.6, so a mirrored cheek takes the lighting of the side it fills."""
    face = (triangles < mt.N_MESH_NO_IRIS).all(axis=1) & (facing * _signed_area(source[triangles]) > 0)
    h, w = canvas.shape[:2]
    means = []
    for s in (0, 1):
        c = np.round(source[triangles[face & (side == s)]].mean(axis=1)).astype(int)
        c = c[(c[:, 0] >= 0) & (c[:, 0] < w) & (c[:, 1] >= 0) & (c[:, 1] < h)]
        means.append(canvas[c[:, 1], c[:, 0]].reshape(-1, 3).mean(axis=0) + 1.0 if len(c) else np.ones(3))
    return np.clip(np.stack([means[0] / means[1], means[1] / means[0]]), 0.6, 1.6).astype(np.float32)


def match_mirrored(region: np.ndarray, fw: FrameWarp, warp: _Warp) -> np.ndarray:
    """Scale the colour of pixels drawn from mirrored texture by their side's gain (in place)."""
    gains = np.ones((len(warp.triangles) + 1, 3), np.float32)
    gains[:-1][fw.mirrored] = warp.gain[warp.side[fw.mirrored]]
    flagged = np.append(fw.mirrored, False)  # last id: no moving triangle
    # only the box around the mirrored triangles' output corners can hold their pixels
    corners = fw.points[warp.triangles[fw.mirrored]].reshape(-1, 2) - warp.box[:2]
    h, w = fw.ids.shape
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 1, 0, [w, h])
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 2, 0, [w, h])
    ids = fw.ids[y0:y1, x0:x1]
    pix = flagged[ids]
    box = region[y0:y1, x0:x1]  # a view: region is this frame's own fresh array
    box[pix] = np.clip(box[pix] * gains[ids[pix]], 0, 255).astype(np.uint8)
    return region


def texture_source(dst: np.ndarray, area_out: np.ndarray, warp: _Warp) -> tuple[np.ndarray, np.ndarray]:
    """``(n_tri, 3, 2)`` source corners each triangle samples and ``(n_tri,) bool`` mirrored.

    A drawn head triangle that faced away from the camera in the photo (its texture is not in
    the photo) or would stretch by more than ``MIRROR_STRETCH`` takes the texture of its mirror
    image across the face's symmetry plane, when that one faces the camera in the photo and
    stretches less: the skin a turn reveals is filled from the other side of the face. It copies
    the photo unwarped instead (:func:`rigid_copy`; not mirrored) where both are hidden, where the
    mirror image would be squeezed into a thin output sliver (under ``MIRROR_MIN_SCALE`` of its
    area) or is itself a sliver (thinner than ``MIRROR_MIN_HEIGHT`` of the eye-to-mouth
    distance), and, for a face triangle outside the mouth opening, where the best texture would still
    stretch past ``MIRROR_STRETCH`` and the copy lies inside the photo's face. The band and culled
    triangles keep their own texture. ``dst``: ``(n_tri, 3, 2)`` output corners; ``area_out``:
    ``(n_tri,)`` their signed areas."""
    rest = warp.rest
    src, area_src, msrc, area_m, own_faces, thin_m = rest.src.copy(), *rest[1:6]
    stretch_m = np.abs(area_out) / np.maximum(np.abs(area_m), 1e-9)
    stretch_o = np.abs(area_out) / np.maximum(np.abs(area_src), 1e-9)
    own_ok = own_faces & (stretch_o <= MIRROR_STRETCH)
    # a mirror image reverses orientation: it faced the camera when its area sign is -facing
    use = (warp.mirror[:, 0] >= 0) & ~own_ok & (warp.facing * area_m < 0) & (~own_faces | (stretch_m < stretch_o))
    best = np.where(use, stretch_m, np.where(own_faces, stretch_o, np.inf))
    # the band (facing 0) always samples its own source; head triangles turned away (culled, not
    # drawn) keep theirs too (a turned photo has ~250 of them: no copies made for nothing)
    head = warp.facing * area_out > 0
    # a mirror image squeezed into a thin sliver along the silhouette packs the other side's skin,
    # shading and edge into a line between own-textured neighbours (a jagged crack, issue 12)
    rigid = head & ((use & ((stretch_m < MIRROR_MIN_SCALE) | thin_m)) | np.isinf(best))
    # a face triangle whose best texture would still stretch past MIRROR_STRETCH (a mouth corner
    # opening, a nose side or underside unfolding, a turned-back cheek) copies the photo unwarped
    # where that copy lies inside the face; at the silhouette it would take in background (and
    # moved inwards it drew skin-coloured streaks along the edge), so there it stays stretched.
    # The mouth opening's triangles open from nothing and are painted over: left as they are
    over = head & warp.face & ~warp.opening & ~rigid & (best > MIRROR_STRETCH)
    if over.any():
        over[over] = inside_face(warp, rigid_copy(dst[over], src[over])).all(axis=1)
    rigid |= over
    use &= head & ~rigid
    # an own texture that reaches past the silhouette (wall behind a turned face's far side)
    # slides off it as the turn back towards the camera grows its triangle (issue 12): none at its
    # own area (the photo at rest), its whole shift at FOREIGN_REVEAL times it, smoothly between
    # per control point (the slivers' corners), so neighbours' textures stay joined: each point
    # slides as far as its fastest-growing sliding triangle asks
    slide = ~use & ~rigid & rest.slid
    if slide.any():
        f = np.clip((stretch_o[slide] - 1.0) / (FOREIGN_REVEAL - 1.0), 0.0, 1.0)
        tri = warp.triangles[slide]
        fv = np.zeros(len(rest.shift))
        np.maximum.at(fv, tri.ravel(), np.repeat(f, 3))
        moved = src[slide] + fv[tri][..., None] * rest.shift[tri]
        # a triangle whose corners move apart so far that its texture would fold or shrink to half
        # or grow to twice its area (a thin neighbour of a sliver) is translated whole instead, by
        # its corners' mean move
        ratio = _signed_area(moved) / area_src[slide]
        whole = (ratio < 0.5) | (ratio > 2.0)
        # ... or would stretch past MIRROR_STRETCH where its own texture did not (the tearing check)
        grown = np.abs(area_out[slide])
        whole |= (grown > MIRROR_STRETCH * np.abs(ratio * area_src[slide])) & (grown <= MIRROR_STRETCH * np.abs(area_src[slide]))
        moved[whole] = src[slide][whole] + (fv[tri[whole]][..., None] * rest.shift[tri[whole]]).mean(axis=1, keepdims=True)
        src[slide] = moved
    src[use] = msrc[use]
    src[rigid] = rigid_copy(dst[rigid], src[rigid])
    # a face triangle's copy reaches past the photo's face where its output is wider than its
    # source (a sliver on the silhouette): moved inwards just enough, it shows no background
    inner = rigid & warp.face & ~warp.opening
    if inner.any():
        src[inner] = keep_inside(warp, src[inner], rest.centre)
        if rest.clean is not None:  # ... and off foreign colour the mesh's face takes in (issue 12)
            most = FOREIGN_MAX_SHIFT * eye_to_mouth(warp.source)
            src[inner] += clean_shift(src[inner], rest.clean, rest.centre, most, INSIDE_STEP_PX)[:, None, :]
    return src, use


class RestTextures(NamedTuple):
    """What :func:`texture_source` needs of a portrait's photo, the same every frame
    (:func:`rest_textures`, kept with the renderer's per-portrait warp)."""

    src: np.ndarray  # (n_tri, 3, 2) each triangle's own source corners, px
    area_src: np.ndarray  # (n_tri,) their signed areas
    msrc: np.ndarray  # (n_tri, 3, 2) its mirror image's corners
    area_m: np.ndarray  # (n_tri,) their signed areas
    own_faces: np.ndarray  # (n_tri,) bool: its own texture faces the camera in the photo
    thin_m: np.ndarray  # (n_tri,) bool: its mirror image is a sliver (MIRROR_MIN_HEIGHT)
    centre: np.ndarray  # (2,) the face oval's mean, px: where "inwards" points (keep_inside)
    shift: np.ndarray  # (N, 2) move of each control point's texture off foreign colour, px (clean_shift; 0: none)
    slid: np.ndarray  # (n_tri,) bool: own-textured face triangles with a corner that moves
    clean: tuple[np.ndarray, int, int] | None  # face-colour map of the photo (face_colours; None: no canvas)


def rest_textures(source: np.ndarray, triangles: np.ndarray, mirror: np.ndarray, facing: np.ndarray,
                  canvas: np.ndarray | None = None) -> RestTextures:
    """The per-portrait part of :func:`texture_source` for ``(N, 2)`` control points at zero motion
    (canvas px), ``(n_tri, 3)`` triangles, their ``(n_tri, 3)`` mirror images (-1 rows: none) and
    ``(n_tri,)`` front-facing orientations; ``canvas``: the photo (RGB uint8), for
    where its colours belong to the face (:func:`face_colours`; none: every texture stays put)."""
    src = source[triangles]
    area_src = _signed_area(src)
    msrc = source[np.maximum(mirror, 0)]
    area_m = _signed_area(msrc)
    e2m = eye_to_mouth(source)
    thin_m = 2.0 * np.abs(area_m) < MIRROR_MIN_HEIGHT * e2m * _longest_edge(msrc)
    own_faces = facing * area_src > 0
    centre = source[list(mt.FACE_OVAL)].mean(axis=0)
    shift = np.zeros((len(source), 2))
    clean = None
    if canvas is not None:
        clean = face_colours(canvas, source, triangles, own_faces)
        # slivers only: a larger triangle on foreign colour is the near side's jaw shadow or hair
        # over the cheek (its texture is its own), and would swim when a turn away grows it
        # (every own-textured face triangle: ~300 per face, the jaw's slid into orange blotches)
        sliver = 2.0 * np.abs(area_src) < FOREIGN_SLIVER * e2m * _longest_edge(src)
        # ... and not along the inner lips: the teeth between them are as pale as a white wall or
        # collar (the astronaut's lips, closing over her smile, slid off them and showed them)
        inner_lip = np.isin(triangles, mt.LIP_UPPER_INNER + mt.LIP_LOWER_INNER + mt.MOUTH_CORNERS_INNER).any(axis=1)
        face = own_faces & sliver & ~inner_lip & nose_and_lips(triangles)
        tri_shift = clean_shift(src[face], clean, centre, FOREIGN_MAX_SHIFT * e2m, INSIDE_STEP_PX)
        # each corner takes the longest move of its slivers
        for t, d in sorted(zip(triangles[face], tri_shift), key=lambda z: float(np.hypot(*z[1]))):
            shift[t] = d
    slid = (triangles < mt.N_MESH_NO_IRIS).all(axis=1) & own_faces & np.any(shift[triangles] != 0.0, axis=(1, 2))
    return RestTextures(src, area_src, msrc, area_m, own_faces, thin_m, centre, shift, slid, clean)


def _longest_edge(corners: np.ndarray) -> np.ndarray:
    """``(n_tri,)`` length of each ``(n_tri, 3, 2)`` triangle's longest edge."""
    return np.linalg.norm(corners - np.roll(corners, -1, axis=1), axis=2).max(axis=1)


def back_scale(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """``(n_tri,)`` largest singular value of each triangle's backward linear map (output px ->
    source px) for ``(n_tri, 3, 2)`` output and source corners; inf for a collapsed output
    (:func:`backward_affines`)."""
    return backward_affines(dst, src)[1]


def backward_affines(dst: np.ndarray, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(n_tri, 6)`` backward affine of each triangle, rows ``(a, b, c, d, e, f)``: an output pixel
    at ``(x, y)`` samples ``(a x + b y + c, d x + e y + f)`` (not finite for a collapsed output), and
    the ``(n_tri,)`` largest singular value of its linear part (inf for a collapsed output), for
    ``(n_tri, 3, 2)`` output and source corners (px).

    The linear part is ``F E^-1`` with edge matrices ``E`` (output) and ``F`` (source); ``M = F
    adj(E) = F E^-1 det E`` is formed entry by entry (faster than batched solves), and its largest
    singular value is ``sqrt((|M|^2 + sqrt(|M|^4 - 4 det(M)^2)) / 2)``."""
    e1, e2 = dst[:, 1] - dst[:, 0], dst[:, 2] - dst[:, 0]
    f1, f2 = src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]
    det = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    m00 = f1[:, 0] * e2[:, 1] - f2[:, 0] * e1[:, 1]
    m01 = f2[:, 0] * e1[:, 0] - f1[:, 0] * e2[:, 0]
    m10 = f1[:, 1] * e2[:, 1] - f2[:, 1] * e1[:, 1]
    m11 = f2[:, 1] * e1[:, 0] - f1[:, 1] * e2[:, 0]
    sq = m00 * m00 + m01 * m01 + m10 * m10 + m11 * m11
    dm = m00 * m11 - m01 * m10
    top = np.sqrt(0.5 * (sq + np.sqrt(np.maximum(sq * sq - 4.0 * dm * dm, 0.0))))
    with np.errstate(divide="ignore", invalid="ignore"):
        lin = np.stack([m00, m01, m10, m11], axis=1) / det[:, None]
        scale = np.where(np.abs(det) > 1e-12, top / np.abs(det), np.inf)
    x0, y0 = dst[:, 0, 0], dst[:, 0, 1]
    affine = np.stack([lin[:, 0], lin[:, 1], src[:, 0, 0] - lin[:, 0] * x0 - lin[:, 1] * y0,
                       lin[:, 2], lin[:, 3], src[:, 0, 1] - lin[:, 2] * x0 - lin[:, 3] * y0], axis=1)
    return affine, scale


def clamp_to_texture(back: np.ndarray, ids: np.ndarray, wild: np.ndarray, dst: np.ndarray, src: np.ndarray,
                     box: tuple[int, int, int, int]) -> None:
    """Pixels of the ``wild`` triangles (indices; their backward maps magnify more than
    ``BACK_SCALE_MAX``) that lie outside their exact output triangle sample the nearest point of
    its source edge instead of the affine's extrapolation (in place on ``back`` ``(2, h, w)``).

    A triangle squashed towards a line still owns the pixels rasterised along it (their centres
    up to ~1 px outside it), and its affine sent them up to hundreds of px away: background or
    hair inside the face (every foreign pixel of the tearing check, session 12). ``ids``: ``(h,
    w)`` owning triangle per region pixel; ``dst`` / ``src``: ``(n_tri, 3, 2)`` output and
    texture corners, canvas px; ``box``: the region (canvas px)."""
    _clamp(back, ids, np.ascontiguousarray(wild, np.int64), np.ascontiguousarray(dst, np.float64),
           np.ascontiguousarray(src, np.float64), int(box[0]), int(box[1]))


@njit(cache=True, nogil=True)
def _clamp(back, ids, wild, dst, src, x0, y0):  # pragma: no cover - jitted
    h, w = ids.shape
    for t in wild:
        ax, ay, bx, by, cx, cy = dst[t, 0, 0], dst[t, 0, 1], dst[t, 1, 0], dst[t, 1, 1], dst[t, 2, 0], dst[t, 2, 1]
        sign = -1.0 if (bx - ax) * (cy - ay) - (by - ay) * (cx - ax) < 0 else 1.0
        # only its box can hold its pixels
        lo_x = max(0, int(np.floor(min(ax, bx, cx) - x0)) - 1)
        hi_x = min(w, int(np.ceil(max(ax, bx, cx) - x0)) + 2)
        lo_y = max(0, int(np.floor(min(ay, by, cy) - y0)) - 1)
        hi_y = min(h, int(np.ceil(max(ay, by, cy) - y0)) + 2)
        for y in range(lo_y, hi_y):
            py = float(y + y0)
            for x in range(lo_x, hi_x):
                if ids[y, x] != t:
                    continue
                px = float(x + x0)
                if (sign * ((bx - ax) * (py - ay) - (by - ay) * (px - ax)) >= 0
                        and sign * ((cx - bx) * (py - by) - (cy - by) * (px - bx)) >= 0
                        and sign * ((ax - cx) * (py - cy) - (ay - cy) * (px - cx)) >= 0):
                    continue  # inside its exact shape: the affine holds
                best, qx, qy = np.inf, 0.0, 0.0
                for j in range(3):  # the nearest point of each edge; keep the nearest
                    k = (j + 1) % 3
                    ex, ey = dst[t, k, 0] - dst[t, j, 0], dst[t, k, 1] - dst[t, j, 1]
                    f = ((px - dst[t, j, 0]) * ex + (py - dst[t, j, 1]) * ey) / max(ex * ex + ey * ey, 1e-12)
                    f = min(max(f, 0.0), 1.0)
                    dist = (dst[t, j, 0] + f * ex - px) ** 2 + (dst[t, j, 1] + f * ey - py) ** 2
                    if dist < best:
                        best = dist
                        qx = src[t, j, 0] + f * (src[t, k, 0] - src[t, j, 0])
                        qy = src[t, j, 1] + f * (src[t, k, 1] - src[t, j, 1])
                back[0, y, x] = qx
                back[1, y, x] = qy


def rigid_copy(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """``(m, 3, 2)`` source corners that copy the photo unwarped: each output triangle ``dst``
    ``(m, 3, 2)`` translated onto its source ``src``'s centroid (same shape and orientation, so
    neither folded nor stretched)."""
    return src.mean(axis=1, keepdims=True) + dst - dst.mean(axis=1, keepdims=True)


#: steps (px) by which :func:`keep_inside` tries moving a copy towards the face's centre
INSIDE_STEP_PX = 0.5


def keep_inside(warp: _Warp, copies: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """``(m, 3, 2)`` unwarped copies (:func:`rigid_copy`, canvas px) moved towards the face's
    ``(2,)`` centre by the least multiple of :data:`INSIDE_STEP_PX` that puts them inside the
    photo's face (:func:`inside_face`), at most half their longest edge; a copy that does not fit
    stays where it was.

    A sliver on the silhouette (a mirror image too thin, or both it and its own texture hidden)
    copies the photo around its own thin source, and its output is wider: centred there, the copy
    reached past the face's outline by half the difference and drew 1-2 px of what lies beyond
    (background, hair) inside the face, more the larger the face is drawn (a crop zoomed in by
    ``face.align.fit_inside``, crop 512, full size): every foreign pixel of the tearing check
    there (session 14)."""
    if len(copies) == 0:
        return copies
    toward = centre - copies.mean(axis=1)
    toward /= np.maximum(np.linalg.norm(toward, axis=1, keepdims=True), 1e-9)
    steps = np.arange(0.0, 0.5 * _longest_edge(copies).max() + INSIDE_STEP_PX, INSIDE_STEP_PX)
    moved = copies[:, None] + steps[None, :, None, None] * toward[:, None, None, :]  # (m, k, 3, 2)
    fits = inside_face(warp, moved.reshape(-1, 3, 2)).all(axis=1).reshape(len(copies), len(steps))
    fits &= steps[None, :] <= 0.5 * _longest_edge(copies)[:, None]
    first = np.where(fits.any(axis=1), fits.argmax(axis=1), 0)
    return moved[np.arange(len(copies)), first]


def inside_face(warp: _Warp, corners: np.ndarray) -> np.ndarray:
    """``(m, 7) bool``: are the corners, edge midpoints and centroid of ``(m, 3, 2)`` triangles
    (canvas px) inside the photo's face (``warp.inside``)?"""
    probe = np.concatenate([corners, 0.5 * (corners + np.roll(corners, -1, axis=1)),
                            corners.mean(axis=1, keepdims=True)], axis=1)
    pts = np.round(probe - warp.box[:2]).astype(np.int64)
    h, w = warp.inside.shape
    ok = (pts[..., 0] >= 0) & (pts[..., 0] < w) & (pts[..., 1] >= 0) & (pts[..., 1] < h)
    ok[ok] = warp.inside[pts[..., 1][ok], pts[..., 0][ok]]
    return ok

"""Triangles of the mesh warp (:mod:`facespeak.tfg.mesh_renderer`): which control points form
them, and which way each faces the camera.

- **Head** (468 mesh points + the head ring): a triangulation of MediaPipe's *canonical*,
  frontal face laid out with the jaw opened, so it is a surface triangulation of the head that
  does not depend on how the photo is turned (back-face culling compares a triangle's projected
  orientation with its canonical one). The mouth opening is spanned by inner-lip triangles
  only (the mouth interior is painted over them): Delaunay with the inner-lip contour forced in
  as edges (:func:`_force_edges`, edge flips after Sloan 1993), after moving any other lip point
  that lies inside the opening just out of it (:func:`_out_of_the_opening`).
- **Band** between the head ring and the static ring: Delaunay in the photo (:func:`band`).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
from scipy.spatial import Delaunay

from . import mesh_topology as mt
from .lip_contours import inner_lip_polygon, lip_line
from .mesh_space import EXPRESSION_NAMES, canonical_landmarks, mesh_basis

__all__ = ["signed_area", "cross2", "triangulate", "head_triangles", "head_layout", "band", "keep_band_open",
           "keep_silhouette_unstretched", "face_mask", "OPENING_MARGIN_CM", "BAND_MIN_SHARE", "SILHOUETTE_STRETCH"]

#: a lip point (not on the inner contour) that lies inside the opening of the triangulation
#: layout is laid out this far above the upper inner lip instead (cm)
OPENING_MARGIN_CM = 0.02
#: no band triangle is squeezed below this share of its area in the photo (:func:`keep_band_open`)
BAND_MIN_SHARE = 0.25
#: no face triangle along the face oval grows past this multiple of its area in the photo
#: (:func:`keep_silhouette_unstretched`; the tearing check's limit is 3)
SILHOUETTE_STRETCH = 2.8
_INNER_LIP = mt.LIP_UPPER_INNER + mt.LIP_LOWER_INNER + mt.MOUTH_CORNERS_INNER


def signed_area(tri: np.ndarray) -> np.ndarray:
    """``(n, 3, 2)`` -> ``(n,)`` signed areas (px^2 or the points' units squared)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def triangulate(ring_scale: float, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Triangles of the warp and the orientation each shows when it faces the camera.

    ``source``: ``(N, 2)`` control points at zero motion, px (468 mesh points, the 36-point head
    ring, the 36-point static ring). Returns ``(n_tri, 3)`` control-point indices and ``(n_tri,)``
    facing signs (+-1 for head triangles, :func:`head_triangles`; 0 for the band, never culled:
    :func:`band`).
    """
    head, facing = head_triangles(ring_scale)
    ring = band(source, mt.N_MESH_NO_IRIS, len(mt.FACE_OVAL))
    return np.concatenate([head, ring]), np.concatenate([facing, np.zeros(len(ring))])


@functools.lru_cache(maxsize=4)
def head_triangles(ring_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """``(n_head, 3)`` triangles of the 468 mesh points and the head ring (indices 468..503), and
    their ``(n_head,)`` facing signs: the orientation each has in the canonical layout (a projected
    triangle of the opposite orientation faces away from the camera and is culled). The same
    for every portrait (read-only arrays)."""
    layout = head_layout(ring_scale)
    contour = [mt.MOUTH_CORNERS_INNER[0], *mt.LIP_UPPER_INNER, mt.MOUTH_CORNERS_INNER[1], *reversed(mt.LIP_LOWER_INNER)]
    tris = _force_edges(Delaunay(layout).simplices, layout, list(zip(contour, contour[1:] + contour[:1])))
    facing = np.sign(signed_area(layout[tris]))
    for a in (tris, facing):
        a.setflags(write=False)
    return tris, facing


def head_layout(ring_scale: float) -> np.ndarray:
    """``(468 + 36, 2)`` where the head is triangulated: the canonical face with the jaw opened
    (amount 1), lip points out of the opening (:func:`_out_of_the_opening`), and the head ring
    (the face oval scaled by ``ring_scale``), canonical cm."""
    canon = canonical_landmarks() + mesh_basis().design[EXPRESSION_NAMES.index("jaw_open")]
    oval = canonical_landmarks()[list(mt.FACE_OVAL), :2]
    centre = oval.mean(axis=0)
    return np.concatenate([_out_of_the_opening(canon[: mt.N_MESH_NO_IRIS, :2]), centre + (oval - centre) * ring_scale])


def _out_of_the_opening(layout: np.ndarray) -> np.ndarray:
    """``(468, 2)`` triangulation layout (canonical cm, jaw opened) with every point that is not
    on the inner-lip contour but lies inside the opening moved ``OPENING_MARGIN_CM`` above the
    upper inner lip: MediaPipe's canonical upper lip curls in, and near the corners the row above
    the inner contour (42, 272) lies 0.3 mm *below* it, inside the opening (with the jaw opened,
    the upper lip following the corners, 183 and 407 too)."""
    out = layout.copy()
    poly = inner_lip_polygon(layout).astype(np.float32)
    upper = lip_line(layout, mt.LIP_UPPER_INNER)
    order = np.argsort(upper[:, 0])
    inside = np.array([cv2.pointPolygonTest(poly, (float(x), float(y)), False) >= 0 for x, y in layout])
    inside[list(_INNER_LIP)] = False
    out[inside, 1] = np.interp(layout[inside, 0], upper[order, 0], upper[order, 1]) - OPENING_MARGIN_CM
    return out


def _side(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Sign of the turn ``u -> v -> w`` for ``(..., 2)`` points."""
    return np.sign((v[..., 0] - u[..., 0]) * (w[..., 1] - u[..., 1]) - (v[..., 1] - u[..., 1]) * (w[..., 0] - u[..., 0]))


def _crossing(p: np.ndarray, q: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Do segments ``pq`` (``(..., 2)`` each) and ``ab`` cross at a point inside both?"""
    return (_side(p, q, a) * _side(p, q, b) < 0) & (_side(a, b, p) * _side(a, b, q) < 0)


def _force_edges(tris: np.ndarray, points: np.ndarray, edges: list[tuple[int, int]]) -> np.ndarray:
    """``(n, 3)`` triangulation of ``points`` ``(N, 2)`` changed by edge flips so that every
    ``(a, b)`` of ``edges`` is an edge (Sloan 1993, "A fast algorithm for generating constrained
    Delaunay triangulations": flip an edge crossing ``ab`` whose two triangles form a convex
    quadrilateral, until none crosses). Every triangle of the result lies on one side of each
    forced edge."""
    tris = np.array(tris, np.int64)
    for a, b in edges:
        for _ in range(len(tris)):
            pq = np.stack([tris, np.roll(tris, -1, axis=1)], axis=2).reshape(-1, 2)  # (3n, 2) edges
            if ((pq[:, 0] == a) & (pq[:, 1] == b) | (pq[:, 0] == b) & (pq[:, 1] == a)).any():
                break
            cross = _crossing(points[pq[:, 0]], points[pq[:, 1]], points[a], points[b])
            for p, q in pq[cross]:
                k = np.flatnonzero((tris == p).any(axis=1) & (tris == q).any(axis=1))
                if len(k) != 2:
                    continue
                r, s = (int(tris[i][(tris[i] != p) & (tris[i] != q)][0]) for i in k)
                if _crossing(points[r], points[s], points[p], points[q]):  # convex: flip pq -> rs
                    tris[k[0]], tris[k[1]] = (r, p, s), (r, s, q)
                    break
            else:
                raise AssertionError(f"edge {a}-{b}: no crossing edge can be flipped")
        else:
            raise AssertionError(f"edge {a}-{b} not recovered")
    return tris


def band(source: np.ndarray, first: int, n: int) -> np.ndarray:
    """``(n_band, 3)`` triangles of the band between the head ring (control points ``first ..
    first + n - 1``, moving) and the static ring (the next ``n``): Delaunay of those ``2 n``
    points in the photo (``source`` ``(N, 2)`` px), keeping the triangles with corners on both.

    No point outside the static ring takes part: every band triangle lies inside the static
    ring's convex hull, whose edges never move and which stays 1 px or more inside the processed
    region's border, so the border keeps the photo's pixels however the head turns (while the
    head ring stays inside that hull: it lies ``static_scale / ring_scale`` times closer to the
    face). Session 8 triangulated the band together with 8 anchors on a box around the static
    ring; Delaunay joined moving ring points to them through gaps in the static ring, and in
    full mode the region's border moved (a seam against the photo around it, up to 16 levels;
    docs/renderer.md)."""
    ring = Delaunay(source[first:first + 2 * n]).simplices + first
    return ring[(ring >= first + n).any(axis=1) & (ring < first + n).any(axis=1)]


def keep_band_open(points: np.ndarray, rest: np.ndarray, triangles: np.ndarray,
                   min_share: float = BAND_MIN_SHARE) -> np.ndarray:
    """``(N, 2)`` control points with each band corner's move scaled back (by ``t`` in [0, 1],
    the smallest over its band triangles) so that no band triangle keeps less than ``min_share``
    of its area in the photo, let alone turns over.

    ``points``: ``(N, 2)`` this frame's control points; ``rest``: ``(N, 2)`` at zero motion (px);
    ``triangles``: ``(n_band, 3)`` the band (:func:`band`; its static corners never move). Where
    the head ring lies close to the static ring (the top of a head turned 49 deg) a head shift of
    a few cm slid the ring past a static point and folded the band between them (session 12).
    ``t`` is the first root of the triangle's area along its corners' straight paths, so it
    changes continuously with the motion (no frame-to-frame jump)."""
    a_rest = signed_area(rest[triangles])
    if (signed_area(points[triangles]) * np.sign(a_rest) >= min_share * np.abs(a_rest)).all():
        return points  # nothing squeezed (nearly every frame): no roots to find
    out = points.copy()
    for _ in range(8):  # a corner held back changes the areas of its other triangles: again
        d = out - rest
        a0, a1, a2 = _area_along(rest, d, triangles)
        s = np.sign(a0)  # f(t) = s area(t) - min_share |a0|, f(0) > 0: first root in (0, 1]
        t = _first_root(s * a2, s * a1, (1.0 - min_share) * np.abs(a0))
        if (t >= 1.0).all():
            break
        scale = np.ones(len(points))
        np.minimum.at(scale, triangles.ravel(), np.repeat(t, 3))
        out = rest + scale[:, None] * d
    return out


def keep_silhouette_unstretched(points: np.ndarray, rest: np.ndarray, triangles: np.ndarray, texture_area: np.ndarray,
                                movable: np.ndarray, limit: float = SILHOUETTE_STRETCH) -> np.ndarray:
    """``(N, 2)`` control points with the ``movable`` points held back, part of the way towards
    where the face's overall 2D affine motion would put them, so that none of the ``triangles``
    grows past ``limit`` times the area of the texture it can take.

    ``points``: ``(N, 2)`` this frame's control points; ``rest``: ``(N, 2)`` at zero motion (px);
    ``triangles``: ``(m, 3)`` the silhouette's face triangles (a corner on the face oval);
    ``texture_area``: ``(m,)`` px^2 the largest texture each can take in the photo (its own source
    or its mirror image, whichever faces the camera), signed with the orientation the triangle
    shows when it faces the camera; ``movable``: ``(N,) bool`` the face-oval points. A frontal
    photo sees the strip along the face oval edge-on (1-5 px^2 triangles at 256 px); a turn
    unfolds it 3-8x, magnifying a few pixels of edge skin (issue 12, session 12). Holding the
    oval back by a pixel or two keeps that strip near the photo's resolution and lets the head
    ring's triangles beyond it (hair, background; tens of px^2) take up the difference. Each
    over-stretched triangle walks its oval corners along the straight path towards the affine's
    positions until its area is down to the cap (the first root of the quadratic area), so the
    held-back points change continuously with the motion."""
    s = np.sign(texture_area)
    cap = limit * np.abs(texture_area)
    if (s * signed_area(points[triangles]) <= cap).all():
        return points  # nothing stretched past the limit (nearly every frame)
    face = slice(0, mt.N_MESH_NO_IRIS)
    homo = np.concatenate([rest[face], np.ones((mt.N_MESH_NO_IRIS, 1))], axis=1)
    affine = np.linalg.lstsq(homo, points[face], rcond=None)[0]  # (3, 2) the face's 2D motion
    held = points.copy()
    held[movable] = np.concatenate([rest[movable], np.ones((int(movable.sum()), 1))], axis=1) @ affine
    out = points.copy()
    for _ in range(8):  # a point held back changes the areas of its other triangles: again
        e = held - out  # (zero but for the movable points)
        a0, a1, a2 = _area_along(out, e, triangles)
        c0 = s * a0 - cap
        over = c0 > 1e-9
        if not over.any():
            break
        c1, c2 = s * a1, s * a2
        # walk each over-stretched triangle's corners towards the affine's positions until its
        # area is down to the cap (all the way where it never gets there)
        u = np.zeros(len(triangles))
        u[over] = _first_root(c2[over], c1[over], c0[over])
        step = np.zeros(len(points))
        np.maximum.at(step, triangles.ravel(), np.repeat(u, 3))
        out = out + step[:, None] * e
    return out


def _area_along(start: np.ndarray, move: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(a0, a1, a2)``, each ``(n_tri,)``: the signed area ``a0 + a1 t + a2 t^2`` of each
    triangle when its corners go from ``start`` along ``start + t move`` (``(N, 2)`` each)."""
    a, b, c = (start[triangles[:, k]] for k in range(3))
    da, db, dc = (move[triangles[:, k]] for k in range(3))
    return (signed_area(np.stack([a, b, c], axis=1)), 0.5 * (cross2(b - a, dc - da) + cross2(db - da, c - a)),
            0.5 * cross2(db - da, dc - da))


def cross2(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """z of the cross product of ``(..., 2)`` vectors."""
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def _first_root(c2: np.ndarray, c1: np.ndarray, c0: np.ndarray) -> np.ndarray:
    """``(n,)`` the smallest root in (0, 1) of ``c2 t^2 + c1 t + c0`` (``c0 > 0``), else 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = np.sqrt(np.maximum(c1 * c1 - 4.0 * c2 * c0, 0.0))
        real = c1 * c1 - 4.0 * c2 * c0 >= 0.0
        quad = np.abs(c2) > 1e-12
        r1 = np.where(quad, (-c1 - disc) / (2.0 * c2), -c0 / c1)
        r2 = np.where(quad, (-c1 + disc) / (2.0 * c2), np.inf)
    roots = np.stack([np.where(real | ~quad, r1, np.inf), np.where(real & quad, r2, np.inf)])
    roots = np.where((roots > 0.0) & np.isfinite(roots), roots, np.inf)
    return np.minimum(roots.min(axis=0), 1.0)


def face_mask(source: np.ndarray, triangles: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``(h, w) bool`` region pixels inside the union of the face ``triangles`` at ``source``
    (canvas px): what an unwarped copy may sample (its pixels lie within ~1 px of it, and the
    tearing check tolerates 1 px: warp_check.EDGE_TOLERANCE_PX)."""
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for poly in np.round((source[triangles] - [x0, y0]) * 16).astype(np.int32):
        cv2.fillConvexPoly(mask, poly, 1, cv2.LINE_8, 4)
    return mask.astype(bool)

"""Tearing check of the mesh warp (issue 12): does a rendered frame fold, over-stretch or show
what lies outside the face inside it?

Three counts per frame, over the warp's moving triangles (:attr:`MeshRenderer.warp`):

- **folded**: visible triangles (owning at least ``MIN_VISIBLE_PX`` output pixels after the
  depth ordering and back-face culling) whose orientation in the output is opposite to that of
  the source triangle they sample (a mirrored source counts reflected): texture turned inside
  out where the viewer can see it, e.g. skin the photo shows from behind;
- **stretched**: visible triangles whose area grew by more than ``STRETCH_LIMIT`` (3x) over the
  source triangle they sample: texture
  from a foreshortened or hidden part of the photo smeared over a large area (a turned-back
  cheek, jagged triangles along the far side);
- **foreign**: output pixels inside the face (the union of the face-mesh triangles at their
  output positions, eroded by ``EDGE_TOLERANCE_PX``) whose source lies outside the face in the
  photo (the face-mesh triangles at their source positions, dilated by the same tolerance):
  background or hair showing through the face.

A face triangle is one whose three corners are face-mesh points (not the head ring, not the
static anchors). Triangles spanning the mouth opening (all corners on the inner-lip contour)
are not counted as folded or stretched: they open from nothing by design and the mouth
interior is painted over them (facespeak.tfg.mouth_interior). Pure functions of a renderer and motion; used by the tests and by
``scripts/tearing_check.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from . import mesh_topology as mt
from .mesh_renderer import FrameWarp, MeshRenderer

__all__ = ["TearingReport", "STRETCH_LIMIT", "count_tearing", "frame_tearing", "triangle_tearing"]

STRETCH_LIMIT = 3.0
_INNER_LIP = np.array(mt.LIP_UPPER_INNER + mt.LIP_LOWER_INNER + mt.MOUTH_CORNERS_INNER)
MIN_VISIBLE_PX = 2
EDGE_TOLERANCE_PX = 1


@dataclass(frozen=True)
class TearingReport:
    """Per-frame counts, each ``(T_video,)`` int: folded / stretched triangles, foreign pixels."""

    folded: np.ndarray = field(repr=False)
    stretched: np.ndarray = field(repr=False)
    foreign: np.ndarray = field(repr=False)

    def totals(self) -> dict[str, int]:
        return {"folded": int(self.folded.sum()), "stretched": int(self.stretched.sum()),
                "foreign_px": int(self.foreign.sum()), "frames": int(len(self.folded)),
                "frames_torn": int(((self.folded + self.stretched + self.foreign) > 0).sum())}

    @property
    def clean(self) -> bool:
        return not (self.folded.any() or self.stretched.any() or self.foreign.any())


def _signed_area(tri: np.ndarray) -> np.ndarray:
    """``(n, 3, 2)`` -> ``(n,)`` signed areas (px^2)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def _face_mask(points: np.ndarray, triangles: np.ndarray, box: tuple[int, int, int, int], grow: int) -> np.ndarray:
    """``(h, w) bool`` union of ``triangles`` at ``points`` over the region ``box``, grown
    (``grow > 0``) or shrunk (``< 0``) by ``|grow|`` px."""
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    fixed = np.round((points[triangles] - [x0, y0]) * 16).astype(np.int32)
    for poly in fixed:
        cv2.fillConvexPoly(mask, poly, 1, lineType=cv2.LINE_8, shift=4)
    if grow:
        kernel = np.ones((2 * abs(grow) + 1,) * 2, np.uint8)
        mask = (cv2.dilate if grow > 0 else cv2.erode)(mask, kernel)
    return mask.astype(bool)


def triangle_tearing(renderer: MeshRenderer, fw: FrameWarp) -> tuple[np.ndarray, np.ndarray]:
    """``(n_tri,) bool`` folded and ``(n_tri,) bool`` stretched masks over the renderer's moving
    triangles (``renderer.warp.triangles``) for one frame's warp (see the module docstring)."""
    warp = renderer.warp
    tri = warp.triangles
    # the texture each triangle samples: its own source triangle, or its mirror image (which
    # reverses orientation by design)
    texture = getattr(fw, "texture", warp.source[tri])  # renderers without mirror fill: own source
    mirrored = getattr(fw, "mirrored", np.zeros(len(tri), bool))
    a_src = _signed_area(texture) * np.where(mirrored, -1.0, 1.0)
    a_out = _signed_area(fw.points[tri])
    visible = np.bincount(fw.ids.ravel(), minlength=len(tri) + 1)[: len(tri)] >= MIN_VISIBLE_PX
    visible &= ~np.isin(tri, _INNER_LIP).all(axis=1)  # the mouth opening: painted over
    folded = visible & (np.sign(a_src) * np.sign(a_out) < 0)
    stretched = visible & ~folded & (np.abs(a_out) > STRETCH_LIMIT * np.abs(a_src))
    return folded, stretched


def frame_tearing(renderer: MeshRenderer, fw: FrameWarp | None, source_face: np.ndarray | None = None) -> tuple[int, int, int]:
    """(folded, stretched, foreign) for one frame's warp (``None`` = zero motion: all zero).

    ``source_face``: the dilated source face mask (computed when None; pass it for many frames).
    """
    if fw is None:
        return 0, 0, 0
    warp = renderer.warp
    tri = warp.triangles
    face_tri = tri[(tri < mt.N_MESH_NO_IRIS).all(axis=1)]
    if source_face is None:
        source_face = _face_mask(warp.source, face_tri, warp.box, EDGE_TOLERANCE_PX)
    folded, stretched = triangle_tearing(renderer, fw)
    inside = _face_mask(fw.points, face_tri, warp.box, -EDGE_TOLERANCE_PX)
    x0, y0, x1, y1 = warp.box
    sx = np.round(fw.back[0][inside]).astype(np.int64) - x0
    sy = np.round(fw.back[1][inside]).astype(np.int64) - y0
    h, w = source_face.shape
    ok = (sx >= 0) & (sx < w) & (sy >= 0) & (sy < h)
    ok[ok] = source_face[sy[ok], sx[ok]]
    return int(folded.sum()), int(stretched.sum()), int((~ok).sum())


def count_tearing(renderer: MeshRenderer, motion: np.ndarray) -> TearingReport:
    """Tearing counts for every frame of ``(T_video, D_motion)`` motion (see module docstring)."""
    motion = renderer.space.check_motion(motion)
    warp = renderer.warp
    face_tri = warp.triangles[(warp.triangles < mt.N_MESH_NO_IRIS).all(axis=1)]
    source_face = _face_mask(warp.source, face_tri, warp.box, EDGE_TOLERANCE_PX)
    counts = np.array([frame_tearing(renderer, renderer.frame_warp(row), source_face) for row in motion],
                      np.int64).reshape(-1, 3)
    return TearingReport(counts[:, 0], counts[:, 1], counts[:, 2])

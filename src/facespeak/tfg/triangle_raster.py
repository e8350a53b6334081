"""The per-pixel part of the mesh warp (:mod:`facespeak.tfg.mesh_renderer`): which triangle owns
each pixel of the region (an id map, far triangles drawn first) and the backward map that
applies each pixel's triangle affine.

Compiled with numba (pinned in ``requirements/lock.txt``): one pass over ~1000 triangles and one
over the pixels instead of ~1000 ``cv2.fillConvexPoly`` calls and six ``np.take`` gathers (a
512 px frame: ~3 ms -> ~1 ms on one core of a loaded machine; docs/renderer.md, "Speed at 512
(session 13)").
Without numba the same functions run as plain Python (identical output, far slower). The first
call of a compiled function in a process costs ~0.3-0.7 s even from numba's on-disk cache:
:func:`warm_up` pays it in a background thread while `say` synthesises the speech.

**Coverage rule** (:func:`triangle_ids`): corners are rounded to 1/16 px; pixel ``(x, y)`` (its
centre at ``(x, y)``) belongs to a triangle when its centre lies inside the triangle widened by
half a pixel along each edge's minor axis (the strip a one-pixel line drawn along the edge
covers), within the triangle's box widened by half a pixel. Neighbouring triangles thus share
a one-pixel seam (the later drawn owns it, as with ``cv2.fillConvexPoly``, whose outline adds
the same kind of strip), so no pixel between two triangles is left out, and a thin sliver still
owns the pixels along it (:func:`facespeak.tfg.texture_source.clamp_to_texture` keeps those that
fall outside its exact shape on its texture).
"""

from __future__ import annotations

import threading

import numpy as np

from ..core.jit import njit  # numba: ~100x faster than the same loops in Python

__all__ = ["SUBPIXEL", "triangle_ids", "apply_affines", "warm_up"]

#: corners are rounded to 1 / SUBPIXEL px (4 fractional bits, as the renderer used with cv2)
SUBPIXEL = 16


def triangle_ids(corners: np.ndarray, order: np.ndarray, shape: tuple[int, int], none: int) -> np.ndarray:
    """``(h, w) int32`` id map: the index of the triangle that owns each pixel, ``none`` where no
    triangle does.

    Args:
        corners: ``(n, 3, 2)`` triangle corners, px relative to the map's top-left pixel centre.
        order: ``(m,)`` indices of the triangles to draw, in drawing order (a later one covers an
            earlier one where they overlap).
        shape: ``(h, w)`` of the map.
        none: id of pixels no drawn triangle covers.
    """
    fixed = np.round(np.asarray(corners, np.float64) * SUBPIXEL).astype(np.int64)
    ids = np.full(shape, none, np.int32)
    _draw(ids, fixed, np.ascontiguousarray(order, np.int64))
    return ids


@njit(cache=True, nogil=True)
def _draw(ids, fixed, order):  # pragma: no cover - jitted
    h, w = ids.shape
    half = SUBPIXEL // 2
    for t in order:
        ax, ay = fixed[t, 0, 0], fixed[t, 0, 1]
        bx, by = fixed[t, 1, 0], fixed[t, 1, 1]
        cx, cy = fixed[t, 2, 0], fixed[t, 2, 1]
        area2 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if area2 == 0:  # collapsed at 1/16 px: its neighbours' seams cover it
            continue
        if area2 < 0:  # the other orientation: swap two corners so that inside, every edge test is >= 0
            bx, by, cx, cy = cx, cy, bx, by
        lo_x = max(0, -((half - min(ax, bx, cx)) // SUBPIXEL))  # ceil((min - half) / SUBPIXEL)
        hi_x = min(w - 1, (max(ax, bx, cx) + half) // SUBPIXEL)
        lo_y = max(0, -((half - min(ay, by, cy)) // SUBPIXEL))
        hi_y = min(h - 1, (max(ay, by, cy) + half) // SUBPIXEL)
        for y in range(lo_y, hi_y + 1):
            left, right = lo_x, hi_x
            yy = y * SUBPIXEL
            for k in range(3):
                if k == 0:
                    px, py, qx, qy = ax, ay, bx, by
                elif k == 1:
                    px, py, qx, qy = bx, by, cx, cy
                else:
                    px, py, qx, qy = cx, cy, ax, ay
                dx, dy = qx - px, qy - py
                # inside (widened): dx (Y - py) - dy (X - px) >= -half max(|dx|, |dy|), X = SUBPIXEL x
                c = dx * (yy - py) + dy * px + half * max(abs(dx), abs(dy))
                if dy == 0:
                    if c < 0:
                        left, right = 1, 0
                elif dy > 0:  # SUBPIXEL dy x <= c
                    right = min(right, c // (SUBPIXEL * dy))
                else:  # SUBPIXEL dy x <= c with dy < 0: x >= c / (SUBPIXEL dy)
                    left = max(left, -(c // (-SUBPIXEL * dy)))
            if right >= left:
                ids[y, left:right + 1] = t  # a slice: no negative-index check per pixel


def apply_affines(affine: np.ndarray, ids: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    """``(2, h, w) float32`` ``affine[ids] @ [x, y, 1]`` for each pixel: the canvas px ``(x, y)``
    each region pixel samples.

    Args:
        affine: ``(n, 6)`` float32 rows ``(a, b, c, d, e, f)``: a pixel at canvas px ``(x, y)``
            samples ``(a x + b y + c, d x + e y + f)``.
        ids: ``(h, w)`` int32 row of ``affine`` for each pixel (:func:`triangle_ids`); not
            bounds-checked (the compiled loop trusts them to lie in ``0 .. n - 1``).
        origin: canvas px ``(x0, y0)`` of the map's top-left pixel.

    Float32 throughout, in the order ``(a x + b y) + c``.
    """
    back = np.empty((2, *ids.shape), np.float32)
    _apply(np.ascontiguousarray(affine, np.float32), ids, int(origin[0]), int(origin[1]), back)
    return back


@njit(cache=True, nogil=True)
def _apply(affine, ids, x0, y0, back):  # pragma: no cover - jitted
    h, w = ids.shape
    for y in range(h):
        gy = np.float32(y0 + y)
        row, bx, by = ids[y], back[0, y], back[1, y]
        for x in range(w):
            t = np.uint64(row[x])  # unsigned: no negative-index check per pixel
            gx = np.float32(x0 + x)
            bx[x] = (affine[t, 0] * gx + affine[t, 1] * gy) + affine[t, 2]
            by[x] = (affine[t, 3] * gx + affine[t, 4] * gy) + affine[t, 5]


_warming: threading.Thread | None = None


def warm_up() -> None:
    """Start loading the compiled kernels (this module's,
    :func:`facespeak.tfg.texture_source.clamp_to_texture`'s and the mouth interior's) in a
    background thread, once per process; a frame rendered before it is done waits for it. The
    renderer calls this when it is built, before `say` synthesises the speech."""
    global _warming
    if _warming is None:
        _warming = threading.Thread(target=_run_kernels, name="facespeak-raster-warm-up", daemon=True)
        _warming.start()


def _run_kernels() -> None:
    from .mouth_layers import load_kernels  # lazy: the renderer imports both modules
    from .texture_source import clamp_to_texture  # lazy: texture_source imports this module

    tri = np.array([[[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]]])
    ids = triangle_ids(tri, np.zeros(1, np.int64), (4, 4), 1)
    back = apply_affines(np.zeros((2, 6), np.float32), ids, (0, 0))
    clamp_to_texture(back, ids, np.zeros(1, np.int64), tri, tri, (0, 0, 4, 4))
    load_kernels()

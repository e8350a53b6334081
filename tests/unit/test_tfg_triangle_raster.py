"""The warp's per-pixel part (tfg.triangle_raster) and its per-triangle affines
(tfg.texture_source.backward_affines): the coverage rule as documented, no gaps between
neighbours, painter's order, and the backward map's arithmetic."""

from __future__ import annotations

import numpy as np

from facespeak.tfg.texture_source import backward_affines
from facespeak.tfg.triangle_raster import SUBPIXEL, apply_affines, triangle_ids


def _covered(tri: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``(h, w) bool`` the documented rule, pixel by pixel in exact integers: the centre inside the
    triangle widened by half a pixel along each edge's minor axis, within its box widened by half a
    pixel (corners rounded to 1/16 px)."""
    p = np.round(tri * SUBPIXEL).astype(np.int64)
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]] * SUBPIXEL
    area2 = (p[1, 0] - p[0, 0]) * (p[2, 1] - p[0, 1]) - (p[1, 1] - p[0, 1]) * (p[2, 0] - p[0, 0])
    if area2 == 0:
        return np.zeros(shape, bool)
    if area2 < 0:
        p = p[[0, 2, 1]]
    half = SUBPIXEL // 2
    ok = (xs >= p[:, 0].min() - half) & (xs <= p[:, 0].max() + half)
    ok &= (ys >= p[:, 1].min() - half) & (ys <= p[:, 1].max() + half)
    for a, b in ((p[0], p[1]), (p[1], p[2]), (p[2], p[0])):
        dx, dy = b - a
        ok &= dx * (ys - a[1]) - dy * (xs - a[0]) >= -half * max(abs(dx), abs(dy))
    return ok


def test_coverage_follows_the_documented_rule():
    rng = np.random.default_rng(0)
    tris = rng.uniform(-6.0, 46.0, (300, 3, 2))
    tris[::3, 2] = tris[::3, 0] + rng.uniform(0.0, 0.05) * (tris[::3, 1] - tris[::3, 0])  # slivers
    for k, tri in enumerate(tris):
        got = triangle_ids(tri[None], np.array([0]), (40, 41), 7) == 0
        np.testing.assert_array_equal(got, _covered(tri, (40, 41)), err_msg=f"triangle {k}")


def test_a_mesh_leaves_no_gap_and_later_triangles_cover_earlier_ones():
    rng = np.random.default_rng(1)
    gy, gx = np.mgrid[0:9, 0:9] * 8.0
    pts = np.stack([gx, gy], axis=-1).reshape(-1, 2) + 4.0
    pts[(pts[:, 0] > 4) & (pts[:, 0] < 68) & (pts[:, 1] > 4) & (pts[:, 1] < 68)] += rng.uniform(-3, 3, (49, 2))
    quads = [(r * 9 + c, r * 9 + c + 1, (r + 1) * 9 + c + 1, (r + 1) * 9 + c) for r in range(8) for c in range(8)]
    tris = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))])
    ids = triangle_ids(pts[tris], np.arange(len(tris)), (76, 76), len(tris))
    assert (ids[4:69, 4:69] < len(tris)).all()  # every pixel of the mesh's square is owned
    assert (ids[:3] == len(tris)).all() and (ids[:, 70:] == len(tris)).all()  # nothing past it
    # drawn last, the first triangle takes its pixels back from its neighbours
    again = triangle_ids(pts[tris], np.append(np.arange(1, len(tris)), 0), (76, 76), len(tris))
    own = _covered(pts[tris[0]], (76, 76))
    assert (again[own] == 0).all() and (ids[own] != 0).any()


def test_backward_affines_take_corners_to_their_source_and_apply_in_float32():
    rng = np.random.default_rng(2)
    dst = rng.uniform(0.0, 30.0, (50, 3, 2))
    src = rng.uniform(0.0, 30.0, (50, 3, 2))
    affine, scale = backward_affines(dst, src)
    corners = np.einsum("nij,nkj->nki", affine.reshape(-1, 2, 3), np.concatenate([dst, np.ones((50, 3, 1))], axis=2))
    np.testing.assert_allclose(corners, src, atol=1e-7)
    np.testing.assert_allclose(scale, np.linalg.svd(affine.reshape(-1, 2, 3)[:, :, :2], compute_uv=False)[:, 0])
    assert np.isinf(backward_affines(np.zeros((1, 3, 2)), src[:1])[1]).all()  # collapsed output
    table = affine.astype(np.float32)
    ids = rng.integers(0, 50, (20, 30)).astype(np.int32)
    back = apply_affines(table, ids, (5, 7))
    gy, gx = np.mgrid[7:27, 5:35].astype(np.float32)
    want = [table[ids, 3 * r] * gx + table[ids, 3 * r + 1] * gy + table[ids, 3 * r + 2] for r in (0, 1)]
    np.testing.assert_array_equal(back, np.stack(want))  # float32, (a x + b y) + c


def test_warm_up_loads_the_kernels_once_in_the_background():
    from facespeak.tfg import triangle_raster

    triangle_raster.warm_up()
    first = triangle_raster._warming
    triangle_raster.warm_up()
    assert triangle_raster._warming is first  # once per process
    first.join(timeout=120)
    assert not first.is_alive()


def test_the_kernels_run_the_same_as_plain_python():
    from facespeak.tfg import triangle_raster as tr

    if not hasattr(tr._draw, "py_func"):  # numba missing: they are plain Python already
        return
    rng = np.random.default_rng(3)
    fixed = np.round(rng.uniform(-40.0, 300.0, (12, 3, 2))).astype(np.int64)
    order = rng.permutation(12).astype(np.int64)
    ids, ids_py = np.full((20, 18), 12, np.int32), np.full((20, 18), 12, np.int32)
    tr._draw(ids, fixed, order)
    tr._draw.py_func(ids_py, fixed, order)
    np.testing.assert_array_equal(ids, ids_py)
    affine = rng.normal(0.0, 3.0, (13, 6)).astype(np.float32)
    back, back_py = np.empty((2, 20, 18), np.float32), np.empty((2, 20, 18), np.float32)
    tr._apply(affine, ids, 3, 4, back)
    tr._apply.py_func(affine, ids, 3, 4, back_py)
    np.testing.assert_array_equal(back, back_py)

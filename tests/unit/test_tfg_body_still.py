"""Only the head moves (issue 12, part 3): collar and shoulders stay put while the head turns."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import ConvexHull

from facespeak.face.analysis import analyse_faces
from facespeak.tfg import mesh_topology as mt
from facespeak.tfg.mesh_renderer import NECK_FOLLOW_MIN, MeshRenderer, RenderConfig, ring_follow

from face_photos import astronaut, cameraman

POSES = ([8.0, 0.0, 0.0, 0.0, 0.0], [-8.0, -5.0, 3.0, 0.1, 0.1], [0.0, 6.0, 0.0, 0.0, 0.0])


@pytest.fixture(scope="module")
def full() -> MeshRenderer:
    image = astronaut()
    return MeshRenderer(image, analyse_faces(image)[0], RenderConfig(mode="full"))


def _diff(r: MeshRenderer, pose) -> np.ndarray:
    motion = r.space.motion_from_amounts(np.zeros((1, 7)), np.array([pose]))[0]
    return np.abs(r.render_frame(motion).astype(int) - r.canvas).max(axis=2)


@pytest.mark.parametrize("pose", POSES)
def test_collar_stays_still_while_the_head_turns(full, pose):
    """The astronaut's collar and suit ring (0.15-0.5 face heights below the chin): at most
    1.5 % of its pixels change by > 8 levels (the ring that followed the head rigidly moved
    3.1-3.4 % there), while the face itself moves."""
    lm = full.source_landmarks
    chin, face_h = lm[152], lm[152, 1] - lm[10, 1]
    jl, jr = sorted((lm[172, 0], lm[397, 0]))
    d = _diff(full, pose)
    collar = d[int(chin[1] + 0.15 * face_h):int(chin[1] + 0.5 * face_h), int(jl - 0.5 * (jr - jl)):int(jr + 0.5 * (jr - jl))]
    head = d[int(lm[10, 1]):int(chin[1]), int(jl):int(jr)]
    assert head.mean() > 20.0
    assert (collar > 8).mean() < 0.015


def test_photo_outside_the_processed_region_is_bit_identical(full):
    d = _diff(full, POSES[1])
    x0, y0, x1, y1 = full.warp.box
    outside = np.ones_like(d, bool)
    outside[y0:y1, x0:x1] = False
    assert d[outside].max() == 0
    assert d[y0:y1, x0:x1].max() > 0


def test_ring_follows_above_the_jaw_and_fades_on_the_neck(full):
    oval = full.space.neutral[list(mt.FACE_OVAL)]
    centre = oval.mean(axis=0)
    ring = centre + (oval - centre) * np.array([1.3, 1.3, 1.0])
    w = ring_follow(ring, oval)
    k = {p: i for i, p in enumerate(mt.FACE_OVAL)}
    assert w[k[10]] == 1.0 and w[k[234]] == 1.0 and w[k[454]] == 1.0  # forehead, ears: rigid
    assert w[k[152]] == pytest.approx(NECK_FOLLOW_MIN)  # under the chin: barely
    lower = [k[p] for p in (454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152)]
    assert np.all(np.diff(w[lower]) <= 1e-12)  # fades monotonically down the jaw line


#: large turns (commanded deg, canonical cm): beyond the `say` scale, so the head ring moves far
BIG_POSES = ([15.0, 0.0, 0.0, 0.0, 0.0], [-15.0, 0.0, 0.0, 0.0, 0.0], [0.0, 12.0, 0.0, 0.0, 0.0],
             [10.0, 8.0, 6.0, 0.5, 0.5], [-10.0, -8.0, -6.0, -0.5, -0.5])


@pytest.fixture(scope="module")
def full_turned() -> MeshRenderer:
    image = cameraman()  # three-quarter view: its static ring had gaps the band reached through
    return MeshRenderer(image, analyse_faces(image)[0], RenderConfig(mode="full"))


@pytest.mark.parametrize("which", ["frontal", "turned"])
def test_region_border_never_moves_in_full_mode(full, full_turned, which):
    """The processed region is pasted into the photo: its outermost rows and columns (where
    they lie inside the photo) keep the photo's pixels in every turn, so no seam can show.
    The band used to join moving head-ring points to anchors on the region's corners, outside
    the static ring, and the cameraman's border moved by up to 7 levels."""
    r = full if which == "frontal" else full_turned
    x0, y0, x1, y1 = r.warp.box
    h, w = r.frame_size
    border = np.zeros((h, w), bool)
    border[y0:y1, x0:x1] = True
    border[y0 + (y0 > 0):y1 - (y1 < h), x0 + (x0 > 0):x1 - (x1 < w)] = False
    assert border.sum() > 100
    static = r.warp.source[-len(mt.FACE_OVAL):]  # the static ring, px
    hull = ConvexHull(static).equations  # rows (a, b, c): a x + b y + c <= 0 inside
    corners = r.warp.source[r.warp.triangles].reshape(-1, 2)
    assert (corners @ hull[:, :2].T + hull[:, 2] <= 1e-6).all()  # every moving triangle inside it
    for pose in BIG_POSES:
        d = _diff(r, pose)
        assert d[y0:y1, x0:x1].mean() > 1.0  # the head did move
        assert d[border].max() == 0, pose

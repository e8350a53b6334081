"""The background plate (tfg.background_plate): the photo with the face filled in from around it,
for the head-ring triangles over a turned face's far side (issue 12, docs/renderer.md "Turned
faces to 60 deg", session 14: the fill carries the texture beside the face).

Photo: scikit-image's astronaut (a train person)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from face_photos import astronaut
from facespeak.face.analysis import analyse_faces
from facespeak.tfg.background_plate import MIRROR_DEPTH, background_plate, grown_face, mirror_sources
from facespeak.tfg.mesh_renderer import MeshRenderer, RenderConfig


@pytest.fixture(scope="module")
def portrait() -> MeshRenderer:
    image = astronaut()
    return MeshRenderer(image, analyse_faces(image)[0], RenderConfig(mode="crop", size=256, mouth=None))


def _detail(image: np.ndarray) -> np.ndarray:
    """``(h, w)`` |grey - its Gaussian blur (sigma 1.5)|: the fine texture (strands, grain)."""
    grey = image.astype(np.float32).mean(axis=2)
    return np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 1.5))


def test_mirror_sources_reflect_each_row_across_its_nearer_edge():
    """A rectangular face (columns 30-69, rows 10-49 of 100 x 60): a pixel d px inside an edge
    samples the pixel d - 1 px outside it (the edge lies half a pixel past the last face pixel),
    with weight 1 near the edge and 0 deep inside; nothing samples the face."""
    face = np.zeros((60, 100), bool)
    face[10:50, 30:70] = True
    ys, xs, mx, weight = mirror_sources(face)
    assert len(ys) == face.sum()
    near_right = xs >= 50
    np.testing.assert_allclose(mx[near_right], 139.0 - xs[near_right])  # 69.5 + (69.5 - x)
    np.testing.assert_allclose(mx[~near_right], 59.0 - xs[~near_right])  # 29.5 - (x - 29.5)
    depth = np.minimum(xs - 29.5, 69.5 - xs)
    assert (weight[depth <= 0.5 * MIRROR_DEPTH * 40] == 1).all()
    assert (weight[depth >= 1.5 * MIRROR_DEPTH * 40] == 0).all()
    sampled = weight > 0
    assert not face[ys[sampled], np.round(mx[sampled]).astype(int)].any()


def test_the_fill_carries_the_texture_beside_the_face(portrait):
    """Within 2 % of the face's width inside its (grown) edge the plate has fine texture like the
    photo's just outside it (hair, grain): 4.2 vs 4.1 grey levels of detail on the astronaut at
    256; the smooth push-pull fill alone (session 13) had 1.0 there, the flat band that made a
    turned cheek's edge look cut out where hair lies over it (Lenna, -27 deg)."""
    w = portrait.warp
    plate = background_plate(portrait.canvas, w.inside, w.box)
    face = grown_face(w.inside)
    width = np.ptp(np.flatnonzero(face.any(axis=0))) + 1
    inside = cv2.distanceTransform(face.astype(np.uint8), cv2.DIST_L2, 5)
    outside = cv2.distanceTransform((~face).astype(np.uint8), cv2.DIST_L2, 5)
    band_in, band_out = face & (inside <= 0.02 * width), ~face & (outside <= 0.02 * width)
    detail = _detail(plate)
    assert detail[band_in].mean() > 0.7 * _detail(portrait.canvas)[band_out].mean()


def test_the_plate_never_shows_the_face(portrait):
    """Painted pure green, the face leaves no trace in the plate (mirror images land outside it;
    the smooth fill comes from outside it), and outside the grown face the plate is the photo."""
    w = portrait.warp
    face = grown_face(w.inside)
    canvas = portrait.canvas.copy()
    canvas[face] = (0, 255, 0)
    plate = background_plate(canvas, w.inside, w.box)
    assert np.abs(plate[face].astype(int) - (0, 255, 0)).max(axis=1).min() > 100
    np.testing.assert_array_equal(plate[~face], portrait.canvas[~face])


def test_the_plate_serves_the_ring_over_the_far_brow_ridge(portrait):
    """Ring triangles up to PLATE_ABOVE_BROWS brow heights above the brows take the plate (the
    brow ridge juts out past a turned face's oval: with the line at the brows' top, turned_check
    at crop 512 counted 1,242 ghost px on insightface_t1_0, a doubled brow; now 5); the ring over
    the upper forehead does not (a plate there drew a step across the forehead at full size)."""
    from facespeak.tfg import mesh_topology as mt
    from facespeak.tfg.mesh_renderer import PLATE_ABOVE_BROWS, _below_the_brows
    from facespeak.tfg.mesh_space import canonical_landmarks

    tri = portrait.warp.triangles
    ring = (tri >= mt.N_MESH_NO_IRIS).any(axis=1)
    canon = canonical_landmarks()[: mt.N_MESH_NO_IRIS, 1]
    oval = np.array(mt.FACE_OVAL)
    index = np.arange(int(tri.max()) + 1)
    y = canon[np.where(index < mt.N_MESH_NO_IRIS, index, oval[(index - mt.N_MESH_NO_IRIS) % len(oval)])][tri].mean(axis=1)
    brows = canon[list(mt.RIGHT_BROW + mt.LEFT_BROW)]
    top, height = brows.min(), np.ptp(brows)
    chosen = _below_the_brows(tri)
    ridge = ring & (y < top) & (y > top - PLATE_ABOVE_BROWS * height)  # above the brows' top, below the line
    assert ridge.sum() >= 2 and chosen[ridge].all()
    assert ring[y < top - PLATE_ABOVE_BROWS * height].any() and not chosen[y < top - PLATE_ABOVE_BROWS * height].any()

"""Unwarped copies of face triangles stay inside the photo's face (issue 12 "no tearing",
session 14): a sliver on the silhouette copies the photo around its thin source, and its wider
output, centred there, reached 1-2 px past the face's outline, more the larger the face is drawn
(crop 512, full size, a crop zoomed in by ``face.align.fit_inside``).

Photo: scikit-image's astronaut (a train person, frontal)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from face_photos import astronaut
from facespeak.face.analysis import analyse_faces
from facespeak.tfg.mesh_renderer import MeshRenderer, RenderConfig
from facespeak.tfg.texture_source import INSIDE_STEP_PX, inside_face, keep_inside, rigid_copy
from facespeak.tfg.warp_check import count_tearing
from test_tfg_turned_faces import _tearing_plan


def _square_face() -> SimpleNamespace:
    """A warp stand-in: the face is the square x, y in [20, 60) of a 100 x 100 region at (10, 5)."""
    inside = np.zeros((100, 100), bool)
    inside[20:60, 20:60] = True
    return SimpleNamespace(inside=inside, box=(10, 5, 110, 105))


def test_a_copy_past_the_outline_moves_inwards_by_the_least_step():
    """A sliver's copy reaching 1.3 px past the face's right edge moves towards the centre by the
    least whole number of steps that puts it inside (1 px: its corner then lies at 0.3 px past the
    last face column, which rounds into it; one step less does not fit); a copy already inside
    stays where it was."""
    warp = _square_face()
    centre = np.array([50.0, 40.0])  # canvas px (region + box offset), level with the copy
    edge = 59.0 + 10.0  # the last face column, canvas px
    out = np.array([[[edge - 2.0, 35.0], [edge + 1.3, 40.0], [edge - 2.0, 45.0]]])
    inner = np.array([[[40.0, 35.0], [44.0, 40.0], [40.0, 45.0]]])
    assert not inside_face(warp, out).all()
    moved = keep_inside(warp, np.concatenate([out, inner]), centre)
    assert inside_face(warp, moved).all()
    shift = moved[0] - out[0]
    np.testing.assert_allclose(shift, shift[:1].repeat(3, axis=0))  # translated, not reshaped
    np.testing.assert_allclose(shift[0], [-2 * INSIDE_STEP_PX, 0.0], atol=1e-9)
    assert not inside_face(warp, out + [-INSIDE_STEP_PX, 0.0]).all()
    np.testing.assert_array_equal(moved[1], inner[0])


def test_a_copy_that_cannot_fit_stays_where_rigid_copy_put_it():
    """No shift up to half its longest edge puts a copy wider than the face inside: it is left as
    it was (the old behaviour), not pushed somewhere arbitrary."""
    warp = _square_face()
    wide = rigid_copy(np.array([[[0.0, 0.0], [60.0, 0.0], [30.0, 4.0]]]), np.array([[[30.0, 40.0], [80.0, 40.0], [55.0, 42.0]]]))
    np.testing.assert_array_equal(keep_inside(warp, wide, np.array([50.0, 45.0])), wide)


def test_the_tearing_check_is_clean_at_crop_512_with_a_one_pixel_band():
    """The astronaut at crop 512 over the tearing check's 463 frames: no foreign pixel with the
    check's 1-px edge band (set for crop 256). Copies centred on their sources (session 13):
    32 foreign px in 8 frames, all in slivers' copies along the silhouette."""
    image = astronaut()
    face = analyse_faces(image)[0]
    r = MeshRenderer(image, face, RenderConfig(mode="crop", size=512, mouth=None))
    rep = count_tearing(r, r.space.motion_from_plan(_tearing_plan(), face.pose))
    assert rep.clean, rep.totals()

"""No pale wedge along a turned face's nose and lips when the head turns back towards the camera
(issue 12, session 14): MediaPipe's mesh reaches a little past a turned face's far silhouette, so
slivers along the far side of the nose and upper lip take their texture from the wall behind it
(and the pale halo between face and wall); a turn back grows them into the face. Their texture
slides off what surrounds the face (:func:`facespeak.tfg.texture_foreign.face_colours`) in step
with their growth: none at rest (the frame is the photo), smoothly between.

Photo: insightface's t1 group, its leftmost man (``insightface_t1_0``, ~50 deg yaw, a train
person of the faces corpus; skipped where the corpus is not built)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from facespeak.tfg.mesh_renderer import MeshRenderer, RenderConfig
from facespeak.tfg.mesh_space import K_EXPR
from facespeak.tfg.mesh_triangles import signed_area
from facespeak.tfg.texture_foreign import face_colours
from facespeak.tfg.texture_source import rest_textures, texture_source

FACES = Path(__file__).resolve().parents[2] / "corpus" / "faces"


@pytest.fixture(scope="module")
def t1_0() -> tuple[MeshRenderer, MeshRenderer, float]:
    """The renderer with textures that do not know the photo (nothing slides) and one whose do."""
    if not (FACES / "manifest.json").exists():
        pytest.skip("faces corpus not built")
    from facespeak.data.face_items import load_face, manifest_items
    from facespeak.data.real_faces import load_manifest

    item = next(i for i in manifest_items(load_manifest(FACES), FACES)
                if i.person == "insightface_t1_0" and i.kind == "photo")
    p = load_face(item)
    bare = MeshRenderer(p.image, p.face, RenderConfig(mode="crop", size=512))
    aware = MeshRenderer(p.image, p.face, RenderConfig(mode="crop", size=512))
    for r, canvas in ((bare, None), (aware, aware.canvas)):  # whether or not the renderer passes its canvas
        w = r._warp
        r._warp = dataclasses.replace(w, rest=rest_textures(w.source, w.triangles, w.mirror, w.facing, canvas))
    return bare, aware, float(p.face.pose[0])


def _turned_back(r: MeshRenderer, own_yaw: float, amount: float = 1.0) -> np.ndarray:
    """One motion frame: the head turned back towards the camera (10 deg, bounded for the photo's
    own yaw as in `say`), scaled by ``amount``."""
    plan = np.zeros((1, K_EXPR + 5))
    plan[0, K_EXPR] = -np.sign(own_yaw) * 10.0 * amount
    return r.space.motion_from_plan(plan, (own_yaw, 0.0, 0.0))[0]


def _wall_samples(r: MeshRenderer, motion: np.ndarray) -> tuple[int, int]:
    """Pixels owned by face triangles that sample the photo on what surrounds the face (or its
    edge band), and pale bluish-white face pixels (t1_0's wall: B >= R - 5, R + G + B > 500)."""
    w = r._warp
    mask, mx, my = face_colours(r.canvas, w.source, w.triangles, w.rest.own_faces)
    fw = r.frame_warp(motion)
    img = r.render_frame(motion).astype(int)
    x0, y0, x1, y1 = w.box
    face = np.append(w.face, False)[fw.ids]
    bx, by = np.round(fw.back[0]).astype(int) - mx, np.round(fw.back[1]).astype(int) - my
    inb = (bx >= 0) & (bx < mask.shape[1]) & (by >= 0) & (by < mask.shape[0])
    wall = ~inb
    wall[inb] = ~mask[by[inb], bx[inb]]
    reg = img[y0:y1, x0:x1]
    pale = (reg[..., 2] >= reg[..., 0] - 5) & (reg.sum(axis=2) > 500)
    return int((wall & face).sum()), int((pale & face).sum())


def test_at_rest_every_texture_stays_where_it_is(t1_0):
    """Output corners at their sources: every triangle samples its own texture (no slide)."""
    _, aware, _ = t1_0
    w = aware._warp
    moving = w.rest.slid
    assert moving.sum() >= 5  # the far nose and lip slivers at least
    dst = w.source[w.triangles]
    src, _ = texture_source(dst, signed_area(dst), w)
    np.testing.assert_array_equal(src[moving], w.rest.src[moving])


def test_a_turn_back_no_longer_draws_the_wall_into_the_face(t1_0):
    """At the turn back, face pixels sampling the wall behind the far silhouette, and pale
    bluish-white face pixels, both drop (measured: see docs/renderer.md, session 14 wedge)."""
    bare, aware, own_yaw = t1_0
    motion = _turned_back(bare, own_yaw)
    wall_before, pale_before = _wall_samples(bare, motion)
    wall_after, pale_after = _wall_samples(aware, motion)
    assert pale_before > 50
    assert pale_after < 0.8 * pale_before
    assert wall_after < wall_before


def test_the_slide_grows_smoothly_with_the_turn(t1_0):
    """Between motion frames 1/40 of the turn apart, no sliding texture corner jumps by more than
    a pixel more than the renderer's own texture does (no popping between frames)."""
    bare, aware, own_yaw = t1_0
    w = aware._warp
    moving = w.rest.slid
    prev = {}
    jumps = {"bare": 0.0, "aware": 0.0}
    for k in range(41):
        motion = _turned_back(aware, own_yaw, k / 40)
        dst = aware._control_points(motion)[1][w.triangles]
        for name, r in (("bare", bare), ("aware", aware)):
            src, use = texture_source(dst, signed_area(dst), r._warp)
            own = moving & ~use
            if name in prev:
                p_src, p_own = prev[name]
                both = own & p_own
                if both.any():
                    jumps[name] = max(jumps[name], float(np.abs(src[both] - p_src[both]).max()))
            prev[name] = (src, own)
    assert jumps["aware"] <= jumps["bare"] + 1.0

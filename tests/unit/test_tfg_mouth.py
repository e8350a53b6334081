"""The painted mouth interior on real photos (issue 12 part 2): teeth show when the lips part,
upper teeth stay with the skull, lower teeth and tongue go with the jaw, colour and sharpness
follow the photo, and a photo's own teeth are reused.

Photos: matplotlib's Grace Hopper (closed mouth, colour; a held-out person, used here only as a
test input) and scikit-image's astronaut (smiling with her teeth showing; a train person)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from matplotlib import cbook
from PIL import Image

from face_photos import astronaut
from facespeak.face.analysis import analyse_faces
from facespeak.tfg.mesh_renderer import MeshRenderer, RenderConfig
from facespeak.tfg.mesh_space import EXPRESSION_NAMES, K_EXPR
from facespeak.tfg.mouth_interior import estimate_look, inner_lip_polygon, teeth_pose

LUMA = np.array([0.299, 0.587, 0.114])


def hopper() -> np.ndarray:
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return np.asarray(Image.open(f).convert("RGB"))


def _renderer(image: np.ndarray) -> MeshRenderer:
    return MeshRenderer(image, analyse_faces(image)[0], RenderConfig(mode="crop", size=256))


@pytest.fixture(scope="module")
def closed() -> MeshRenderer:
    return _renderer(hopper())


def _motion(r: MeshRenderer, jaw: float = 0.0, yaw: float = 0.0, closure: float = 0.0) -> np.ndarray:
    amounts = np.zeros((1, K_EXPR))
    amounts[0, EXPRESSION_NAMES.index("jaw_open")] = jaw
    amounts[0, EXPRESSION_NAMES.index("lip_closure")] = closure
    pose = np.zeros((1, 5))
    pose[0, 0] = yaw
    return r.space.motion_from_amounts(amounts, pose)[0]


def _inside(r: MeshRenderer, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 3)`` float pixels inside the (eroded) inner-lip contour and the ``(h, w)`` mask."""
    frame = r.render_frame(motion)
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(inner_lip_polygon(r.landmarks(motion[None])[0])).astype(np.int32)], 1)
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8)).astype(bool)
    return frame[mask].astype(float), mask


def _teeth_fraction(r: MeshRenderer, motion: np.ndarray) -> float:
    """Fraction of the opening that is teeth-like: bright for this face, close to grey."""
    px, _ = _inside(r, motion)
    if len(px) == 0:
        return 0.0
    luma = px @ LUMA
    teeth = (luma >= 0.9 * r._look.luma) & (np.ptp(px, axis=1) <= 0.25 * luma + 10)
    return float(teeth.mean())


def test_wide_jaw_shows_teeth_closed_mouth_shows_none(closed):
    assert closed._look.own is None  # her lips are closed in the photo: teeth are synthesised
    assert _teeth_fraction(closed, _motion(closed, jaw=0.8)) >= 0.12
    assert _teeth_fraction(closed, _motion(closed, jaw=0.35)) >= 0.12
    # lips together: nothing inside the contour, the photo's mouth stays as it is
    _, mask = _inside(closed, _motion(closed, closure=0.5))
    assert mask.sum() <= 3


def test_teeth_survive_the_say_video_at_crop_256(closed):
    """As ``scripts/mouth_check.py --size 256 --codec`` measures ``say``'s output: frames through
    the H.264 writer, the face mesh fitted on the decoded frames, teeth-like pixels (>= 0.9x the
    face's median luma, chroma <= 0.25 luma + 10) inside its inner lips. With 2.5 mm of upper
    teeth (before late session 12) they were a 2-px band smeared into the lips: <= 1.1 % of the opening."""
    from facespeak.tfg import mesh_topology as mt
    from facespeak.video.reader import read_video
    from facespeak.video.writer import write_video

    frames = [closed.render_frame(_motion(closed, jaw=jaw)) for jaw in (0.35, 0.5, 0.7)]
    with tempfile.TemporaryDirectory() as tmp:
        decoded = read_video(write_video(Path(tmp) / "say.mp4", frames)).frames
    for frame in decoded:
        lm = analyse_faces(frame, max_faces=1)[0].landmarks[:, :2]
        inner, oval = (np.zeros(frame.shape[:2], np.uint8) for _ in range(2))
        cv2.fillPoly(inner, [np.round(inner_lip_polygon(lm)).astype(np.int32)], 1)
        cv2.fillPoly(oval, [np.round(lm[list(mt.FACE_OVAL)]).astype(np.int32)], 1)
        px = frame.astype(float)
        luma = px @ LUMA
        teeth = inner.astype(bool) & (luma >= 0.9 * np.median(luma[oval > 0])) & (np.ptp(px, axis=2) <= 0.25 * luma + 10)
        assert teeth.sum() >= 6 and teeth.sum() >= 0.04 * inner.sum(), (teeth.sum(), inner.sum())


def test_upper_teeth_stay_with_the_skull_lower_go_with_the_jaw(closed):
    half, wide = teeth_pose(closed.space, _motion(closed, jaw=0.4)), teeth_pose(closed.space, _motion(closed, jaw=0.9))
    np.testing.assert_allclose(half.upper, wide.upper, atol=1e-6)  # the jaw does not move the upper teeth
    assert (wide.lower[:, 1] - half.lower[:, 1]).mean() > 3.0  # ... and moves the lower ones down
    turned = teeth_pose(closed.space, _motion(closed, jaw=0.4, yaw=8.0))
    assert np.abs(turned.upper - half.upper).max() > 2.0  # the head pose moves them
    # in the rendered frame: the top of the bright teeth stays put while the jaw opens further
    tops = []
    for jaw in (0.5, 0.9):
        m = _motion(closed, jaw=jaw)
        frame = closed.render_frame(m).astype(float)
        _, mask = _inside(closed, m)
        bright = mask & (frame @ LUMA >= 0.9 * closed._look.luma)
        tops.append(np.percentile(np.nonzero(bright)[0], 5))
    lips = [closed.landmarks(_motion(closed, jaw=j)[None])[0, 14, 1] for j in (0.5, 0.9)]
    assert lips[1] - lips[0] > 4.0 and abs(tops[1] - tops[0]) <= 1.5, (lips, tops)


def test_grey_photo_gets_grey_teeth_colour_photo_does_not():
    image = hopper()
    grey = np.repeat((image @ LUMA).astype(np.uint8)[..., None], 3, axis=2)
    chroma = {}
    for name, img in (("colour", image), ("grey", grey)):
        r = _renderer(img)
        px, _ = _inside(r, _motion(r, jaw=0.8))
        chroma[name] = float(np.ptp(px, axis=1).mean())
    assert chroma["grey"] <= 4.0 and chroma["colour"] >= 15.0, chroma


def test_dark_photo_gets_darker_teeth_never_glowing():
    image = hopper()
    dark = (image * 0.4).astype(np.uint8)
    bright_teeth = {}
    for name, img in (("bright", image), ("dark", dark)):
        r = _renderer(img)
        px, _ = _inside(r, _motion(r, jaw=0.8))
        bright_teeth[name] = float(np.percentile(px @ LUMA, 90))
        assert bright_teeth[name] <= r._look.white + 5.0  # no brighter than the face's highlights
    assert bright_teeth["dark"] < 0.6 * bright_teeth["bright"], bright_teeth


def test_soft_photo_gets_soft_teeth():
    image = hopper()
    soft = cv2.GaussianBlur(image, (0, 0), 4.0)
    grads, sigmas = {}, {}
    for name, img in (("sharp", image), ("soft", soft)):
        r = _renderer(img)
        sigmas[name] = r._look.blur_sigma
        frame = r.render_frame(_motion(r, jaw=0.8))
        _, mask = _inside(r, _motion(r, jaw=0.8))
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
        g = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
        grads[name] = float(g[mask].mean())
    assert sigmas["soft"] > 1.5 * sigmas["sharp"], sigmas
    assert grads["soft"] < 0.75 * grads["sharp"], grads


def test_photo_showing_teeth_reuses_its_own_teeth():
    image = astronaut()
    r = _renderer(image)
    assert r._look.own is not None and r._look.teeth_rgb is not None
    look = estimate_look(r.canvas, r.source_landmarks)
    np.testing.assert_allclose(look.teeth_rgb, r._look.teeth_rgb)  # estimated deterministically
    # opened further, her upper teeth are still her own (their colour, not the style's)
    px, _ = _inside(r, _motion(r, jaw=0.6))
    teeth = px[(px @ LUMA >= 0.9 * r._look.luma) & (np.ptp(px, axis=1) <= 0.25 * (px @ LUMA) + 10)]
    assert len(teeth) > 30
    assert np.abs(np.median(teeth, axis=0) - r._look.teeth_rgb).max() < 25.0


def test_synthesised_rows_look_like_the_photos_own_teeth():
    """The photo's own teeth colour is their median as seen, shading included: the synthesised
    upper row's visible front (incisal 3.5 mm, within 15 mm of the midline) has that median too,
    not 0.85 of it (before late session 12 a dim black-and-white photo's teeth went below its skin)."""
    from facespeak.tfg.mouth_interior import UPPER_ARCH_MM, UPPER_TEETH, MouthStyle, PhotoLook, _teeth_colour
    from facespeak.tfg.mouth_layers import teeth_row

    look = PhotoLook(luma=108.0, white=202.0, saturation=0.0, teeth_rgb=np.full(3, 113.0, np.float32))
    ys, xs = np.mgrid[-80:20, -120:120].astype(np.float32) / 4.0  # mm, 0.25 mm grid
    colour, alpha = teeth_row(xs, ys, np.zeros_like(xs), -1, UPPER_TEETH, UPPER_ARCH_MM,
                              _teeth_colour(MouthStyle(), look), np.zeros(3, np.float32), 1.0)
    row = colour[..., 0]
    front = (alpha > 0.99) & (ys > -3.5) & (np.abs(xs) < 15.0)
    assert abs(float(np.median(row[front])) - 113.0) < 3.0, float(np.median(row[front]))
    # ... and never above the face's highlights
    bright = PhotoLook(luma=108.0, white=120.0, teeth_rgb=np.full(3, 113.0, np.float32))
    assert float(_teeth_colour(MouthStyle(), bright) @ LUMA) <= 0.97 * 120.0 + 1e-3


def test_mouth_painting_is_a_pure_function_of_the_motion(closed):
    m = _motion(closed, jaw=0.7, yaw=4.0)
    a = closed.render_frame(m)
    closed.render_frame(_motion(closed, jaw=0.2))
    np.testing.assert_array_equal(a, closed.render_frame(m))


def test_painting_touches_only_the_mouth_and_can_paint_in_place(closed):
    from facespeak.tfg.mouth_interior import MouthStyle, paint_mouth_interior

    m = _motion(closed, jaw=0.7, yaw=3.0)
    frame = closed.canvas.copy()
    lm = closed.landmarks(m[None])[0]
    args = (lm, closed._rest_opening, MouthStyle(), teeth_pose(closed.space, m), closed._look)
    painted = paint_mouth_interior(frame, *args)
    np.testing.assert_array_equal(frame, closed.canvas)  # painted into a copy by default
    changed = np.abs(painted.astype(int) - frame).max(axis=2) > 0
    assert changed.sum() > 50
    # nothing beyond the blur's reach (4 sigma) of the inner-lip contour's box changes
    reach = int(np.ceil(4.0 * np.hypot(closed._look.blur_sigma, 0.35))) + 3
    poly = inner_lip_polygon(lm)
    x0, y0 = np.floor(poly.min(axis=0)).astype(int) - reach
    x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + reach + 1
    changed[max(y0, 0):y1, max(x0, 0):x1] = False
    assert not changed.any()
    same = paint_mouth_interior(frame, *args, in_place=True)
    assert same is frame
    np.testing.assert_array_equal(same, painted)


def test_teeth_are_placed_only_in_frames_whose_interior_is_painted(closed, monkeypatch):
    """The renderer skips the teeth pose where the lips do not open past the photo's own opening
    (mouth_interior.shows_interior), and frames are the same as when it places them every time."""
    from facespeak.tfg import mesh_renderer

    calls = []

    def counted(space, motion):
        calls.append(1)
        return teeth_pose(space, motion)

    monkeypatch.setattr(mesh_renderer, "teeth_pose", counted)
    shut, open_ = _motion(closed, jaw=0.0, yaw=3.0), _motion(closed, jaw=0.7, yaw=3.0)
    a, b = closed.render_frame(shut), closed.render_frame(open_)
    assert len(calls) == 1  # only the open frame
    monkeypatch.setattr(mesh_renderer, "shows_interior", lambda landmarks, rest: True)
    np.testing.assert_array_equal(closed.render_frame(shut), a)
    np.testing.assert_array_equal(closed.render_frame(open_), b)
    assert len(calls) == 3


def test_the_mouth_kernels_run_the_same_as_plain_python():
    from facespeak.tfg import mouth_interior as mi
    from facespeak.tfg import mouth_layers as ml

    if not hasattr(ml.back_layers, "py_func"):  # numba missing: they are plain Python already
        return
    rng = np.random.default_rng(5)
    depth = rng.uniform(0.0, 4.0, (14, 22)).astype(np.float32)
    arch = np.array([-11.0, -4.0, 0.45, 0.05])  # a window about the upper lip's middle, ~0.45 mm / px
    low = np.stack([np.linspace(-25.0, 25.0, 11), rng.uniform(1.0, 3.0, 11)])
    up = np.stack([np.linspace(-25.0, 25.0, 11), rng.uniform(-1.0, 1.0, 11)])
    rgb = rng.uniform(20.0, 230.0, (5, 3))
    rows = ml.row_shape(mi.LOWER_TEETH, mi.LOWER_ARCH_MM), ml.row_shape(mi.UPPER_TEETH, mi.UPPER_ARCH_MM)
    args = (depth, arch, low, up, 2.0, rgb[0], rgb[1], rgb[2], rows[0], rgb[3], rows[1], rgb[4], rgb[0] * 0.7, 2.2)
    out, out_py = np.zeros((14, 22, 3), np.float32), np.zeros((14, 22, 3), np.float32)
    ml.back_layers(*args, out)
    ml.back_layers.py_func(*args, out_py)
    np.testing.assert_array_equal(out, out_py)
    assert np.ptp(out[..., 0]) > 20.0  # teeth, tongue and throat all show in the window
    texture = rng.uniform(0.0, 255.0, (9, 16, 4)).astype(np.float32)
    texture[..., 3] = rng.uniform(0.0, 1.0, (9, 16))
    split = np.stack([np.linspace(0.0, 15.0, 11), np.full(11, 4.5)])
    skull, jaw = np.array([[1.0, 0.05, 2.0], [0.0, 1.0, 1.0]]), np.array([[1.0, 0.0, 2.0], [0.02, 1.0, -1.5]])
    own, own_py = out.copy(), out.copy()
    ml.own_layer(own, 3, -2, skull, jaw, texture, split)
    ml.own_layer.py_func(own_py, 3, -2, skull, jaw, texture, split)
    np.testing.assert_array_equal(own, own_py)
    assert (np.abs(own - out) > 1.0).any()  # the photo's teeth were laid over part of it

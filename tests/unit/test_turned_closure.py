"""Closed lips on turned faces (issue 12, session 14): a turned portrait's closed lips are pressed
harder (mesh_space.TURNED_PRESS), and no lip row folds over its lip's inner contour.

Portrait: the astronaut's face mesh (a train person, frontal, lips parted in the photo), and the
same mesh turned 45 deg about the vertical axis (a portrait at three-quarter view)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from face_photos import astronaut
from facespeak.face.analysis import analyse_faces
from facespeak.face.pose import euler_to_rotation
from facespeak.tfg import mesh_topology as mt
from facespeak.tfg.mesh_space import EXPRESSION_NAMES, K_EXPR, MeshMotionSpace, own_yaw, turned_press

CLOSURE = EXPRESSION_NAMES.index("lip_closure")


@pytest.fixture(scope="module")
def landmarks() -> np.ndarray:
    return analyse_faces(astronaut())[0].landmarks


def _turned(lm: np.ndarray, yaw_deg: float) -> np.ndarray:
    """The mesh turned ``yaw_deg`` about the vertical axis through its centre (px)."""
    centre = lm.mean(axis=0)
    return (lm - centre) @ euler_to_rotation(yaw_deg, 0.0, 0.0).T + centre


def _closure(space: MeshMotionSpace, amounts: list[float]) -> np.ndarray:
    a = np.zeros((len(amounts), K_EXPR))
    a[:, CLOSURE] = amounts
    return space.shapes(space.motion_from_amounts(a))


def _strip(shape: np.ndarray) -> tuple[float, float]:
    """Height (cm) of the upper and the lower lip's inner strip at the middle: inner contour to
    the next row (MediaPipe 13 -> 12 above, 14 -> 15 below)."""
    return float(shape[13, 1] - shape[12, 1]), float(shape[15, 1] - shape[14, 1])


def _rows_past_inner(space: MeshMotionSpace, shape: np.ndarray) -> float:
    """Largest distance (cm) by which a point inside a lip lies past its lip's inner contour."""
    worst = 0.0
    for rows, inner, below in zip(space.lip_rows, (mt.LIP_UPPER_INNER, mt.LIP_LOWER_INNER), (-1.0, 1.0)):
        c = shape[[mt.MOUTH_CORNERS_INNER[0], *inner, mt.MOUTH_CORNERS_INNER[1]]]
        order = np.argsort(c[:, 0])
        y_in = np.interp(shape[rows, 0], c[order, 0], c[order, 1])
        worst = max(worst, float(np.max(-below * (shape[rows, 1] - y_in), initial=0.0)))
    return worst


def test_turned_press_grows_with_the_mouths_foreshortening():
    assert turned_press(0.0) == 0.0
    assert turned_press(10.0) < 0.1  # a nearly frontal photo is left as it was
    assert turned_press(45.0) == pytest.approx(1.5)
    assert turned_press(-30.0) == turned_press(30.0)
    assert turned_press(20.0) < turned_press(30.0) < turned_press(60.0) < 3.0


def test_own_yaw_reads_the_portraits_turn(landmarks):
    frontal = MeshMotionSpace.from_landmarks(landmarks)
    assert abs(own_yaw(frontal.rotation)) < 6.0
    for yaw in (-45.0, 30.0):
        turned = MeshMotionSpace.from_landmarks(_turned(landmarks, yaw))
        assert own_yaw(turned.rotation) - own_yaw(frontal.rotation) == pytest.approx(yaw, abs=1.0)


def test_turned_portrait_presses_its_closed_lips_and_nothing_folds(landmarks):
    """At rest (closure 0.5) and on p / b / m (1) the turned portrait's inner lip strips are
    thinner than the frontal one's (its seam reads as a line in the foreshortened mouth); while
    the lips are apart (closure 0) both are the photo itself; no lip row crosses its inner contour."""
    frontal = MeshMotionSpace.from_landmarks(landmarks)
    turned = MeshMotionSpace.from_landmarks(_turned(landmarks, 45.0))
    f_shapes, t_shapes = _closure(frontal, [0.0, 0.5, 1.0]), _closure(turned, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(t_shapes[0], turned.neutral, atol=1e-9)
    np.testing.assert_allclose(f_shapes[0], frontal.neutral, atol=1e-9)
    for k in (1, 2):
        f_up, f_lo = _strip(f_shapes[k])
        t_up, t_lo = _strip(t_shapes[k])
        assert t_up < 0.6 * f_up and t_lo < 0.8 * f_lo, (k, f_up, t_up, f_lo, t_lo)
        for space, shape in ((frontal, f_shapes[k]), (turned, t_shapes[k])):
            assert _rows_past_inner(space, shape) < 1e-9
            assert shape[14, 1] - shape[13, 1] > -1e-9  # the lips touch, never cross


def test_lip_rows_are_the_rows_between_the_contours(landmarks):
    space = MeshMotionSpace.from_landmarks(landmarks)
    upper, lower = space.lip_rows
    assert {12, 38, 11} <= set(upper) and {15, 86, 16} <= set(lower)
    contours = set(mt.LIP_UPPER_INNER + mt.LIP_LOWER_INNER + mt.LIP_UPPER_OUTER + mt.LIP_LOWER_OUTER)
    assert not contours & (set(upper) | set(lower))
    assert not set(upper) & set(lower)


def test_without_the_row_rule_the_press_would_fold_the_turned_lips(landmarks):
    """The rule is needed: with only the inner contour held, the turned portrait's p / b / m
    press moves the row behind it past it."""
    turned = MeshMotionSpace.from_landmarks(_turned(landmarks, 45.0))
    no_rule = dataclasses.replace(turned, lip_rows=(np.zeros(0, int), np.zeros(0, int)))
    assert _rows_past_inner(turned, _closure(no_rule, [1.0])[0]) > 0.02


def test_the_press_never_narrows_an_opening_mouth(landmarks):
    """With the jaw open (speech), a turned portrait's lips move as a frontal one's would: the
    press is for lips that are shut; on the way there it fades in."""
    turned = MeshMotionSpace.from_landmarks(_turned(landmarks, 45.0))
    unpressed = dataclasses.replace(turned, press=np.zeros_like(turned.press))
    a = np.zeros((3, K_EXPR))
    a[:, EXPRESSION_NAMES.index("jaw_open")] = [0.3, 0.1, 0.05]
    a[:, CLOSURE] = 0.3
    pressed, plain = turned.shapes(turned.motion_from_amounts(a)), unpressed.shapes(unpressed.motion_from_amounts(a))
    np.testing.assert_allclose(pressed[:2], plain[:2], atol=1e-12)
    assert np.abs(pressed[2] - plain[2]).max() > 1e-3


def test_the_press_never_parts_lips_that_overlap_in_the_photo():
    """Grace Hopper's lips overlap a little in her photo (the lower inner contour above the upper):
    turned 45 deg, closing them keeps them shut. A press field designed on her own mesh put
    her seam between the overlapping contours and pushed them ~0.5 cm apart (a grey gap between
    closed lips on a turned training face)."""
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        lm = analyse_faces(np.asarray(Image.open(f).convert("RGB")))[0].landmarks
    space = MeshMotionSpace.from_landmarks(_turned(lm, 45.0))
    assert space.neutral[14, 1] < space.neutral[13, 1]  # overlapping in the photo
    for shape in _closure(space, [0.25, 0.5, 1.0]):
        assert shape[14, 1] - shape[13, 1] <= 1e-9
        assert _rows_past_inner(space, shape) < 1e-9

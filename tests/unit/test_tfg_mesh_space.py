"""Mesh motion space: orthonormal basis, exact neutral, gestures move the right landmarks."""

from __future__ import annotations

import numpy as np
import pytest

from facespeak.core.errors import InputError
from facespeak.face.analysis import analyse_faces
from facespeak.tfg import mesh_topology as mt
from facespeak.tfg.mesh_space import D_MOTION, EXPRESSION_NAMES, MOTION_NAMES, MeshMotionSpace, mesh_basis

from face_photos import astronaut


@pytest.fixture(scope="module")
def space() -> MeshMotionSpace:
    return MeshMotionSpace.from_landmarks(analyse_faces(astronaut())[0].landmarks)


def _amount(name: str, value: float = 1.0) -> np.ndarray:
    a = np.zeros((1, len(EXPRESSION_NAMES)))
    a[0, EXPRESSION_NAMES.index(name)] = value
    return a


def _gap(lm: np.ndarray) -> float:
    """Inner-lip opening at the middle, px."""
    return float(lm[14, 1] - lm[13, 1])


def test_basis_is_orthonormal_and_codes_invert():
    b = mesh_basis()
    assert b.basis.shape == (len(EXPRESSION_NAMES), 478 * 3)
    np.testing.assert_allclose(b.basis @ b.basis.T, np.eye(len(EXPRESSION_NAMES)), atol=1e-10)
    amounts = np.random.default_rng(0).uniform(0, 1, (5, len(EXPRESSION_NAMES)))
    np.testing.assert_allclose(b.codes_to_amounts(b.amounts_to_codes(amounts)), amounts, atol=1e-10)
    # the basis spans the designed fields exactly
    design = b.design.reshape(len(EXPRESSION_NAMES), -1)
    np.testing.assert_allclose(b.r.T @ b.basis, design, atol=1e-10)


def test_zero_motion_reproduces_the_portrait(space):
    lm = space.landmarks(space.zero_motion(3))
    assert lm.shape == (3, 478, 2) and len(MOTION_NAMES) == D_MOTION
    face = analyse_faces(astronaut())[0]
    np.testing.assert_allclose(lm[0], face.landmarks[:, :2], atol=1e-6)


def test_jaw_opens_and_closure_closes(space):
    rest = _gap(space.landmarks(space.zero_motion(1))[0])
    opened = _gap(space.landmarks(space.motion_from_amounts(_amount("jaw_open")))[0])
    closed = _gap(space.landmarks(space.motion_from_amounts(_amount("lip_closure")))[0])
    assert opened > rest + 5.0  # the photo's face is ~100 px: a wide "a" opens by several px
    assert closed < 0.5  # the astronaut smiles with parted lips: closure still shuts them


def test_rounding_narrows_and_spreading_widens_the_mouth(space):
    def width(name: str) -> float:
        lm = space.landmarks(space.motion_from_amounts(_amount(name)))[0]
        return float(np.linalg.norm(lm[mt.MOUTH_CORNERS_OUTER[1]] - lm[mt.MOUTH_CORNERS_OUTER[0]]))

    rest_lm = space.landmarks(space.zero_motion(1))[0]
    rest = float(np.linalg.norm(rest_lm[mt.MOUTH_CORNERS_OUTER[1]] - rest_lm[mt.MOUTH_CORNERS_OUTER[0]]))
    assert width("lip_round") < rest - 3.0
    assert width("lip_spread") > rest + 3.0


def test_blink_closes_one_eye_only(space):
    lm = space.landmarks(space.motion_from_amounts(_amount("blink_right")))[0]
    rest = space.landmarks(space.zero_motion(1))[0]
    right = lambda p: p[145, 1] - p[159, 1]  # noqa: E731 - lower minus upper lid, right eye
    left = lambda p: p[374, 1] - p[386, 1]  # noqa: E731
    assert right(lm) < 0.2 * right(rest)
    assert left(lm) == pytest.approx(left(rest), abs=1e-6)


def test_pose_turns_the_head(space):
    motion = space.zero_motion(2)
    motion[1, MOTION_NAMES.index("yaw")] = 10.0
    lm = space.landmarks(motion)
    # yaw > 0: the nose moves towards the image's left, relative to the face outline
    shift_nose = lm[1, 1, 0] - lm[0, 1, 0]
    shift_ear = lm[1, 454, 0] - lm[0, 454, 0]
    assert shift_nose < shift_ear - 2.0


def test_bad_input_raises(space):
    with pytest.raises(InputError, match="expected"):
        space.landmarks(np.zeros((2, 3)))
    with pytest.raises(InputError, match="expected"):
        MeshMotionSpace.from_landmarks(np.zeros((468, 3)))


def test_half_closure_shuts_an_open_portrait_and_full_closure_presses(space):
    """The astronaut's parted lips are closed by the relaxed-rest amount (0.5) already; 1 adds
    the press, and amounts between 0 and 0.5 close the own gap partially."""
    rest = _gap(space.landmarks(space.zero_motion(1))[0])
    quarter = _gap(space.landmarks(space.motion_from_amounts(_amount("lip_closure", 0.25)))[0])
    half = _gap(space.landmarks(space.motion_from_amounts(_amount("lip_closure", 0.5)))[0])
    assert rest > 2.0  # the photo's own gap, px
    assert half < 0.25 * rest
    assert half < quarter < rest


def test_limit_turn_compresses_outward_yaw_and_pitch_and_yaw_back():
    from facespeak.tfg.mesh_space import TURN_BACK_DEG2, TURN_LIMIT_DEG, TURN_MIN_RANGE_DEG, limit_turn

    motion = np.zeros((5, 5))
    motion[:, 0] = [-10.0, -1.0, 0.0, 1.0, 10.0]  # yaw
    motion[:, 1] = [-10.0, -1.0, 0.0, 1.0, 10.0]  # pitch
    motion[:, 2] = [-10.0, -1.0, 0.0, 1.0, 10.0]  # roll: never limited
    motion[:, 3:] = 0.5
    frontal = limit_turn(motion, (0.0, 0.0, 0.0))
    np.testing.assert_allclose(frontal[:, 2:], motion[:, 2:])
    assert np.abs(frontal[:, :2] - motion[:, :2]).max() < 1.0  # little change near frontal
    turned = limit_turn(motion, (18.0, -18.0, 0.0))  # turned right and looking down
    r = max(TURN_LIMIT_DEG[0] - 18.0, TURN_MIN_RANGE_DEG)
    r_back = max(TURN_BACK_DEG2 / 18.0, TURN_MIN_RANGE_DEG)  # yaw back: bounded (issue 12)
    assert 0 < turned[4, 0] <= r and -r_back <= turned[0, 0] < -5.0
    assert -r <= turned[0, 1] < 0 and turned[4, 1] == 10.0  # pitch: the same with the sign flipped
    np.testing.assert_allclose(turned[:, 2:], motion[:, 2:])
    assert np.all(np.diff(turned[:, 0]) > 0)  # monotone: the motion's shape is kept
    with pytest.raises(InputError):
        limit_turn(np.zeros((3, 4)), (0.0, 0.0, 0.0))

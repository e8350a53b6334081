"""Head pose: closed-form recovery on the projected canonical face, and real-photo symmetry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from face_photos import astronaut
from facespeak.face.analysis import analyse_faces
from facespeak.face.pose import canonical_face_model, euler_to_rotation, head_pose, rotation_to_euler


def _project(yaw: float, pitch: float, roll: float, size: int = 512,
             at: tuple[float, float, float] = (0.0, 0.0, 60.0)) -> np.ndarray:
    """Canonical face rotated by the given angles, 60 cm in front of a f=size camera, (468, 2) px.

    The angles are relative to the line of sight to ``at`` (cm, camera frame), as head_pose
    reports them.
    """
    model = canonical_face_model() @ np.diag([1.0, -1.0, -1.0])  # model -> camera frame
    ray = np.array(at) / np.linalg.norm(at)
    axis = np.cross([0.0, 0.0, 1.0], ray)
    sight = cv2.Rodrigues(axis / max(np.linalg.norm(axis), 1e-12) * np.arcsin(min(np.linalg.norm(axis), 1.0)))[0]
    pts = model @ (sight @ euler_to_rotation(yaw, pitch, roll)).T + np.array(at)
    return pts[:, :2] / pts[:, 2:] * size + size / 2


def test_canonical_model_bundled():
    m = canonical_face_model()
    assert m.shape == (468, 3) and not m.flags.writeable
    assert m[33, 0] < 0 < m[263, 0]  # subject's right eye has negative x (image left)
    assert m[1, 2] > m[33, 2]  # nose tip closer to the viewer than the eye corners


@pytest.mark.parametrize("angles", [(0, 0, 0), (30, 0, 0), (-25, 10, 5), (10, -20, -15), (45, 15, 30)])
def test_recovers_known_rotation(angles):
    got = head_pose(_project(*angles), (512, 512))
    np.testing.assert_allclose(got, angles, atol=1.5)


def test_off_axis_face_reads_relative_to_line_of_sight():
    for at in [(20.0, -12.0, 60.0), (-25.0, 15.0, 50.0)]:
        np.testing.assert_allclose(head_pose(_project(15, -10, 5, at=at), (512, 512)), (15, -10, 5), atol=1.5)
    # the same face looking straight into the lens from a corner reads as frontal
    np.testing.assert_allclose(head_pose(_project(0, 0, 0, at=(20.0, 15.0, 60.0)), (512, 512)), 0, atol=1.0)


def test_sign_conventions():
    pts = _project(30, 0, 0)
    centre = pts.mean(axis=0)
    assert pts[1, 0] < centre[0]  # yaw > 0: nose points towards image left
    pts = _project(0, 20, 0)
    assert pts[1, 1] > _project(0, 0, 0)[1, 1]  # pitch > 0: nose moves down (looking down)
    pts = _project(0, 0, 20)
    assert pts[263, 1] > pts[33, 1]  # roll > 0: clockwise, image-right eye lower


def test_euler_round_trip():
    for angles in [(12.0, -33.0, 70.0), (-80.0, 5.0, -120.0)]:
        np.testing.assert_allclose(rotation_to_euler(euler_to_rotation(*angles)), angles, atol=1e-9)


def test_frontal_photo_near_zero_and_flip_negates_yaw_and_roll():
    img = astronaut()
    yaw, pitch, roll = analyse_faces(img)[0].pose
    assert abs(yaw) < 10 and abs(roll) < 10 and abs(pitch) < 20
    fyaw, fpitch, froll = analyse_faces(np.ascontiguousarray(img[:, ::-1]))[0].pose
    assert abs(yaw + fyaw) < 2.5 and abs(roll + froll) < 2.5 and abs(pitch - fpitch) < 2.5


def test_in_plane_rotation_shows_as_roll():
    img = astronaut()
    r0 = analyse_faces(img)[0].pose[2]
    cw = np.ascontiguousarray(np.rot90(img, -1))  # rotate 90 deg clockwise
    yaw, _, roll = analyse_faces(cw)[0].pose
    assert abs(roll - r0 - 90) < 5 and abs(yaw) < 10

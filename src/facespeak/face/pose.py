"""Head pose (yaw, pitch, roll in degrees) from a face mesh.

Method: ``cv2.solvePnP`` of the first 468 mesh landmarks (image pixels) against MediaPipe's
canonical 3D face model (bundled as ``assets/face/canonical_face_model.txt``, Apache-2.0), with a
pinhole camera whose focal length equals the image's long side (about 53 deg field of view)
and whose principal point is the image centre. Rotation barely depends on that guess.

The rotation is reported relative to the line of sight from the camera to the head (not to
the optical axis), so the pose describes how the face *looks* in the photo wherever it sits.

Conventions (camera frame of OpenCV: x right, y down, z away from the camera). The model
(x right as seen by the viewer, y up, z towards the viewer) is turned by 180 deg about x into
that frame, so a face looking straight into the camera has R = I and yaw = pitch = roll = 0.
``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)``:

- yaw > 0: the nose points towards the image's left (the subject turns to their right),
- pitch > 0: the nose points down (looking down),
- roll > 0: clockwise in-plane rotation in the image (the image-right eye lower).

Mirroring the image left-right negates yaw and roll and keeps pitch.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from ..assets import asset_path

__all__ = ["N_MODEL_POINTS", "canonical_face_model", "head_pose", "rotation_to_euler", "euler_to_rotation"]

N_MODEL_POINTS = 468

# Model frame (y up, z to viewer) -> OpenCV camera frame (y down, z away): 180 deg about x.
_MODEL_TO_CAMERA = np.diag([1.0, -1.0, -1.0])


@functools.lru_cache(maxsize=1)
def canonical_face_model() -> np.ndarray:
    """MediaPipe canonical face: ``(468, 3) float64`` in cm, y up, z towards the viewer.

    Returns a read-only array; row i is face-mesh landmark i.
    """
    path = asset_path("face", "canonical_face_model.txt")
    points = np.loadtxt(path, comments="#", dtype=np.float64)
    assert points.shape == (N_MODEL_POINTS, 3), points.shape
    points.setflags(write=False)
    return points


def head_pose(landmarks: np.ndarray, image_size: tuple[int, int]) -> tuple[float, float, float]:
    """Yaw, pitch, roll in degrees of one face.

    Args:
        landmarks: ``(N >= 468, 2 or 3)`` mesh landmarks in image pixels (x, y[, z]);
            only x, y of the first 468 are used.
        image_size: ``(H, W)`` of the image the landmarks live in.

    Returns:
        ``(yaw, pitch, roll)`` degrees, conventions in the module docstring.
    """
    assert landmarks.ndim == 2 and landmarks.shape[0] >= N_MODEL_POINTS, landmarks.shape
    h, w = image_size
    f = float(max(h, w))
    image_points = np.ascontiguousarray(landmarks[:N_MODEL_POINTS, :2], dtype=np.float64)
    camera = np.array([[f, 0.0, w / 2.0], [0.0, f, h / 2.0], [0.0, 0.0, 1.0]])
    model = canonical_face_model() @ _MODEL_TO_CAMERA
    ok, rvec, tvec = cv2.solvePnP(model, image_points, camera, None, flags=cv2.SOLVEPNP_EPNP)
    if ok:
        ok, rvec, tvec = cv2.solvePnP(model, image_points, camera, None, rvec, tvec,
                                      useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    assert ok, "solvePnP failed on a full mesh"
    rotation, _ = cv2.Rodrigues(rvec)
    return rotation_to_euler(_line_of_sight(tvec.reshape(3)).T @ rotation)


def _line_of_sight(translation: np.ndarray) -> np.ndarray:
    """Smallest rotation taking the optical axis (0, 0, 1) onto the ray to the head.

    Expressing the head rotation relative to this ray makes a face that *looks* frontal read
    as frontal wherever it sits in the photo (a face in a corner of a wide-angle shot is seen
    obliquely by the camera even when it faces the lens).
    """
    ray = translation / np.linalg.norm(translation)
    axis = np.cross([0.0, 0.0, 1.0], ray)
    angle = math.atan2(float(np.linalg.norm(axis)), float(ray[2]))
    if np.linalg.norm(axis) < 1e-12:
        return np.eye(3)
    rvec = axis / np.linalg.norm(axis) * angle
    return cv2.Rodrigues(rvec.reshape(3, 1))[0]


def rotation_to_euler(rotation: np.ndarray) -> tuple[float, float, float]:
    """``(3, 3)`` rotation -> ``(yaw, pitch, roll)`` degrees for ``R = Rz(roll) Ry(yaw) Rx(pitch)``."""
    r = np.asarray(rotation, dtype=np.float64)
    yaw = math.asin(float(np.clip(-r[2, 0], -1.0, 1.0)))
    pitch = math.atan2(float(r[2, 1]), float(r[2, 2]))
    roll = math.atan2(float(r[1, 0]), float(r[0, 0]))
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def euler_to_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Inverse of :func:`rotation_to_euler`: degrees -> ``(3, 3)`` rotation matrix."""
    y, p, r = (math.radians(v) for v in (yaw, pitch, roll))
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx

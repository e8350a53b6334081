"""face.analysis.face_nearest_box / check_animatable on real faces (astronaut heads)."""

import dataclasses

import numpy as np
import pytest
from PIL import Image

import face_photos
from facespeak.core.errors import FaceTooSmallError, InputError
from facespeak.face.analysis import analyse_faces, check_animatable, face_nearest_box


@pytest.fixture(scope="module")
def faces():
    found = analyse_faces(face_photos.group((1.0, 0.6, 0.8)))
    assert len(found) == 3
    return found


def test_box_hint_picks_the_matching_face_not_the_largest(faces):
    for f in faces:
        shifted = np.asarray(f.box) + 5.0  # a slightly different detector run
        assert face_nearest_box(faces, shifted) is f


def test_point_picks_the_nearest_face_and_no_overlap_can_give_none(faces):
    x, y = faces[2].centre
    assert face_nearest_box(faces, (x + 3, y - 3, x + 3, y - 3)) is faces[2]
    far = (-50.0, -50.0, -40.0, -40.0)
    assert face_nearest_box(faces, far) is not None
    assert face_nearest_box(faces, far, require_overlap=True) is None


def test_no_hint_gives_the_largest_and_no_faces_gives_none(faces):
    assert face_nearest_box(faces, None) is faces[0]
    assert face_nearest_box([], (0, 0, 10, 10)) is None


def test_check_animatable_accepts_a_frontal_face_and_refuses_a_cut_one():
    img = face_photos.astronaut()
    face = analyse_faces(img)[0]
    check_animatable(face)
    x0, _, x1, _ = face.box
    cut = np.ascontiguousarray(img[:, round(x0 + 0.4 * (x1 - x0)):])
    with pytest.raises(InputError, match="cut by the image border"):
        check_animatable(analyse_faces(cut)[0])


def test_check_animatable_profile_and_small_faces():
    cam = analyse_faces(face_photos.cameraman())[0]
    check_animatable(cam)  # read ~49 deg: within the gate since session 13 (PROFILE_YAW_DEG 60)
    beyond = dataclasses.replace(cam, pose=(-70.0, *cam.pose[1:]))  # no real photo reads past 60 and is meshed
    with pytest.raises(InputError, match=r"turned \d+ deg from frontal \(profile\)"):
        check_animatable(beyond)
    check_animatable(beyond, allow_profile=True)
    half = np.asarray(Image.fromarray(face_photos.astronaut()).resize((256, 256), Image.Resampling.LANCZOS))
    small = analyse_faces(half)[0]  # face ~52 px
    with pytest.raises(FaceTooSmallError, match=r"\d+x\d+ px; expected at least 64 px"):
        check_animatable(small)

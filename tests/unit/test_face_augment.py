"""Face augmentation (facespeak.face.augment) on a real photo: the crop centres the face, each
expression warp moves what it names (measured by re-analysing the warped pixels), random views
are seeded, and the face bank's augmented views use them."""

from __future__ import annotations

import numpy as np
import pytest

from face_photos import astronaut
from facespeak.core.errors import InputError
from facespeak.face.analysis import analyse_faces, choose_face
from facespeak.face.augment import augment_face_image, expression_warp, face_crop
from facespeak.face.identity import MOTION_TARGET_NAMES, motion_targets


@pytest.fixture(scope="module")
def photo():
    image = astronaut()
    return image, choose_face(analyse_faces(image))


def _measures(image: np.ndarray) -> dict[str, float]:
    """The face's motion measures plus ``chin``: nose bridge (6) to chin (152) over the
    inter-ocular distance (outer eye corners 33, 263)."""
    face = choose_face(analyse_faces(image))
    p = face.landmarks[:, :2]
    chin = float(np.linalg.norm(p[152] - p[6]) / np.linalg.norm(p[33] - p[263]))
    return {**dict(zip(MOTION_TARGET_NAMES, motion_targets(face).tolist())), "chin": chin}


def test_face_crop_centres_the_face_at_a_fixed_scale(photo):
    image, face = photo
    crop = face_crop(image, face)
    assert crop.shape == (320, 320, 3) and crop.dtype == np.uint8
    seen = choose_face(analyse_faces(crop))
    assert np.allclose(seen.centre, (160, 160), atol=20)
    side = 320 / 2.4  # the crop spans 2.4 x the face box's longer side
    assert 0.7 * side < max(seen.width, seen.height) < 1.3 * side


def test_expression_warps_move_what_they_name(photo):
    image, face = photo
    before = _measures(image)
    jaw = _measures(expression_warp(image, face, "jaw", 0.2))
    smile = _measures(expression_warp(image, face, "smile", 0.12))
    blink = _measures(expression_warp(image, face, "blink", 0.9))
    # the jaw drops (0.2 inter-ocular distances); this smiling photo's lips stay together, so
    # the mesh sees a longer face rather than an open mouth
    assert jaw["chin"] > before["chin"] + 0.1
    assert smile["mouth_width"] > before["mouth_width"] + 0.1
    assert blink["right_eye_open"] < before["right_eye_open"] - 0.03
    assert blink["left_eye_open"] < before["left_eye_open"] - 0.03


def test_unknown_warp_kind_is_an_input_error(photo):
    image, face = photo
    with pytest.raises(InputError, match="'jaw', 'smile' or 'blink'"):
        expression_warp(image, face, "frown", 0.1)


def test_random_views_are_seeded_and_keep_the_image_format(photo):
    image, face = photo
    crop = face_crop(image, face)
    crop_face = choose_face(analyse_faces(crop))
    a = augment_face_image(crop, crop_face, np.random.default_rng(3))
    b = augment_face_image(crop, crop_face, np.random.default_rng(3))
    c = augment_face_image(crop, crop_face, np.random.default_rng(4))
    assert a.shape == crop.shape and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_face_bank_views_come_from_the_augmentations(photo):
    from facespeak.data.face_bank import _augmented_views

    image, face = photo
    views = _augmented_views(image, face.box, 3, np.random.default_rng(0))
    assert len(views) == 3 and all(v.shape == (320, 320, 3) and extra is None for v, extra in views)
    assert not np.array_equal(views[0][0], views[1][0])

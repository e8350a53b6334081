"""Bundled identity weights on real photos: f_id moves less than f when the same face is
flipped, rotated or changes expression, and stays apart from another person."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from facespeak.face.analysis import analyse_faces, choose_face
from facespeak.face.augment import expression_warp
from facespeak.face.identity import IdentityExtractor, bundled_identity_path
from facespeak.face.image_io import load_image


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def astronaut_views():
    image = skimage.data.astronaut()
    face = choose_face(analyse_faces(image))
    cx, cy = face.centre
    rotated = cv2.warpAffine(image, cv2.getRotationMatrix2D((cx, cy), 15.0, 1.0), image.shape[1::-1],
                             borderMode=cv2.BORDER_REPLICATE)
    views = [np.ascontiguousarray(image[:, ::-1]), rotated, expression_warp(image, face, "jaw", 0.2),
             expression_warp(image, face, "smile", 0.1)]
    faces = [choose_face(analyse_faces(v)) for v in views]
    return (image, face), list(zip(views, faces))


def test_bundled_weights_exist_and_decompose_exactly(astronaut_views):
    assert bundled_identity_path().is_file()
    (image, face), _ = astronaut_views
    feats = IdentityExtractor.from_bundled().extract(image, face)
    assert feats.f.dtype == np.float32 and feats.f.shape == feats.f_id.shape == feats.f_m.shape
    np.testing.assert_allclose(feats.f_id + feats.f_m, feats.f, atol=1e-5)
    assert abs(feats.motion["yaw"] - face.pose[0]) < 15.0  # alpha reads back the head pose


def test_f_id_is_more_stable_than_f_and_separates_people(astronaut_views):
    extractor = IdentityExtractor.from_bundled()
    (image, face), views = astronaut_views
    ref = extractor.extract(image, face)
    others = extractor.extract_batch([v for v, _ in views], [f for _, f in views])
    moved_id = [1 - _cos(ref.f_id, o.f_id) for o in others]
    moved_f = [1 - _cos(ref.f, o.f) for o in others]
    assert np.mean(moved_id) < np.mean(moved_f), (moved_id, moved_f)
    import matplotlib.cbook

    hopper = load_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    other = extractor.extract(hopper, choose_face(analyse_faces(hopper)))
    assert _cos(ref.f_id, other.f_id) < min(_cos(ref.f_id, o.f_id) for o in others)

"""Face tracking for the video metrics: detection per frame plus a second look where the face was."""

from __future__ import annotations

import numpy as np
import pytest

from facespeak.core.errors import InputError
from facespeak.eval.features import track_faces
from facespeak.face.analysis import analyse_faces, face_in_box

from face_photos import astronaut, no_face


def test_face_in_box_finds_the_face_there_and_nothing_elsewhere():
    image = astronaut()
    face = analyse_faces(image)[0]
    again = face_in_box(image, face.box)
    assert again is not None and np.isnan(again.score) and again.box == face.box
    assert np.abs(again.landmarks[:, :2] - face.landmarks[:, :2]).mean() < 1.0  # px
    blank = no_face()
    h, w = blank.shape[:2]
    assert face_in_box(blank, (w * 0.3, h * 0.3, w * 0.7, h * 0.7)) is None
    with pytest.raises(InputError):
        face_in_box(image, (10, 10, 5, 40))


def test_track_reports_frames_without_a_face():
    image = astronaut()
    blank = np.full_like(image, 128)
    track = track_faces([image, image, blank, image])
    np.testing.assert_array_equal(track.found, [True, True, False, True])
    assert np.isnan(track.landmarks[2]).all() and np.isfinite(track.landmarks[3]).all()

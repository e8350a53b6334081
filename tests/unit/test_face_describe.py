"""face.describe: the one description of faces that `facespeak faces` and `/api/faces` share."""

from __future__ import annotations

import dataclasses

from face_photos import group
from facespeak.face.analysis import analyse_faces
from facespeak.face.describe import describe_faces


def test_default_is_the_largest_face_that_can_be_animated():
    image = group((1.0, 0.6, 0.8))
    faces = analyse_faces(image)
    plain = describe_faces(image, faces, with_gender=False)
    assert plain["default_index"] == 0 and plain["faces"][0]["default"]
    assert (plain["height"], plain["width"]) == image.shape[:2]
    turned = [dataclasses.replace(faces[0], pose=(75.0, 0.0, 0.0))] + faces[1:]  # the largest in profile
    out = describe_faces(image, turned, with_gender=False)
    assert out["default_index"] == 1
    assert [f["default"] for f in out["faces"]] == [False, True] + [False] * (len(faces) - 2)
    assert not out["faces"][0]["animatable"] and out["faces"][0]["profile"]
    assert "gender" not in out["faces"][1]

"""analyse_faces / choose_face / load_portrait on real faces (scikit-image photos)."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from PIL import Image

from face_photos import ASTRONAUT_FACE_CENTRE, astronaut, encode, group, head, no_face
from facespeak.core.errors import FaceTooSmallError, ImageError, InputError, NoFaceError
from facespeak.face.analysis import N_LANDMARKS, Face, analyse_faces, choose_face, load_portrait


def _near_astronaut_face(face: Face, tol: float = 15.0) -> bool:
    return float(np.hypot(*(np.array(face.centre) - ASTRONAUT_FACE_CENTRE))) < tol


def test_astronaut_one_face_with_mesh_inside_box():
    faces = analyse_faces(astronaut())
    assert len(faces) == 1
    f = faces[0]
    assert _near_astronaut_face(f)
    assert 80 < f.width < 130 and 0.5 < f.score <= 1.0
    assert f.landmarks.shape == (N_LANDMARKS, 3) and f.landmarks.dtype == np.float32
    assert f.image_size == (512, 512)
    x0, y0, x1, y1 = f.box
    nose = f.landmarks[1]
    assert x0 < nose[0] < x1 and y0 < nose[1] < y1
    # subject's right eye is on the image's left; irises lie between the eye corners
    assert f.point("right_eye_corners")[0] < nose[0] < f.point("left_eye_corners")[0]
    r = f.point("right_iris")[0]
    assert f.landmarks[33, 0] < r < f.landmarks[133, 0]
    assert f.point("mouth_corners")[1] > nose[1]
    # z is in pixel units like x: the face's depth extent is a fraction of its width
    assert 0.2 * f.width < np.ptp(f.landmarks[:468, 2]) < 1.5 * f.width


def test_several_faces_sorted_largest_first_each_with_own_mesh():
    img = group((0.6, 1.0, 0.8))
    faces = analyse_faces(img)
    assert len(faces) == 3
    areas = [f.area for f in faces]
    assert areas == sorted(areas, reverse=True)
    xs = [f.centre[0] for f in faces]  # largest head is the middle one, then right, then left
    assert xs[2] < xs[0] < xs[1]
    for f in faces:  # each mesh sits in its own box
        cx = f.landmarks[:, 0].mean()
        assert f.box[0] < cx < f.box[2]
    assert len(analyse_faces(img, max_faces=2)) == 2


def test_small_faces_in_a_wide_group_photo_are_found():
    faces = analyse_faces(group((1.0, 0.5, 0.7, 0.4, 0.9)))
    assert len(faces) == 5


def test_choose_face_default_is_largest_and_logs(caplog):
    faces = analyse_faces(group((0.6, 1.0, 0.8)))
    with caplog.at_level(logging.INFO, logger="facespeak.face.analysis"):
        chosen = choose_face(faces, None)
    assert chosen is faces[0]
    assert "3 faces found; using #0, the largest face" in caplog.text and "--face-index" in caplog.text
    assert choose_face(faces, 2) is faces[2]
    with pytest.raises(InputError, match=r"3 faces found.*0\.\.2"):
        choose_face(faces, 3)
    with pytest.raises(InputError, match="out of range"):
        choose_face(faces, -1)


def test_no_face_photo():
    assert analyse_faces(no_face()) == []
    with pytest.raises(NoFaceError, match="no face found in coffee.png; expected a photo with one"):
        choose_face([], None, name="coffee.png")
    plain = np.tile(np.linspace(0, 255, 300).astype(np.uint8)[None, :, None], (200, 1, 3))
    assert analyse_faces(plain) == []


def test_face_smaller_than_64_px_is_found_but_refused():
    canvas = np.full((256, 256, 3), 128, np.uint8)
    h = head(0.3)  # face ~30 px
    canvas[80:80 + h.shape[0], 80:80 + h.shape[1]] = h
    faces = analyse_faces(canvas)
    assert len(faces) == 1 and faces[0].short_side < 64
    with pytest.raises(FaceTooSmallError, match=r"\d+x\d+ px; expected at least 64"):
        choose_face(faces)


@pytest.mark.parametrize("cut", [185, 215])
def test_face_cut_by_left_border_gets_mesh(cut):
    img = np.ascontiguousarray(astronaut()[:, cut:])
    faces = analyse_faces(img)
    assert len(faces) == 1
    f = faces[0]
    assert f.box[0] < 0  # box extends past the border
    assert f.landmarks[:, 0].min() < 0  # mesh continues outside the image
    # the mesh is where the astronaut's face is, shifted by the cut
    assert abs(f.landmarks[1, 0] - (223 - cut)) < 8 and abs(f.landmarks[1, 1] - 130) < 8


def test_grayscale_and_rgba_photos(tmp_path):
    gray = astronaut().mean(axis=2).astype(np.uint8)
    rgba = np.dstack([astronaut(), np.full((512, 512), 255, np.uint8)])
    for data in (encode(gray), encode(rgba)):
        p = load_portrait(data)
        assert _near_astronaut_face(p.face)


def test_exif_rotated_jpeg_face_found_upright(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated; viewer must rotate 90 deg clockwise
    stored = Image.fromarray(astronaut()).transpose(Image.Transpose.ROTATE_90)
    path = tmp_path / "phone.jpg"
    stored.save(path, quality=92, exif=exif.tobytes())
    p = load_portrait(path)
    assert _near_astronaut_face(p.face) and abs(p.face.pose[2]) < 10  # upright: little roll


def test_huge_image_works_after_downscale():
    big = np.asarray(Image.fromarray(astronaut()).resize((5000, 5000), Image.Resampling.BILINEAR))
    p = load_portrait(encode(big, "JPEG", quality=85))
    assert p.image.shape == (2048, 2048, 3)
    scale = 2048 / 512
    assert np.hypot(*(np.array(p.face.centre) / scale - ASTRONAUT_FACE_CENTRE)) < 15


def test_corrupt_and_tiny_inputs_raise_image_errors(tmp_path):
    bad = tmp_path / "x.jpg"
    bad.write_text("hello")
    with pytest.raises(ImageError):
        load_portrait(bad)
    with pytest.raises(ImageError, match="32x32"):
        load_portrait(np.zeros((32, 32, 3), np.uint8))


def test_thread_safe_results_equal_serial():
    imgs = [astronaut(), group((0.6, 1.0, 0.8)), np.ascontiguousarray(astronaut()[:, ::-1])]
    serial = [analyse_faces(im) for im in imgs]
    results: dict[int, list[Face]] = {}

    def work(i: int) -> None:
        for _ in range(3):
            results[i] = analyse_faces(imgs[i % 3])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, faces in results.items():
        ref = serial[i % 3]
        assert len(faces) == len(ref)
        for a, b in zip(faces, ref):
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-3)

"""Aligned crops: template placement, round trips, roll removal."""

from __future__ import annotations

import cv2
import numpy as np

from face_photos import astronaut
from facespeak.face.align import (ALIGN_TEMPLATE, AlignedFace, align_face, alignment_points, crop_landmarks,
                                  similarity_transform, soften_outside)
from facespeak.face.analysis import analyse_faces


def test_similarity_transform_recovers_exact_similarity():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    a = np.deg2rad(25.0)
    m = 1.7 * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    dst = src @ m.T + np.array([10.0, -4.0])
    got = similarity_transform(src, dst)
    np.testing.assert_allclose(got[:, :2], m, atol=1e-9)
    np.testing.assert_allclose(got[:, 2], [10.0, -4.0], atol=1e-9)


def test_aligned_crop_puts_points_on_template():
    img = astronaut()
    face = analyse_faces(img)[0]
    for size, scale in [(256, 1.0), (128, 1.5)]:
        al = align_face(img, face, size=size, scale=scale)
        assert al.crop.shape == (size, size, 3) and al.crop.dtype == np.uint8
        pts = alignment_points(face) @ al.matrix[:, :2].T + al.matrix[:, 2]
        target = ((ALIGN_TEMPLATE - 0.5) * scale + 0.5) * size
        assert np.abs(pts - target).max() < 0.06 * size  # 3 points, 4-dof fit: small residual
        lm = crop_landmarks(face, al.matrix)
        assert lm.shape == (478, 3)
        np.testing.assert_allclose(lm[:, 2], face.landmarks[:, 2] * al.scale, rtol=1e-5, atol=1e-4)
        # inverse maps crop landmarks back to image landmarks
        back = lm[:, :2] @ al.inverse[:, :2].T + al.inverse[:, 2]
        np.testing.assert_allclose(back, face.landmarks[:, :2], atol=1e-2)


def test_crop_pixels_come_from_the_face():
    img = astronaut()
    face = analyse_faces(img)[0]
    al = align_face(img, face, size=256)
    # sampling the image at the crop's inverse-mapped centre gives the crop's centre colour
    x, y = al.inverse @ np.array([128.0, 128.0, 1.0])
    assert np.abs(img[int(round(y)), int(round(x))].astype(int) - al.crop[128, 128].astype(int)).max() < 40


def test_alignment_removes_roll():
    img = astronaut()
    rot = cv2.getRotationMatrix2D((226.0, 120.0), 25.0, 1.0)
    tilted = cv2.warpAffine(img, rot, (512, 512), borderMode=cv2.BORDER_REFLECT)
    a = align_face(img, analyse_faces(img)[0])
    b = align_face(tilted, analyse_faces(tilted)[0])
    for al in (a, b):
        lm = crop_landmarks(analyse_faces(img if al is a else tilted)[0], al.matrix)
        eyes = lm[[33, 263], :2]
        tilt = np.degrees(np.arctan2(eyes[1, 1] - eyes[0, 1], eyes[1, 0] - eyes[0, 0]))
        assert abs(tilt) < 4
    diff = np.abs(a.crop.astype(int) - b.crop.astype(int))[64:192, 64:192].mean()
    assert diff < 12  # same face content in both aligned crops


def test_turned_face_is_not_over_zoomed():
    from face_photos import cameraman

    for img in (astronaut(), cameraman()):  # frontal, and yaw ~ -50 deg
        face = analyse_faces(img)[0]
        lm = crop_landmarks(face, align_face(img, face, size=256).matrix)
        height = lm[152, 1] - lm[10, 1]  # forehead top to chin
        assert 0.35 * 256 < height < 0.75 * 256
        assert lm[:468, :2].min() > 0 and lm[:468, :2].max() < 256  # whole face inside the crop


def test_soften_outside_replaces_edge_streaks_and_keeps_the_photo():
    """A crop reaching past the photo's top edge: replication draws the edge row's colours as
    vertical streaks; the softened crop keeps every pixel inside the photo and has no streaks."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)  # a high-contrast edge row
    matrix = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 40.0]])  # the photo's top edge at crop row 40
    crop = cv2.warpAffine(img, matrix, (160, 160), borderMode=cv2.BORDER_REPLICATE)
    al = AlignedFace(crop, matrix, cv2.invertAffineTransform(matrix))
    out = soften_outside(al, img.shape)
    assert out.shape == crop.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[41:], crop[41:])  # the photo itself is untouched
    streak = np.abs(np.diff(crop[:38].astype(float), axis=1)).mean()  # column-to-column jumps
    soft = np.abs(np.diff(out[:38].astype(float), axis=1)).mean()
    assert streak > 40 and soft < streak / 10, (streak, soft)
    shift = np.array([[1.0, 0.0, -10.0], [0.0, 1.0, -10.0]])  # a 100 px crop well inside the photo
    whole = cv2.warpAffine(img, shift, (100, 100))
    assert soften_outside(AlignedFace(whole, shift, cv2.invertAffineTransform(shift)), img.shape) is whole


def _footprint(al, size: int) -> np.ndarray:
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    return corners @ al.inverse[:, :2].T + al.inverse[:, 2]


def test_inside_crop_frames_a_tight_photo_without_area_it_lacks():
    """A photo cut close to the face (as face-recognition crops are): the template crop reaches
    far past it (edge streaks or a blur there); ``inside=True`` zooms in just enough, at most
    INSIDE_MAX_ZOOM, with eyes and mouth well inside the crop."""
    from facespeak.face.align import INSIDE_MAX_ZOOM, INSIDE_MARGIN

    img = astronaut()
    face = analyse_faces(img)[0]
    x0, y0, x1, y1 = (int(v) for v in face.box)
    pad = (x1 - x0) // 10
    tight = np.ascontiguousarray(img[y0 - pad:y1 + pad, x0 - pad:x1 + pad])
    f = analyse_faces(tight)[0]
    h, w = tight.shape[:2]
    plain, fitted = align_face(tight, f, 256), align_face(tight, f, 256, inside=True)
    assert _footprint(plain, 256).min() < -20  # the template crop leaves the photo
    foot = _footprint(fitted, 256)
    assert foot[:, 0].min() >= -0.51 and foot[:, 1].min() >= -0.51
    assert foot[:, 0].max() <= w - 0.49 and foot[:, 1].max() <= h - 0.49
    zoom = fitted.scale / plain.scale
    assert 1.0 < zoom <= INSIDE_MAX_ZOOM + 1e-9
    pts = crop_landmarks(f, fitted.matrix)[[33, 263, 61, 291], :2]
    assert (pts > INSIDE_MARGIN * 256 - 1e-6).all() and (pts < (1 - INSIDE_MARGIN) * 256 + 1e-6).all()
    # a crop that already lies inside the photo is not touched
    whole = analyse_faces(img)[0]
    np.testing.assert_array_equal(align_face(img, whole, 256, inside=True).matrix, align_face(img, whole, 256).matrix)

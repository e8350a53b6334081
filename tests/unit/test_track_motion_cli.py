"""`facespeak data track-motion`: a real H.264+AAC face clip -> recorded motion file (the bank the
'rules' motion path replays)."""

from __future__ import annotations

import json

import numpy as np
from test_talking_clips import write_clip

from facespeak.cli.main import main
from facespeak.motion.recorded import RecordedMotion


def test_track_motion_writes_a_recorded_motion_file(tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, 15, "Hello there.")
    out = tmp_path / "bank" / "motion.safetensors"
    assert main(["data", "track-motion", str(clip), "--out", str(out), "--source", "test clip"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    bank = RecordedMotion.load(out)
    assert report["frames"] == len(bank.pose) == 15 and bank.source == "test clip"
    assert np.isfinite(bank.pose).all() and bank.blink.shape[0] == 15
    assert not list(out.parent.glob(".*partial"))  # written atomically, nothing left behind


def test_track_motion_missing_video_is_one_line(tmp_path, capsys):
    code = main(["data", "track-motion", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "m.safetensors")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and err.startswith("error:") and "\n" not in err
    assert not (tmp_path / "m.safetensors").exists()

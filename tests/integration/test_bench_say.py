"""`facespeak bench say` on the real pipeline (bundled weights), tiny settings: 1 s, 256 px.

In process: every stage clock is really hooked into ``pipeline.say`` (each stage > 0), the
times add up, first audio comes before the first frame, and the patched pipeline objects are
restored afterwards. As a CLI: the default isolated (spawned) case and a cold ``facespeak say``
run, the table printed and the JSON written.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import facespeak.pipeline as pipeline
import facespeak.tfg.mesh_renderer as mesh_renderer
import facespeak.video.writer as writer
from facespeak.eval.bench import SAY_STAGES, SayBenchConfig, format_say_table, run_bench_say
from facespeak.pipeline import default_tts_path

pytestmark = pytest.mark.skipif(not default_tts_path().is_file(), reason="bundled TTS weights not built yet")

REPO = Path(__file__).resolve().parents[2]


def test_bench_say_times_every_stage_of_the_real_pipeline():
    originals = (pipeline.plan_motion, mesh_renderer.MeshRenderer, writer.VideoWriter)
    cfg = SayBenchConfig.tiny()
    cfg.image = str(REPO / "examples" / "portrait.jpg")
    result = run_bench_say(cfg)
    (row,) = result["cases"]
    assert row["size"] == "256" and 0.4 < row["audio_seconds"] < 4.0
    assert row["frames"] == pytest.approx(row["audio_seconds"] * 25, abs=1)
    for stage in SAY_STAGES:
        assert row["stages"][stage] > 0, stage
    assert sum(row["stages"].values()) == pytest.approx(row["total_s"], rel=1e-6)
    assert row["stages"]["other"] < 0.25 * row["total_s"]  # the clocks cover the call
    assert 0 < row["first_audio_s"] < row["first_frame_s"] <= row["total_s"]
    assert row["rtf"] == pytest.approx(row["total_s"] / row["audio_seconds"])
    assert row["peak_rss_mb"] > 100
    assert (pipeline.plan_motion, mesh_renderer.MeshRenderer, writer.VideoWriter) == originals
    table = format_say_table(result)
    assert "acoustic" in table and "cold" not in table


def test_bench_say_cli_isolated_case_and_cold_run(tmp_path):
    out = tmp_path / "say.json"
    cmd = [sys.executable, "-m", "facespeak.cli.main", "-q", "bench", "say", "--seconds", "1", "--sizes", "256",
           "--steps", "2", "--threads", "1", "--cold-seconds", "1", "--json-out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(out.read_text())
    (row,) = result["cases"]
    (cold,) = result["cold"]
    assert row["load_s"] > 0 and row["torch_threads"] == 1
    assert row["peak_rss_mb"] >= row["warm_rss_mb"] > 100
    assert 0.4 < cold["audio_seconds"] < 4.0 and cold["rtf"] == pytest.approx(cold["wall_s"] / cold["audio_seconds"])
    assert cold["peak_rss_mb"] > 100 and "facespeak" in cold["command"]
    assert "RTF" in r.stdout and "cold `facespeak say`" in r.stdout and str(out) in r.stdout


def test_bench_say_cli_rejects_bad_lengths_in_one_line(tmp_path):
    cmd = [sys.executable, "-m", "facespeak.cli.main", "bench", "say", "--seconds", "0.1", "--json-out",
           str(tmp_path / "x.json")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: --seconds / --cold-seconds: expected 0.5..600, got 0.1"]
    assert not (tmp_path / "x.json").exists()

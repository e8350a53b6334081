"""`facespeak bench say` on the real pipeline (bundled weights), tiny settings: 1 s, 256 px.

In process: the stage times are the pipeline's own (its StageClock: each stage > 0), the
times add up, first audio comes before the first frame, and nothing of the pipeline is replaced
while the bench runs (checked at every progress report of the timed call). As a CLI: the
default isolated (spawned) case and a cold ``facespeak say`` run, the table printed and the
JSON written.
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
from facespeak.eval.bench import SAY_STAGES, SayBenchConfig, bench_say_case, format_say_table, run_bench_say, warm_up_say
from facespeak.pipeline import FaceSpeak, default_tts_path

pytestmark = pytest.mark.skipif(not default_tts_path().is_file(), reason="bundled TTS weights not built yet")

REPO = Path(__file__).resolve().parents[2]


def _untouched_checker(fs):
    """An ``on_progress`` that fails the run if any object ``say`` uses is not the original
    (a wrapped model, a replaced module function or class) at the moment of a report."""
    own = dict(vars(fs))
    modules = {(m, name): getattr(m, name) for m, names in ((pipeline, ("plan_motion", "say", "_mesh_motion")),
                                                             (mesh_renderer, ("MeshRenderer",)), (writer, ("VideoWriter",)))
               for name in names}
    methods = {name: getattr(FaceSpeak, name) for name in ("face_condition", "iter_chunks", "speak", "_synthesise_chunk")}
    stages = []

    def check(stage: str, fraction: float) -> None:
        assert vars(fs).keys() == own.keys() and all(vars(fs)[k] is v for k, v in own.items())
        assert all(getattr(m, name) is v for (m, name), v in modules.items())
        assert all(getattr(FaceSpeak, name) is v for name, v in methods.items())
        stages.append(stage)

    return check, stages


def test_bench_say_times_every_stage_of_the_real_pipeline_without_replacing_any_of_it():
    fs = FaceSpeak.from_bundled(threads=1)
    image = str(REPO / "examples" / "portrait.jpg")
    warm_up_say(fs, image, "256")
    check, reported = _untouched_checker(fs)
    row = bench_say_case(fs, image, 1.0, "256", steps=2, on_progress=check)
    assert len(reported) > row["frames"]  # checked at every frame and every speech step
    assert row["size"] == "256" and 0.4 < row["audio_seconds"] < 4.0
    assert row["frames"] == pytest.approx(row["audio_seconds"] * 25, abs=1)
    for stage in SAY_STAGES:
        assert row["stages"][stage] > 0, stage
    assert sum(row["stages"].values()) == pytest.approx(row["total_s"], rel=1e-6)
    assert row["stages"]["other"] < 0.25 * row["total_s"]  # the clocks cover the call
    assert 0 < row["first_audio_s"] < row["first_frame_s"] <= row["total_s"]
    assert row["rtf"] == pytest.approx(row["total_s"] / row["audio_seconds"])
    assert row["peak_rss_mb"] > 100 and set(row["stage_peak_rss_mb"]) == set(SAY_STAGES)


def test_bench_say_in_process_result_and_table():
    cfg = SayBenchConfig.tiny()
    cfg.image = str(REPO / "examples" / "portrait.jpg")
    result = run_bench_say(cfg)
    (row,) = result["cases"]
    assert set(row) >= {"seconds_target", "size", "audio_seconds", "frames", "stages", "total_s", "rtf", "first_audio_s",
                        "first_frame_s", "peak_rss_mb", "stage_peak_rss_mb", "load_s", "warmup_s"}
    assert list(row["stages"]) == [*SAY_STAGES, "other"] and result["growth"] == {}
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

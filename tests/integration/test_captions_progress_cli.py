"""`facespeak tts|say --captions` on real speech, and the one progress bar of a run.

Captions come from the TTS's own durations, so on real audio: cues are in order and inside the
file, the words of a known sentence come back in order (a number as typed), and the gap between
two sentences' cues is quiet in the written wav. The progress bar is on stderr only with
``--progress`` (stderr here is a pipe, not a terminal).
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from facespeak.pipeline import default_tts_path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import face_photos  # noqa: E402
from test_captions import parse_srt, parse_vtt  # noqa: E402

CLI = [sys.executable, "-m", "facespeak.cli.main"]
ENV = {"FACESPEAK_THREADS": "1", "OMP_NUM_THREADS": "1"}
TEXT = "Papa bought 24 maps. Open the window wide!"
needs_weights = pytest.mark.skipif(not default_tts_path().is_file(), reason="bundled TTS weights not built yet")


@pytest.fixture(scope="module")
def face(tmp_path_factory):
    p = tmp_path_factory.mktemp("img") / "face.png"
    Image.fromarray(face_photos.astronaut()).save(p)
    return p


def _run(args, timeout=300):
    import os

    env = {k: v for k, v in os.environ.items() if k != "FACESPEAK_NO_PROGRESS"} | ENV
    return subprocess.run(CLI + args, capture_output=True, text=True, timeout=timeout, env=env)


@needs_weights
def test_tts_vtt_captions_match_the_audio_and_the_bar_shows_with_progress(face, tmp_path):
    out, cap = tmp_path / "s.wav", tmp_path / "s.vtt"
    r = _run(["tts", "--image", str(face), "--text", TEXT, "--out", str(out), "--captions", str(cap), "--steps", "4",
              "--seed", "3", "--progress"])
    assert r.returncode == 0, r.stderr
    assert "speech synthesis" in r.stderr and "100%" in r.stderr and "Traceback" not in r.stderr
    wav, sr = sf.read(out)
    cues = parse_vtt(cap.read_text(encoding="utf-8"))
    assert [c[2].split() for c in cues] == [["Papa", "bought", "24", "maps."], ["Open", "the", "window", "wide!"]]
    assert [c[3] for c in cues] == [3, 3]  # a timestamp before every word but the first
    times = [t for c in cues for t in c[:2]]
    assert times == sorted(times) and times[0] >= 0 and times[-1] <= len(wav) / sr + 1e-3
    # the gap between the sentences is quiet, the sentences are not (same sample timeline)
    rms = lambda a, b: float(np.sqrt(np.mean(wav[int(a * sr):int(b * sr)] ** 2)))  # noqa: E731
    gap, speech = rms(cues[0][1] + 0.02, cues[1][0] - 0.02), min(rms(*cues[0][:2]), rms(*cues[1][:2]))
    assert cues[1][0] - cues[0][1] > 0.06
    assert gap < 0.2 * speech, (gap, speech)


@needs_weights
def test_say_srt_captions_without_a_bar_on_a_pipe(face, tmp_path):
    out, cap = tmp_path / "v.mp4", tmp_path / "v.srt"
    r = _run(["say", "--image", str(face), "--text", TEXT, "--out", str(out), "--captions", str(cap), "--steps", "2"])
    assert r.returncode == 0, r.stderr
    assert "%|" not in r.stderr and "speech synthesis" not in r.stderr  # not a terminal, no --progress
    duration = float(r.stdout.split("(")[1].split(" s,")[0])
    cues = parse_srt(cap.read_text(encoding="utf-8"))
    assert [c[2] for c in cues] == ["Papa bought 24 maps.", "Open the window wide!"]
    assert 0 <= cues[0][0] < cues[0][1] <= cues[1][0] < cues[1][1] <= duration + 1e-3


@pytest.mark.parametrize("cmd,suffix", [("tts", ".wav"), ("say", ".mp4")])
@pytest.mark.parametrize("captions", ["subs.txt", "subs", "folder/"])
def test_bad_captions_path_is_one_line_before_any_model_loads(face, tmp_path, cmd, suffix, captions):
    (tmp_path / "folder").mkdir()
    out = tmp_path / f"o{suffix}"
    # a missing --tts-weights file would be the error if any model loaded first
    r = _run([cmd, "--image", str(face), "--text", "Hi.", "--out", str(out), "--captions", str(tmp_path / captions),
              "--tts-weights", str(tmp_path / "missing.safetensors")], timeout=120)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --captions:"), r.stderr
    assert not out.exists()

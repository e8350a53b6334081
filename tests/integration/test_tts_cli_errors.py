"""`facespeak tts` bad input: one clear `error:` line, non-zero exit, no traceback, no output file.

These paths fail before any network is loaded, so they need no trained weights.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import face_photos  # noqa: E402

CLI = [sys.executable, "-m", "facespeak.cli.main"]


def _run(args, tmp_path, stdin=None):
    out = tmp_path / "speech.wav"
    r = subprocess.run(CLI + ["tts", *args, "--out", str(out)], capture_output=True, text=True, input=stdin, timeout=120)
    return r, out


def _assert_one_error(r, out, needle, code=None):
    assert r.returncode != 0
    if code is not None:
        assert r.returncode == code
    err_lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(err_lines) == 1, r.stderr
    assert needle.lower() in err_lines[0].lower(), err_lines[0]
    assert "Traceback" not in r.stderr
    assert not out.exists()


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    Image.fromarray(face_photos.astronaut()).save(d / "face.png")
    Image.fromarray(face_photos.no_face()).save(d / "coffee.jpg")
    Image.fromarray(face_photos.astronaut()[:40, :40]).save(d / "tiny.png")
    (d / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (d / "notes.txt").write_text("hello")
    Image.fromarray(np.ascontiguousarray(face_photos.astronaut()[::8, ::8])).resize((512, 512)).save(d / "blurry.png")
    return d


def test_empty_text(photos, tmp_path):
    r, out = _run(["--image", str(photos / "face.png"), "--text", "   "], tmp_path)
    _assert_one_error(r, out, "text is empty")


def test_unspeakable_text(photos, tmp_path):
    r, out = _run(["--image", str(photos / "face.png"), "--text", "😀 你好 ★"], tmp_path)
    _assert_one_error(r, out, "no speakable English")


def test_enormous_text(photos, tmp_path):
    r, out = _run(["--image", str(photos / "face.png"), "--text-file", "-"], tmp_path, stdin="word " * 10000)
    _assert_one_error(r, out, "limit")


def test_missing_text_file(photos, tmp_path):
    r, out = _run(["--image", str(photos / "face.png"), "--text-file", str(tmp_path / "nope.txt")], tmp_path)
    _assert_one_error(r, out, "not found")


def test_no_face(photos, tmp_path):
    r, out = _run(["--image", str(photos / "coffee.jpg"), "--text", "Hello."], tmp_path)
    _assert_one_error(r, out, "no face", code=3)


@pytest.mark.parametrize("name,needle", [("corrupt.jpg", "image"), ("notes.txt", "image"), ("missing.png", "not found"),
                                         ("tiny.png", "at least 64 px")])
def test_bad_images(photos, tmp_path, name, needle):
    r, out = _run(["--image", str(photos / name), "--text", "Hello."], tmp_path)
    _assert_one_error(r, out, needle)


def test_face_index_out_of_range(photos, tmp_path):
    r, out = _run(["--image", str(photos / "face.png"), "--text", "Hello.", "--face-index", "3"], tmp_path)
    _assert_one_error(r, out, "face")


def test_bad_output_suffix_and_options(photos, tmp_path):
    r = subprocess.run(CLI + ["tts", "--image", str(photos / "face.png"), "--text", "Hi.", "--out", str(tmp_path / "a.mp3")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and r.stderr.count("error:") == 1 and ".wav" in r.stderr
    r = subprocess.run(CLI + ["tts", "--image", str(photos / "face.png"), "--text", "Hi.", "--steps", "0", "--out", str(tmp_path / "a.wav")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and r.stderr.count("error:") == 1 and "steps" in r.stderr
    r = subprocess.run(CLI + ["tts", "--image", str(photos / "face.png"), "--text", "Hi.", "--voice-gender", "robot",
                              "--out", str(tmp_path / "a.wav")], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and r.stderr.count("error:") == 1 and "voice-gender" in r.stderr
    r = subprocess.run(CLI + ["tts", "--image", str(photos / "face.png"), "--text", "Hi.", "--formant-shift", "-700",
                              "--out", str(tmp_path / "a.wav")], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and r.stderr.count("error:") == 1 and "formant shift" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "a.wav").exists()


def _one_error_line(r, needle):
    err_lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert r.returncode == 2 and len(err_lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert needle.lower() in err_lines[0].lower(), err_lines[0]


@pytest.mark.parametrize("seed", ["10000000000000", "4294967296", "-1"])
def test_seed_out_of_range(photos, tmp_path, seed):
    r, out = _run(["--image", str(photos / "face.png"), "--text", "Hello.", "--seed", seed], tmp_path)
    _assert_one_error(r, out, "seed: expected a whole number 0..4294967295")


@pytest.mark.parametrize("command", ["tts", "say"])
def test_bad_output_paths_fail_before_any_model(photos, tmp_path, command):
    suffix = ".wav" if command == "tts" else ".mp4"
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / f"folder{suffix}").mkdir()
    cases = [(tmp_path / f"folder{suffix}", "is a folder"),
             (tmp_path / "notes.txt" / f"out{suffix}", "is a file, expected a folder"),
             (tmp_path / ("n" * 300 + suffix), "at most 255 bytes")]
    if Path("/sys/kernel").is_dir():
        cases.append((Path("/sys") / f"speech{suffix}", "not writable"))
    for out, needle in cases:
        r = subprocess.run(CLI + [command, "--image", str(photos / "face.png"), "--text", "Hello.", "--out", str(out)],
                           capture_output=True, text=True, timeout=120)
        _one_error_line(r, needle)
    assert (tmp_path / "notes.txt").read_text() == "mine" and not any((tmp_path / f"folder{suffix}").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["notes.txt", f"folder{suffix}"])


def test_input_paths_too_long(photos, tmp_path):
    long_name = str(tmp_path / ("q" * 300 + ".png"))
    r, out = _run(["--image", long_name, "--text", "Hello."], tmp_path)
    _assert_one_error(r, out, "at most 255 bytes")
    r, out = _run(["--image", str(photos / "face.png"), "--text-file", long_name[:-4] + ".txt"], tmp_path)
    _assert_one_error(r, out, "at most 255 bytes")
    r = subprocess.run(CLI + ["faces", "--image", long_name], capture_output=True, text=True, timeout=120)
    _one_error_line(r, "at most 255 bytes")


def _has_weights() -> bool:
    from facespeak.pipeline import default_tts_path

    return default_tts_path().is_file()


@pytest.mark.skipif(not _has_weights(), reason="bundled TTS weights not built yet")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopped_run_leaves_nothing_behind(photos, tmp_path, signum):
    """Stopped mid-synthesis: no hidden partial, no folder it made, nothing in $TMPDIR (the
    gender estimator's onnxruntime and phonemizer's libespeak-ng copy both ran)."""
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    target = tmp_path / "made" / "here"
    env = dict(os.environ, TMPDIR=str(tmpdir), FACESPEAK_NO_PROGRESS="1", FACESPEAK_THREADS="1")
    text = " ".join(f"This is sentence number {i}, long enough to keep the voice busy for a while." for i in range(12))
    # the run must get the signal's default action even where the test runner was started in the
    # background (a non-interactive shell starts background jobs with SIGINT ignored, inherited)
    proc = subprocess.Popen(CLI + ["tts", "--image", str(photos / "face.png"), "--text", text, "--out",
                                   str(target / "speech.wav")], env=env, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:  # wait for the first chunk in the partial file
        partial = [p for p in target.glob(".speech.wav.*")] if target.is_dir() else []
        if partial and partial[0].exists() and partial[0].stat().st_size > 10_000:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"finished before it could be stopped: {proc.stderr.read()}"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum if signum == signal.SIGTERM else proc.returncode == 130, err
    assert "Traceback" not in err and len([x for x in err.splitlines() if x.startswith("error:")]) == 1, err
    assert not (tmp_path / "made").exists()
    assert sorted(p.name for p in tmpdir.iterdir()) == []

"""`facespeak tts` bad input: one clear `error:` line, non-zero exit, no traceback, no output file.

These paths fail before any network is loaded, so they need no trained weights.
"""

import subprocess
import sys
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

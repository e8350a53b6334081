"""What a cold `facespeak tts` loads before it speaks (docs/benchmarks.md, "Speed of `tts`"):
only its own command module, no matplotlib for MediaPipe, and the int8 vocoder in large windows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from facespeak.cli.main import COMMANDS, build_parser, command_named

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv,name", [(["tts", "--image", "a.jpg"], "tts"), (["-q", "say", "-h"], "say"),
                                       (["-v", "--quiet", "bench", "tts"], "bench"), ([], None), (["--help"], None),
                                       (["--version"], None), (["tss", "--image", "a.jpg"], None)])
def test_command_named(argv: list[str], name: str | None) -> None:
    assert command_named(argv) == name


def test_a_parser_for_one_command_parses_it_like_the_whole_one() -> None:
    argv = ["-q", "tts", "--image", "a.jpg", "--text", "Hi.", "--out", "a.wav", "--seed", "3"]
    one, whole = build_parser("tts"), build_parser()
    assert vars(one.parse_args(argv)) == vars(whole.parse_args(argv))
    sub = next(a for a in whole._actions if a.dest == "command")
    assert list(sub.choices) == COMMANDS  # --help and typos still see every command
    assert list(next(a for a in one._actions if a.dest == "command").choices) == ["tts"]


def _fresh(code: str):
    """Run ``code`` in a fresh interpreter (repo root, one thread); its last stdout line as JSON."""
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_tts_start_up_imports_only_what_tts_needs() -> None:
    """A fresh interpreter: the `tts` parser and the portrait analysis leave the eval, data and
    train packages and matplotlib (imported by MediaPipe's drawing helpers) unloaded."""
    code = (
        "import sys, json\n"
        "from facespeak.cli.main import build_parser, command_named\n"
        "argv = ['tts', '--image', 'examples/portrait.jpg', '--text', 'Hi.', '--out', 'x.wav']\n"
        "build_parser(command_named(argv)).parse_args(argv)\n"
        "from facespeak.face.analysis import load_portrait\n"
        "assert load_portrait('examples/portrait.jpg').faces\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'mediapipe')\n"
        "      or m.startswith(('facespeak.eval', 'facespeak.data', 'facespeak.train')))))\n"
    )
    loaded = _fresh(code)
    assert "mediapipe" in loaded  # the check ran the face analysis
    assert [m for m in loaded if not m.startswith("mediapipe")] == []


class _FakeSpeech:
    """Records the vocoder window in use while `tts` speaks; one chunk of silence."""

    def __init__(self, vocoder) -> None:
        self.vocoder, self.windows = vocoder, []
        self.mel_spec = SimpleNamespace(sample_rate=22050)

    def iter_chunks(self, text, cond, opts, on_progress=None):
        self.windows.append(getattr(self.vocoder, "window", "none"))
        yield SimpleNamespace(text=text, ids=[1, 2], durations=np.ones(2), wav=np.zeros(256, np.float32))


def test_tts_vocodes_the_onnx_vocoder_in_large_windows(tmp_path, monkeypatch) -> None:
    from facespeak.cli import cmd_tts
    from facespeak.vocoder.onnx_export import ARENA_WINDOW, OnnxVocoder

    onnx_voc = object.__new__(OnnxVocoder)  # a runner without a session: only its window matters here
    onnx_voc.window = ARENA_WINDOW
    for vocoder, window in ((onnx_voc, cmd_tts.TTS_VOCODER_WINDOW), (object(), "none")):
        fs = _FakeSpeech(vocoder)
        total, spoken = cmd_tts._write_speech(tmp_path / "a.wav", fs, "Hi.", None, SimpleNamespace(pause_s=0.2))
        assert fs.windows == [window] and total == 256 and len(spoken) == 1
    # larger than the library's window (fewer context frames vocoded twice): identical samples,
    # tests/unit/test_vocoder_int8.py::test_windowed_vocoding_of_a_long_mel_is_bit_identical
    assert cmd_tts.TTS_VOCODER_WINDOW >= 4 * ARENA_WINDOW


def test_the_overview_lists_every_command_without_importing_one() -> None:
    """`facespeak --help` (and a typo, and no command) in a fresh interpreter: every command with
    its help line, no command module and no torch loaded (eval, data, train, bench and convert
    import torch to build their own parsers)."""
    code = (
        "import sys, json, contextlib, io\n"
        "from facespeak.cli.main import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
        "print(json.dumps({'help': out.getvalue(), 'loaded': sorted(m for m in sys.modules\n"
        "      if m == 'torch' or m.startswith('facespeak.cli.cmd_'))}))\n"
    )
    got = _fresh(code)
    assert got["loaded"] == []
    text = " ".join(got["help"].split())
    for name in COMMANDS:
        assert f" {name} " in text
    assert "portrait + text -> talking-face video" in text


def test_each_command_module_takes_its_help_line_from_the_table() -> None:
    whole = build_parser()
    sub = next(a for a in whole._actions if a.dest == "command")
    helps = {c.dest: c.help for c in sub._choices_actions}
    from facespeak.cli.commands import COMMAND_HELP

    assert helps == COMMAND_HELP

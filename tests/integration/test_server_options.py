"""The options the REST API lacked before they were defined once (pause_s, gender_guidance,
silence_gate, tfg) reach the pipeline over real HTTP, with the CLI's validation messages."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from http_client import request, running_server

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "examples" / "portrait.jpg"
# two text chunks (a chunk holds up to TextConfig.max_chunk_chars = 200 characters)
TWO_SENTENCES = ("The morning train was late again, so we walked slowly along the river and watched the small boats "
                 "go by for a long while. By the time we finally reached the old station, the sun was high in the sky "
                 "and the platform was full of people.")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("uvicorn")
    from facespeak.server import ServerConfig

    with running_server(ServerConfig(data_dir=str(tmp_path_factory.mktemp("jobs")))) as url:
        yield url


def _tts_seconds(server, **fields) -> float:
    status, _, body = request(server + "/api/tts", {"text": TWO_SENTENCES, "steps": "2", **fields},
                              PORTRAIT.read_bytes())
    assert status == 200, body
    wav, sr = sf.read(io.BytesIO(body))
    return len(wav) / sr


def test_pause_s_lengthens_the_gap_between_sentences(server):
    short, long = _tts_seconds(server, pause_s="0"), _tts_seconds(server, pause_s="1.5")
    assert long - short == pytest.approx(1.5, abs=0.01)  # same seed: same chunks, one gap between them


def test_gender_guidance_is_accepted(server):
    status, _, body = request(server + "/api/tts", {"text": "Hi.", "steps": "2", "gender_guidance": "0"},
                              PORTRAIT.read_bytes())
    assert status == 200 and len(body) > 10_000, body[:200]


def test_rest_gives_the_cli_error_for_the_same_bad_value(server, tmp_path):
    status, _, body = request(server + "/api/tts", {"text": "Hi.", "temperature": "9"}, PORTRAIT.read_bytes())
    assert status == 422
    r = subprocess.run([sys.executable, "-m", "facespeak.cli.main", "tts", "--image", str(PORTRAIT), "--text", "Hi.",
                        "--temperature", "9", "--out", str(tmp_path / "a.wav")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode != 0 and r.stderr.strip() == "error: " + json.loads(body)["error"]


@pytest.mark.parametrize("fields,needle", [
    ({"silence_gate": "maybe"}, "silence_gate"),
    ({"tfg": "latent"}, "tfg 'latent': expected"),  # no weights can be named over REST
    ({"tfg": "paint"}, "tfg: expected 'mesh' or 'latent'"),
    ({"pause_s": "9"}, "pause: expected 0..5 s"),
])
def test_video_option_errors_are_one_line_422s(server, fields, needle):
    status, _, body = request(server + "/api/say", {"text": "Hi.", **fields}, PORTRAIT.read_bytes())
    assert status == 422 and needle in json.loads(body)["error"], body


def test_say_takes_silence_gate_and_tfg(server):
    status, headers, body = request(server + "/api/say", {"text": "Hi.", "steps": "2", "silence_gate": "false",
                                                          "tfg": "mesh", "pause_s": "0.1"}, PORTRAIT.read_bytes())
    assert status == 200 and headers["content-type"] == "video/mp4" and body[4:8] == b"ftyp", body[:200]

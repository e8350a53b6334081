"""REST captions (docs/server.md, "Captions"): the ``captions`` field of /api/tts, /api/say and
/api/jobs, fetched from ``X-Captions-URL`` or ``GET /api/jobs/{id}/captions``; bad values 422."""

import io
import json
import sys
import time
from pathlib import Path

import pytest
from http_client import request, running_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_captions import parse_srt, parse_vtt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "examples" / "portrait.jpg"
FIELDS = {"text": "Hello there. I have 24 maps!", "steps": "2"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("uvicorn")
    from facespeak.server import ServerConfig

    with running_server(ServerConfig(data_dir=str(tmp_path_factory.mktemp("jobs")))) as url:
        yield url


def _check_cues(cues, duration_s):
    assert [c[2].replace("&amp;", "&") for c in cues] == ["Hello there.", "I have 24 maps!"]
    times = [t for c in cues for t in c[:2]]
    assert times == sorted(times) and times[-1] <= duration_s + 1e-3


def test_tts_captions_are_fetched_from_the_header_url(server):
    import soundfile as sf

    status, hdrs, body = request(server + "/api/tts", FIELDS | {"captions": "vtt"}, PORTRAIT.read_bytes())
    assert status == 200, body
    wav, sr = sf.read(io.BytesIO(body))
    status, chdrs, text = request(server + {k.lower(): v for k, v in hdrs.items()}["x-captions-url"], timeout=10)
    assert status == 200 and {k.lower(): v for k, v in chdrs.items()}["content-type"].startswith("text/vtt")
    cues = parse_vtt(text.decode())
    _check_cues(cues, len(wav) / sr)
    assert [c[3] for c in cues] == [1, 3]
    status, hdrs, _ = request(server + "/api/tts", FIELDS, PORTRAIT.read_bytes())
    assert status == 200 and "x-captions-url" not in {k.lower() for k in hdrs}  # only when asked for


def test_audio_job_captions(server):
    status, _, body = request(server + "/api/jobs", FIELDS | {"kind": "audio", "captions": "srt"}, PORTRAIT.read_bytes())
    assert status == 202, body
    job_id = json.loads(body)["id"]
    t0 = time.perf_counter()
    while (doc := json.loads(request(f"{server}/api/jobs/{job_id}", timeout=10)[2]))["state"] != "done":
        assert doc["state"] in ("queued", "running") and time.perf_counter() - t0 < 120, doc
        time.sleep(0.1)
    assert doc["captions_url"] == f"/api/jobs/{job_id}/captions"
    status, hdrs, text = request(server + doc["captions_url"], timeout=10)
    assert status == 200 and {k.lower(): v for k, v in hdrs.items()}["content-type"].startswith("application/x-subrip")
    _check_cues(parse_srt(text.decode()), doc["duration_s"])


@pytest.mark.parametrize("path", ["/api/tts", "/api/say", "/api/jobs"])
def test_bad_captions_value_is_a_422(server, path):
    status, _, body = request(server + path, FIELDS | {"captions": "txt"}, PORTRAIT.read_bytes())
    assert status == 422 and json.loads(body)["error"].startswith("captions: expected one of srt, vtt")


def test_unknown_captions_are_404(server):
    status, _, body = request(server + "/api/captions/" + "0" * 32, timeout=10)
    assert status == 404 and list(json.loads(body)) == ["error"]

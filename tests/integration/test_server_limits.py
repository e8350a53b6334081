"""What a client can no longer do to the REST service (issue 14, findings 1-4 and 9), checked
over real HTTP against a running server: uploads bounded while they stream, work bounded by
speech seconds, hung-up clients cancel their job, health never waits, one error format, no
CDN scripts, Origin/Host checks, and `serve` refusing bad limits."""

import json
import re
import statistics
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from http_client import (free_port, open_request, read_response, request, rss_mb, running_server, serve_process,
                         stream_upload)

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "examples" / "portrait.jpg"
# about 20 s of speech; at 200 decoder steps it keeps the worker busy for a minute on 2 cores
LONG_TEXT = "The quick brown fox jumps over the lazy dog. " * 6
MAX_QUEUE = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("uvicorn")
    from facespeak.server import ServerConfig

    cfg = ServerConfig(max_text_chars=300, max_upload_mb=1, max_queue=MAX_QUEUE, max_speech_s=60,
                       allowed_origins=["http://app.example:3000"], data_dir=str(tmp_path_factory.mktemp("jobs")))
    with running_server(cfg) as url:
        status, _, body = request(url + "/api/tts", {"text": "Hi.", "steps": "2"}, PORTRAIT.read_bytes())
        assert status == 200, body  # models loaded: the timings below measure requests, not loading
        yield url


def _health(url: str) -> dict:
    with urllib.request.urlopen(url + "/api/health", timeout=10) as r:
        return json.loads(r.read())


def _wait_for(cond, timeout: float) -> float:
    """Poll ``cond()`` until true -> seconds it took (fails after ``timeout``)."""
    t0 = time.perf_counter()
    while not cond():
        assert time.perf_counter() - t0 < timeout, "timed out"
        time.sleep(0.02)
    return time.perf_counter() - t0


def _error(body: bytes) -> str:
    doc = json.loads(body)
    assert list(doc) == ["error"], doc
    assert "\n" not in doc["error"] and "Traceback" not in doc["error"]
    return doc["error"]


# -- finding 1: uploads ---------------------------------------------------------------------

def test_large_uploads_are_refused_while_streaming_with_bounded_memory(tmp_path):
    """A 200 MB upload (declared or chunked) is a 413 after at most ~limit + socket buffers;
    the server's peak RSS grows < 50 MB and nothing is left in its $TMPDIR."""
    pytest.importorskip("uvicorn")
    with serve_process(tmp_path, "--max-upload-mb", "1") as (proc, url):  # checks exit and $TMPDIR
        peak = rss_mb(proc.pid, "VmHWM")
        t0 = time.perf_counter()
        status, doc, sent = stream_upload(url, "/api/tts", 200_000_000, chunked=False)
        assert status == 413 and "at most 1 MB" in doc["error"], doc
        assert time.perf_counter() - t0 < 5 and sent < 64_000_000, sent  # refused from the header
        status, doc, sent = stream_upload(url, "/api/faces", 200_000_000, chunked=True)
        assert status == 413 and "request body too large" in doc["error"], doc
        assert sent < 2_000_000 + 32_000_000, sent  # stopped soon after the limit, not at 200 MB
        growth = rss_mb(proc.pid, "VmHWM") - peak
        assert growth < 50, f"server peak RSS grew {growth:.0f} MB"
        assert _health(url)["status"] == "ok"  # and it still serves


# -- finding 2: speech seconds --------------------------------------------------------------

def test_text_that_speaks_too_long_is_refused_before_synthesis(server):
    digits = "1234567890 " * 10  # 110 characters, far over a minute once spoken
    t0 = time.perf_counter()
    status, _, body = request(server + "/api/tts", {"text": digits}, PORTRAIT.read_bytes())
    assert status == 422 and time.perf_counter() - t0 < 3
    err = _error(body)
    assert "at most 60 s of speech" in err and "split" in err, err
    # the estimate tracks real speech: a short text with a time and an amount passes and its
    # synthesised duration is within 25% of the estimate
    from facespeak.pipeline import SpeechOptions, estimate_speech_s
    from facespeak.text import TextConfig, TextFrontend

    text = "It is 7:45, and the bill comes to $12.50 for the two of us."
    status, headers, body = request(server + "/api/tts", {"text": text, "steps": "2"}, PORTRAIT.read_bytes())
    assert status == 200, body
    estimate = estimate_speech_s(TextFrontend(TextConfig()), text, SpeechOptions())
    assert abs(float(headers["x-duration-s"]) / estimate - 1) < 0.25, (headers["x-duration-s"], estimate)


# -- findings 3 and 4: cancellation, health, the bounded queue ------------------------------

def test_a_client_that_hangs_up_frees_the_worker_within_a_second(server):
    sock = open_request(server, "/api/tts", {"text": LONG_TEXT, "steps": "200"}, PORTRAIT.read_bytes())
    _wait_for(lambda: _health(server)["queued"] == 1, 30)
    time.sleep(1.5)  # past the face analysis: the job is synthesising
    sock.close()
    freed = _wait_for(lambda: _health(server)["queued"] == 0, 10)
    assert freed < 1.5, f"worker freed {freed:.2f} s after the hang-up"
    t0 = time.perf_counter()
    status, _, body = request(server + "/api/tts", {"text": "Hi.", "steps": "2"}, PORTRAIT.read_bytes())
    assert status == 200, body
    assert time.perf_counter() - t0 < 10  # the abandoned job (about a minute of work) is gone


def test_health_answers_at_once_while_synthesis_runs_and_a_full_queue_gets_429(server):
    socks = [open_request(server, "/api/tts", {"text": LONG_TEXT, "steps": "200"}, PORTRAIT.read_bytes())]
    _wait_for(lambda: _health(server)["queued"] == 1, 30)
    socks += [open_request(server, "/api/tts", {"text": "Hi.", "steps": "2"}, PORTRAIT.read_bytes())
              for _ in range(MAX_QUEUE)]
    try:
        _wait_for(lambda: _health(server)["queued"] == MAX_QUEUE + 1, 30)
        status, headers, body = request(server + "/api/tts", {"text": "Hi."}, PORTRAIT.read_bytes())
        assert status == 429 and "try again" in _error(body) and headers["retry-after"]
        latencies = []
        for _ in range(30):
            t0 = time.perf_counter()
            assert _health(server)["queued"] == MAX_QUEUE + 1
            latencies.append(time.perf_counter() - t0)
        assert statistics.median(latencies) < 0.05 and max(latencies) < 0.25, latencies
    finally:
        for s in socks:
            s.close()
    _wait_for(lambda: _health(server)["queued"] == 0, 10)  # hung-up waiting requests are dropped too


def test_a_finished_request_is_answered_while_others_hang_up(server):
    """Cancelling one job does not disturb the next one in line."""
    long = open_request(server, "/api/tts", {"text": LONG_TEXT, "steps": "200"}, PORTRAIT.read_bytes())
    _wait_for(lambda: _health(server)["queued"] == 1, 30)
    short = open_request(server, "/api/tts", {"text": "Hello.", "steps": "2"}, PORTRAIT.read_bytes())
    _wait_for(lambda: _health(server)["queued"] == 2, 30)
    long.close()
    status, body = read_response(short)
    assert status == 200 and body[:4] == b"RIFF"


# -- finding 9: one error format, no CDN, Origin/Host, bad serve arguments -------------------

def test_every_error_is_one_json_line(server):
    image = PORTRAIT.read_bytes()
    cases = [
        (request(server + "/no/such/page"), 404, "no such endpoint"),
        (request(server + "/api/tts"), 405, "method not allowed"),
        (request(server + "/api/health", method="POST", headers={"Content-Length": "0"}), 405, "allowed: GET"),
        (request(server + "/api/tts", {"text": "Hi."}), 422, "image"),
        (request(server + "/api/tts", {"text": "Hi.", "steps": "many"}, image), 422, "steps"),
        (request(server + "/api/say", {"text": "Hi.", "still": "perhaps"}, image), 422, "still"),
        (request(server + "/api/tts", method="POST", headers={"Content-Type": "multipart/form-data; boundary=x",
                                                                "Content-Length": "0"}), 422, "image"),
    ]
    for (status, headers, body), want, needle in cases:
        assert status == want and headers["content-type"] == "application/json", (status, body)
        assert needle in _error(body), body


def test_no_page_loads_anything_from_elsewhere(server):
    for path in ("/", "/openapi.json", "/docs", "/redoc"):
        status, _, body = request(server + path)
        assert status in (200, 404), path
        urls = re.findall(rb"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", body, flags=re.I)
        assert urls == [], (path, urls)
    assert request(server + "/docs")[0] == 404  # no interactive docs (they need CDN scripts)


def test_cross_site_requests_are_refused_same_site_and_scripts_pass(server):
    image = PORTRAIT.read_bytes()
    port = server.rsplit(":", 1)[1]
    status, _, body = request(server + "/api/tts", {"text": "Hi."}, image, headers={"Origin": "https://evil.example"})
    assert status == 403 and "--allow-origin https://evil.example" in _error(body)
    status, _, body = request(server + "/api/health", headers={"Host": f"rebound.example:{port}"})
    assert status == 403 and "--allow-host rebound.example" in _error(body)
    status, _, body = request(server + "/api/faces", {}, image, headers={"Origin": "null"})
    assert status == 403
    for origin in (server, "http://app.example:3000"):  # the page itself; an allowed origin
        status, _, body = request(server + "/api/faces", {}, image, headers={"Origin": origin})
        assert status == 200, (origin, body)
    status, _, body = request(server + "/api/faces", {}, image, headers={"Host": f"localhost:{port}"})
    assert status == 200, body  # no Origin (curl, scripts): allowed


@pytest.mark.parametrize("args, needle", [
    (["--threads", "-2"], "--threads: expected a whole number 1..256, got -2"),
    (["--max-text-chars", "-5"], "--max-text-chars: expected 1..20000, got -5"),
    (["--max-upload-mb", "nan"], "--max-upload-mb: expected a number of MB in (0, 1000], got nan"),
    (["--max-speech-seconds", "0"], "--max-speech-seconds: expected"),
    (["--max-queue", "-1"], "--max-queue: expected 0..1000, got -1"),
    (["--bundle", "/nonexistent/bundle"], "--bundle: expected a model bundle directory, got '/nonexistent/bundle'"),
])
def test_serve_refuses_bad_limits_in_one_line(args, needle, capsys):
    from facespeak.cli.main import main

    assert main(["serve", "--port", str(free_port()), *args]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {needle}" or (err.startswith(f"error: {needle}") and err.count("\n") == 1), err


def test_health_does_not_wait_for_threads_even_with_the_thread_pool_busy(server):
    """Faces requests run in a small pool of their own; health runs on the event loop."""
    results = []

    def faces():
        results.append(request(server + "/api/faces", {}, PORTRAIT.read_bytes())[0])

    threads = [threading.Thread(target=faces) for _ in range(6)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    assert _health(server)["status"] == "ok"
    assert time.perf_counter() - t0 < 0.25
    for t in threads:
        t.join(60)
    assert results == [200] * 6

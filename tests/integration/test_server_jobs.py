"""The jobs API (issue 14, part 2) over real HTTP: submit -> progress from the pipeline ->
result; a full queue gets 429; DELETE stops a running job within a second; a restarted server
keeps finished and queued jobs; results expire; token auth; one JSON error format."""

import io
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from http_client import free_port, request, running_server

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "examples" / "portrait.jpg"
# about 20 s of speech; at 200 decoder steps a minute of work on 2 cores (cancelled in the tests)
LONG_TEXT = "The quick brown fox jumps over the lazy dog. " * 6
SHORT = {"text": "Hello there, how are you?", "steps": "4"}
TOKEN = "s3cret-token-for-tests"


def _json(body: bytes) -> dict:
    return json.loads(body)


def _error(body: bytes) -> str:
    doc = json.loads(body)
    assert list(doc) == ["error"], doc
    assert "\n" not in doc["error"] and "Traceback" not in doc["error"]
    return doc["error"]


def _submit(url: str, fields: dict, headers: dict | None = None) -> str:
    status, hdrs, body = request(url + "/api/jobs", fields, PORTRAIT.read_bytes(), headers=headers)
    assert status == 202, body
    doc = _json(body)
    assert doc["state"] == "queued" and hdrs["location"] == f"/api/jobs/{doc['id']}", doc
    return doc["id"]


def _status(url: str, job_id: str, headers: dict | None = None) -> dict:
    status, _, body = request(f"{url}/api/jobs/{job_id}", headers=headers, timeout=10)
    assert status == 200, body
    return _json(body)


def _wait_state(url: str, job_id: str, states: tuple[str, ...], timeout: float = 120, **kw) -> dict:
    t0 = time.perf_counter()
    while (doc := _status(url, job_id, **kw))["state"] not in states:
        assert time.perf_counter() - t0 < timeout, doc
        time.sleep(0.05)
    return doc


def _health(url: str) -> dict:
    return _json(request(url + "/api/health", timeout=10)[2])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("uvicorn")
    from facespeak.server import ServerConfig

    cfg = ServerConfig(max_queue=1, max_text_chars=400, data_dir=str(tmp_path_factory.mktemp("jobs")))
    with running_server(cfg) as url:
        status, _, body = request(url + "/api/tts", {"text": "Hi.", "steps": "2"}, PORTRAIT.read_bytes())
        assert status == 200, body  # models loaded: timings below measure jobs, not loading
        yield url


def test_video_job_reports_rising_progress_from_the_pipeline_and_gives_an_mp4(server):
    av = pytest.importorskip("av")
    job = _submit(server, {"text": "Hello there. The quick brown fox jumps over the lazy dog.", "steps": "10",
                           "kind": "video"})
    seen = []
    while (doc := _status(server, job))["state"] in ("queued", "running"):
        if doc["state"] == "running":
            seen.append(doc["progress"])
        time.sleep(0.03)
    assert doc["state"] == "done" and doc["error"] is None, doc
    fractions = [p["fraction"] for p in seen]
    assert fractions == sorted(fractions), fractions  # never goes back
    assert len({f for f in fractions if 0 < f < 1}) >= 3, seen
    stages = {p["stage"] for p in seen}
    assert {"speech synthesis", "rendering"} <= stages, stages
    assert any(p["eta_s"] is not None and p["eta_s"] >= 0 for p in seen), seen
    assert doc["progress"] == {"stage": "done", "fraction": 1.0, "eta_s": 0.0}
    assert doc["created"] <= doc["started"] <= doc["finished"] and doc["expires"] > doc["finished"]
    status, headers, body = request(server + doc["result_url"])
    assert status == 200 and headers["content-type"] == "video/mp4", body[:200]
    with av.open(io.BytesIO(body)) as c:
        codecs = {s.type: s.codec_context.name for s in c.streams}
        duration = c.duration / 1e6
    assert codecs == {"video": "h264", "audio": "aac"}, codecs
    assert abs(duration - doc["duration_s"]) < 0.2, (duration, doc["duration_s"])


def test_audio_job_gives_a_wav_and_the_result_is_409_until_done(server):
    import soundfile as sf

    job = _submit(server, {"text": LONG_TEXT, "steps": "200", "kind": "audio"})
    status, _, body = request(f"{server}/api/jobs/{job}/result")
    assert status == 409 and "poll" in _error(body)
    assert request(f"{server}/api/jobs/{job}", method="DELETE", timeout=10)[0] == 200
    job = _submit(server, {**SHORT, "kind": "audio"})
    doc = _wait_state(server, job, ("done", "failed"))
    assert doc["state"] == "done", doc
    status, headers, body = request(f"{server}/api/jobs/{job}/result")
    assert status == 200 and headers["content-type"] == "audio/wav" and body[:4] == b"RIFF"
    wav, sr = sf.read(io.BytesIO(body))
    assert abs(len(wav) / sr - doc["duration_s"]) < 0.01 and 1.0 < len(wav) / sr < 4.0


def test_delete_stops_a_running_job_within_a_second_and_the_next_job_runs(server):
    job = _submit(server, {"text": LONG_TEXT, "steps": "200", "kind": "audio"})
    t0 = time.perf_counter()
    while (doc := _status(server, job))["progress"]["stage"] != "speech synthesis":
        assert time.perf_counter() - t0 < 60, doc
        time.sleep(0.05)
    time.sleep(0.5)
    t0 = time.perf_counter()
    status, _, body = request(f"{server}/api/jobs/{job}", method="DELETE", timeout=10)
    took = time.perf_counter() - t0
    assert status == 200 and _json(body)["state"] == "cancelled", body
    assert took < 1.0, f"DELETE answered after {took:.2f} s"
    assert _health(server)["queued"] == 0  # the worker is free
    assert "cancelled" in _status(server, job)["error"]
    status, _, body = request(f"{server}/api/jobs/{job}/result")
    assert status == 409 and "cancelled" in _error(body)
    nxt = _submit(server, {**SHORT, "kind": "audio"})
    t0 = time.perf_counter()
    assert _wait_state(server, nxt, ("done", "failed"), timeout=30)["state"] == "done"
    assert time.perf_counter() - t0 < 15  # the cancelled minute of work is not in the way


def test_a_full_queue_gets_429_while_status_and_health_answer_at_once(server):
    running = _submit(server, {"text": LONG_TEXT, "steps": "200", "kind": "audio"})
    queued = _submit(server, {**SHORT, "kind": "video"})  # max_queue=1: the one waiting place
    try:
        _wait_state(server, running, ("running",), timeout=30)
        status, headers, body = request(server + "/api/jobs", {**SHORT, "kind": "audio"}, PORTRAIT.read_bytes())
        assert status == 429 and "try again" in _error(body) and headers["retry-after"]
        assert _status(server, queued)["queue_position"] == 0
        latencies = []
        for path in ["/api/health", f"/api/jobs/{running}", f"/api/jobs/{queued}"] * 10:
            t0 = time.perf_counter()
            assert request(server + path, timeout=10)[0] == 200
            latencies.append(time.perf_counter() - t0)
        assert statistics.median(latencies) < 0.05 and max(latencies) < 0.25, latencies
    finally:
        for job in (queued, running):
            request(f"{server}/api/jobs/{job}", method="DELETE", timeout=10)
    assert _status(server, queued)["state"] == "cancelled"
    assert _health(server)["queued"] == 0


def test_unknown_ids_and_bad_submissions_are_one_json_line(server):
    image = PORTRAIT.read_bytes()
    for job_id in ("0" * 32, "../../etc/passwd", "x"):
        for method, suffix in (("GET", ""), ("GET", "/result"), ("DELETE", "")):
            status, headers, body = request(f"{server}/api/jobs/{job_id}{suffix}", method=method, timeout=10)
            assert status == 404 and headers["content-type"] == "application/json", (job_id, suffix, body)
            _error(body)
    cases = [
        (request(server + "/api/jobs", {"text": "Hi.", "kind": "gif"}, image), "kind: expected one of video, audio"),
        (request(server + "/api/jobs", {"text": "Hi."}), "image"),
        (request(server + "/api/jobs", {"text": "1234567890 " * 30}, image), "of speech"),
        (request(server + "/api/jobs", {"text": "Hi.", "seed": "-1"}, image), "seed"),
        (request(server + "/api/jobs", {"text": "Hi."}, b"not an image"), "image"),
    ]
    for (status, _, body), needle in cases:
        assert status == 422 and needle in _error(body), body


def test_results_expire_and_their_files_are_deleted(tmp_path):
    from facespeak.server import ServerConfig

    with running_server(ServerConfig(data_dir=str(tmp_path), result_ttl_s=3.0)) as url:
        job = _submit(url, {**SHORT, "kind": "audio"})
        doc = _wait_state(url, job, ("done", "failed"))
        assert doc["state"] == "done", doc
        result = tmp_path / "jobs" / job / "result.wav"
        assert result.is_file() and not (tmp_path / "jobs" / job / "portrait").exists()
        assert request(f"{url}/api/jobs/{job}/result")[0] == 200
        doc = _wait_state(url, job, ("expired",), timeout=10)
        assert doc["progress"]["stage"] == "expired" and "result_url" not in doc
        status, _, body = request(f"{url}/api/jobs/{job}/result")
        assert status == 409 and "expired" in _error(body)
        assert not result.exists() and not result.parent.exists()
        # an ended job can be deleted: then it is gone
        assert _json(request(f"{url}/api/jobs/{job}", method="DELETE")[2]) == {"id": job, "deleted": True}
        assert request(f"{url}/api/jobs/{job}")[0] == 404


def test_a_token_is_required_when_configured(tmp_path):
    from facespeak.server import ServerConfig

    auth = {"Authorization": f"Bearer {TOKEN}"}
    with running_server(ServerConfig(data_dir=str(tmp_path), token=TOKEN)) as url:
        assert request(url + "/api/health")[0] == 200  # health stays open
        assert request(url + "/")[0] == 200
        for headers in ({}, {"Authorization": "Bearer wrong-token-xxxxxxx"}, {"Authorization": TOKEN},
                        {"Authorization": f"Basic {TOKEN}"}):
            for path, fields in (("/api/jobs", SHORT), ("/api/tts", SHORT), ("/api/faces", {})):
                status, hdrs, body = request(url + path, fields, PORTRAIT.read_bytes(), headers=headers)
                assert status == 401 and "Authorization: Bearer" in _error(body), (headers, path, body)
                assert hdrs["www-authenticate"].startswith("Bearer")
            status, _, body = request(url + "/api/jobs/" + "0" * 32, headers=headers)
            assert status == 401, body
        job = _submit(url, {**SHORT, "kind": "audio"}, headers=auth)
        assert _wait_state(url, job, ("done", "failed"), headers=auth)["state"] == "done"
        assert request(f"{url}/api/jobs/{job}/result", headers=auth)[0] == 200
        assert request(f"{url}/api/jobs/{job}/result")[0] == 401


def _serve(data_dir: Path, port: int, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, FACESPEAK_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "facespeak.cli.main", "serve", "--port", str(port),
                             "--data-dir", str(data_dir), "--max-queue", "4", *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_up(proc: subprocess.Popen, url: str) -> None:
    t0 = time.perf_counter()
    while True:
        assert proc.poll() is None, proc.stderr.read()
        try:
            if _health(url)["status"] == "ok":
                return
        except OSError:
            pass
        assert time.perf_counter() - t0 < 60
        time.sleep(0.1)


def test_a_restarted_server_keeps_finished_and_queued_jobs(tmp_path):
    """SIGKILL mid-job: the finished result is still served, the running job is failed (not
    re-run), the queued one completes. SIGTERM mid-job: the running job is queued again."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(tmp_path, port)
    try:
        _wait_up(proc, url)
        done = _submit(url, {**SHORT, "kind": "audio"})
        assert _wait_state(url, done, ("done", "failed"))["state"] == "done"
        first = request(f"{url}/api/jobs/{done}/result")[2]
        killed = _submit(url, {"text": LONG_TEXT, "steps": "200", "kind": "audio"})
        waiting = _submit(url, {**SHORT, "kind": "video"})
        _wait_state(url, killed, ("running",), timeout=30)
        proc.kill()
        proc.wait(10)

        proc = _serve(tmp_path, port)
        _wait_up(proc, url)
        status, _, body = request(f"{url}/api/jobs/{done}/result")
        assert status == 200 and body == first
        doc = _status(url, killed)
        assert doc["state"] == "failed" and "submit it again" in doc["error"], doc
        assert _wait_state(url, waiting, ("done", "failed"))["state"] == "done"
        assert request(f"{url}/api/jobs/{waiting}/result")[1]["content-type"] == "video/mp4"

        stopped = _submit(url, {"text": "The quick brown fox jumps over the lazy dog.", "steps": "60",
                                "kind": "audio"})
        _wait_state(url, stopped, ("running",), timeout=30)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "Traceback" not in err, err

        proc = _serve(tmp_path, port)
        _wait_up(proc, url)
        assert _wait_state(url, stopped, ("done", "failed"))["state"] == "done"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)


def test_one_server_per_data_folder_and_serve_flags_are_checked(tmp_path, capsys):
    from facespeak.cli.main import main
    from facespeak.server.job_store import DataDirBusy, JobStore

    store = JobStore(tmp_path)
    try:
        with pytest.raises(DataDirBusy, match="another running facespeak server"):
            JobStore(tmp_path)
    finally:
        store.close()
    JobStore(tmp_path).close()  # free again
    for args, needle in [(["--result-ttl", "soon"], "--result-ttl: expected a time such as 90s"),
                         (["--result-ttl", "0"], "--result-ttl: expected a time in (0 s, 365 d]"),
                         (["--token", "short"], "--token / FACESPEAK_TOKEN: expected 8..1024")]:
        assert main(["serve", "--port", str(free_port()), "--data-dir", str(tmp_path), *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {needle}") and err.count("\n") == 1, err

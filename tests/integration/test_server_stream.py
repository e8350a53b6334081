"""Streaming over HTTP (issue 14, part 3): a ``stream=true`` video job's fragmented MP4 arrives
with chunked transfer while the job runs, decodes in order to the same frames and samples as
the finished (normal) mp4, and a cancelled stream ends the response and leaves no file."""

import json
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from http_client import fill_page, headless_chromium, request, running_server

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "examples" / "portrait.jpg"
TEXT = "Hello there, this is a streaming check. The second sentence follows right after the first one."


def _submit(url: str, fields: dict) -> dict:
    status, _, body = request(url + "/api/jobs", fields, PORTRAIT.read_bytes())
    assert status == 202, body
    return json.loads(body)


def _boxes(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i + 8 <= len(data):
        out.append(data[i + 4:i + 8])
        i += int.from_bytes(data[i:i + 4], "big")
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("uvicorn")
    from facespeak.server import ServerConfig

    data = tmp_path_factory.mktemp("jobs")
    with running_server(ServerConfig(max_queue=2, data_dir=str(data))) as url:
        status, _, body = request(url + "/api/tts", {"text": "Hi.", "steps": "1"}, PORTRAIT.read_bytes())
        assert status == 200, body  # models loaded
        yield url, data


def test_stream_arrives_while_the_job_runs_and_equals_the_finished_file(server, tmp_path):
    from facespeak.video.reader import read_video

    url, _ = server
    doc = _submit(url, {"text": TEXT, "kind": "video", "stream": "true", "steps": "2", "seed": "3"})
    assert doc["stream_url"] == f"/api/jobs/{doc['id']}/stream"
    got, states_while_reading = b"", set()
    with urllib.request.urlopen(url + doc["stream_url"], timeout=120) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "video/mp4"
        assert r.headers["Transfer-Encoding"] == "chunked" and "Content-Length" not in r.headers
        while piece := r.read1(65536):
            if b"moof" in _boxes(got) and not states_while_reading:  # a fragment arrived: is the job still running?
                states_while_reading.add(json.loads(request(url + f"/api/jobs/{doc['id']}")[2])["state"])
            got += piece
    assert states_while_reading == {"running"}
    kinds = _boxes(got)
    assert kinds[:3] == [b"ftyp", b"moov", b"moof"] and kinds.count(b"moof") >= 3
    while (st := json.loads(request(url + f"/api/jobs/{doc['id']}")[2]))["state"] == "running":
        time.sleep(0.05)
    assert st["state"] == "done" and "stream_url" not in st
    status, headers, body = request(url + st["result_url"])
    assert status == 200 and b"moof" not in _boxes(body)  # the download is a normal mp4
    (tmp_path / "stream.mp4").write_bytes(got)
    (tmp_path / "result.mp4").write_bytes(body)
    live, final = read_video(tmp_path / "stream.mp4"), read_video(tmp_path / "result.mp4")
    assert len(final.frames) > 100
    assert np.array_equal(live.frames, final.frames)  # the fragments keep <= 1,024 samples of AAC padding at the end
    assert np.array_equal(live.audio[:len(final.audio)], final.audio) and len(live.audio) - len(final.audio) <= 1024
    # once done, the stream is gone: the client fetches the result
    status, _, body = request(url + doc["stream_url"])
    assert status == 409 and "result" in json.loads(body)["error"]


def test_cancelled_stream_ends_the_response_and_leaves_no_file(server):
    url, data = server
    doc = _submit(url, {"text": "The quick brown fox jumps over the lazy dog. " * 5, "kind": "video", "stream": "true",
                        "steps": "60"})
    folder = data / "jobs" / doc["id"]
    got = b""
    with urllib.request.urlopen(url + doc["stream_url"], timeout=120) as r:
        while b"moof" not in _boxes(got):  # the first fragment: the job runs and streams
            got += r.read1(65536)
        assert (folder / "stream.mp4").is_file()
        t0 = time.perf_counter()
        status, _, body = request(url + f"/api/jobs/{doc['id']}", method="DELETE", timeout=30)
        assert status == 200 and json.loads(body)["state"] == "cancelled"
        while r.read1(65536):  # the response ends (it would hang here if it did not)
            pass
        assert time.perf_counter() - t0 < 5
    assert not folder.exists() or not any(folder.iterdir())  # no stream, no result, no temporary file


def test_stream_of_a_job_without_stream_is_a_409_and_an_unknown_id_a_404(server):
    url, _ = server
    doc = _submit(url, {"text": "Hi.", "kind": "audio", "steps": "1"})
    assert "stream_url" not in doc
    status, _, body = request(url + f"/api/jobs/{doc['id']}/stream")
    assert status == 409 and "stream=true" in json.loads(body)["error"]
    status, _, body = request(url + "/api/jobs/" + "0" * 32 + "/stream")
    assert status == 404 and list(json.loads(body)) == ["error"]


@pytest.fixture(scope="module")
def browser():
    with headless_chromium("--autoplay-policy=no-user-gesture-required") as drv:
        yield drv


def test_page_plays_the_stream_through_media_source_while_the_job_runs(server, browser):
    """With "Play while made" the page appends the stream to a MediaSource: the video's time
    advances while the job's progress bar is still shown; once done it offers the download."""
    from selenium.webdriver.common.by import By

    url, _ = server
    wait = fill_page(browser, url, PORTRAIT, "Hello there, this page plays the video while it is made. " * 3,
                     steps=10, timeout=180)
    browser.find_element(By.ID, "stream").click()
    browser.find_element(By.ID, "say").click()
    wait.until(lambda d: d.execute_script(
        "const v = document.querySelector('video#output[data-streamed]'); return v !== null && v.currentTime > 0.3"))
    assert browser.find_element(By.ID, "job").is_displayed()  # still being made
    assert browser.execute_script("return document.getElementById('output').src").startswith("blob:")
    wait.until(lambda d: d.find_element(By.ID, "status").text.startswith("done in "))
    assert browser.find_element(By.ID, "error").text == ""
    assert browser.find_element(By.CSS_SELECTOR, "#result a").get_attribute("download") == "facespeak.mp4"
    duration = browser.execute_script("return document.getElementById('output').duration")
    assert 5 < duration < 20, duration  # the whole stream was appended

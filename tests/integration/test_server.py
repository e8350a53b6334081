"""The REST service and the web page, over real HTTP (uvicorn) and in a real browser (Chromium)."""

import io
import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from http_client import fill_page, headless_chromium, running_server, serve_process

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "examples" / "portrait.jpg"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("uvicorn")
    from facespeak.server import ServerConfig

    cfg = ServerConfig(max_text_chars=300, data_dir=str(tmp_path_factory.mktemp("jobs")))
    with running_server(cfg) as url:
        yield url


def _post(url: str, fields: dict, image: bytes | None = None, name: str = "portrait.jpg"):
    """multipart/form-data POST -> (status, headers, body bytes)."""
    b = uuid.uuid4().hex
    parts = []
    for k, v in fields.items():
        parts.append(f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    if image is not None:
        parts.append(f'--{b}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + image + b"\r\n")
    body = b"".join(parts) + f"--{b}--\r\n".encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={b}"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_health_and_faces(server):
    with urllib.request.urlopen(server + "/api/health") as r:
        assert json.loads(r.read())["status"] == "ok"
    status, _, body = _post(server + "/api/faces", {}, PORTRAIT.read_bytes())
    assert status == 200
    faces = json.loads(body)["faces"]
    assert len(faces) == 1 and faces[0]["gender"] == "female" and faces[0]["usable"]
    x0, y0, x1, y1 = faces[0]["box"]
    assert 100 < x0 < x1 < 400 and 0 < y0 < y1 < 300  # the astronaut's face, upper middle


def test_tts_returns_speech_and_bad_input_gets_one_line(server):
    status, headers, body = _post(server + "/api/tts", {"text": "Hello there.", "steps": "4"}, PORTRAIT.read_bytes())
    assert status == 200 and headers["content-type"] == "audio/wav"
    wav, sr = sf.read(io.BytesIO(body))
    assert sr == 22050 and 0.4 < len(wav) / sr < 3 and np.abs(wav).max() > 0.05
    for fields, image, needle in [
        ({"text": "Hi."}, b"not an image at all", "not a readable image"),
        ({}, PORTRAIT.read_bytes(), "text"),
        ({"text": "x" * 301}, PORTRAIT.read_bytes(), "at most 300 characters"),
        ({"text": "Hi.", "steps": "0"}, PORTRAIT.read_bytes(), "steps"),
        ({"text": "Hi.", "face_index": "3"}, PORTRAIT.read_bytes(), "face"),
        ({"text": "Hi.", "seed": "abc"}, PORTRAIT.read_bytes(), "seed"),
        ({"text": "Hi.", "voice_gender": "robot"}, PORTRAIT.read_bytes(), "voice gender"),
        ({"text": "Hi.", "formant_shift": "900"}, PORTRAIT.read_bytes(), "formant shift: expected -600..600 cents"),
        ({"text": "Hi.", "pitch_shift": "-700"}, PORTRAIT.read_bytes(), "pitch shift: expected -600..600 cents"),
    ]:
        status, _, body = _post(server + "/api/tts", fields, image)
        assert status == 422, (fields, body)
        err = json.loads(body)["error"]
        assert needle in err and "\n" not in err and "Traceback" not in err


def test_say_returns_a_real_mp4(server, tmp_path):
    from facespeak.video.reader import probe_video

    status, headers, body = _post(server + "/api/say", {"text": "Good morning to you.", "steps": "4", "still": "true"},
                                  PORTRAIT.read_bytes())
    assert status == 200 and headers["content-type"] == "video/mp4"
    out = tmp_path / "v.mp4"
    out.write_bytes(body)
    info = probe_video(out)
    assert info.video_codec == "h264" and info.audio_codec == "aac" and abs(info.fps - 25) < 1e-6
    assert abs(info.video_duration_s - info.audio_duration_s) < 0.1 and info.video_duration_s > 0.5


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as drv:
        yield drv


def test_web_page_in_a_real_browser(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 120)
    browser.get(server + "/")
    assert browser.title == "facespeak"
    browser.find_element(By.ID, "image").send_keys(str(PORTRAIT))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#faces li.chosen")))
    assert "female" in browser.find_element(By.CSS_SELECTOR, "#faces li.chosen").text
    box = browser.find_element(By.CSS_SELECTOR, ".box.chosen")
    assert box.size["width"] > 20  # drawn over the preview at its displayed scale
    text = browser.find_element(By.ID, "text")
    text.clear()
    text.send_keys("Nice to meet you.")
    browser.find_element(By.ID, "steps").clear()
    browser.find_element(By.ID, "steps").send_keys("4")
    browser.find_element(By.ID, "speak").click()
    audio = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "audio#output")))
    wait.until(lambda d: d.execute_script("return document.getElementById('output').readyState") >= 1)
    seconds = browser.execute_script("return document.getElementById('output').duration")
    assert 0.5 < seconds < 4, seconds
    assert audio.get_attribute("src").startswith("blob:")
    assert browser.find_element(By.ID, "error").text == ""
    # the timbre field reaches the server: an out-of-range shift is refused in one line
    browser.find_element(By.ID, "formant_shift").send_keys("900")
    browser.find_element(By.ID, "speak").click()
    wait.until(lambda d: d.find_element(By.ID, "error").text != "")
    assert "formant shift: expected -600..600 cents" in browser.find_element(By.ID, "error").text
    browser.find_element(By.ID, "formant_shift").clear()
    browser.find_element(By.ID, "pitch_shift").send_keys("-700")  # and the pitch field
    browser.find_element(By.ID, "speak").click()
    wait.until(lambda d: "pitch shift" in d.find_element(By.ID, "error").text)
    browser.find_element(By.ID, "pitch_shift").clear()
    # a file that is not an image: one readable error line on the page, no face list
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"this is text, not a JPEG")
    browser.find_element(By.ID, "image").send_keys(str(bad))
    wait.until(lambda d: d.find_element(By.ID, "error").text != "")
    err = browser.find_element(By.ID, "error").text
    assert err.startswith("error: ") and "not a readable image" in err
    assert browser.find_elements(By.CSS_SELECTOR, "#faces li") == []
    browser.save_screenshot(str(tmp_path / "page.png"))


# records what the page's progress area shows, at every change (the page polls the job 4x a second)
_RECORD_PROGRESS = """
window.seenProgress = [];
const job = document.getElementById('job');
new MutationObserver(() => window.seenProgress.push({
    hidden: job.hidden, value: document.getElementById('progress').value,
    percent: document.getElementById('percent').textContent, stage: document.getElementById('stage').textContent,
    eta: document.getElementById('eta').textContent})
).observe(job, {subtree: true, childList: true, characterData: true, attributes: true});
"""


def _page_with_portrait(browser, url: str, text: str):
    wait = fill_page(browser, url, PORTRAIT, text, steps=4, timeout=120)
    browser.execute_script(_RECORD_PROGRESS)
    return wait


def test_page_shows_job_progress_then_plays_the_video_with_captions(server, browser):
    """The page submits a job, shows its stage, percent and ETA while it runs (polling
    GET /api/jobs/{id}), then plays the mp4 with the WebVTT captions as a track."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    wait = _page_with_portrait(browser, server, "Hello there, it is very nice to meet you today.")
    Select(browser.find_element(By.ID, "captions")).select_by_value("vtt")
    browser.find_element(By.ID, "say").click()
    wait.until(lambda d: d.execute_script("const v = document.querySelector('video#output'); "
                                          "return v !== null && v.readyState >= 1 && v.duration > 0"))
    seen = browser.execute_script("return window.seenProgress")
    shown = [r for r in seen if not r["hidden"]]
    values = [r["value"] for r in shown]
    assert any(0 < v < 100 for v in values), values  # an intermediate value, not just 0 and the end
    assert values == sorted(values), values  # never goes back
    stages = {r["stage"] for r in shown}
    assert stages & {"speech synthesis", "vocoder", "motion", "rendering", "muxing"}, stages
    assert any(r["percent"].endswith(" %") and 0 < int(r["percent"][:-2]) < 100 for r in shown), shown
    assert any(r["eta"].startswith("about ") and r["eta"].endswith(" s left") for r in shown), shown
    assert not browser.find_element(By.ID, "job").is_displayed()  # the bar goes once the job ended
    duration = browser.execute_script("return document.getElementById('output').duration")
    assert 1.5 < duration < 6, duration
    # it plays: time advances (muted: a headless browser may refuse sound without a gesture)
    played = browser.execute_async_script("const done = arguments[0], v = document.getElementById('output'); "
                                          "v.muted = true; v.play().then(() => done('ok'), (e) => done(String(e)));")
    assert played == "ok", played
    wait.until(lambda d: d.execute_script("return document.getElementById('output').currentTime") > 0.2)
    # the captions: a track on the video with cues, and a link to the file
    wait.until(lambda d: d.execute_script("const t = document.querySelector('#output track'); "
                                          "return t !== null && t.track.cues !== null && t.track.cues.length > 0"))
    cue = browser.execute_script("return document.querySelector('#output track').track.cues[0].text")
    assert "Hello" in cue, cue
    assert browser.find_element(By.ID, "captions-link").get_attribute("download") == "facespeak.vtt"
    assert browser.find_element(By.ID, "error").text == ""
    assert browser.find_element(By.ID, "status").text.startswith("done in ")


def test_page_cancel_button_stops_the_running_job(server, browser):
    from selenium.webdriver.common.by import By

    wait = _page_with_portrait(browser, server, "The quick brown fox jumps over the lazy dog. " * 3)
    browser.find_element(By.ID, "steps").clear()
    browser.find_element(By.ID, "steps").send_keys("100")
    browser.find_element(By.ID, "say").click()
    wait.until(lambda d: d.find_element(By.ID, "stage").text == "speech synthesis")
    browser.find_element(By.ID, "cancel").click()
    wait.until(lambda d: d.find_element(By.ID, "status").text == "cancelled")
    assert browser.find_elements(By.CSS_SELECTOR, "#output") == []
    assert browser.find_element(By.ID, "error").text == ""
    assert not browser.find_element(By.ID, "job").is_displayed()
    # pressed while the submission is still being checked (no job id yet): cancelled once it has one
    browser.find_element(By.ID, "say").click()
    browser.find_element(By.ID, "cancel").click()
    wait.until(lambda d: d.find_element(By.ID, "status").text == "cancelled")
    assert browser.find_elements(By.CSS_SELECTOR, "#output") == [] and browser.find_element(By.ID, "error").text == ""


def test_say_refuses_a_face_it_cannot_animate_like_the_cli(server):
    """(Until session 13 the cameraman, read 49 deg, was refused as a profile; the gate is 60 now
    and no real photo the mesh fits reads past it: the refusal shown is the face cut by the border.)"""
    import sys

    from PIL import Image

    sys.path.insert(0, str(ROOT / "tests" / "unit"))
    from face_photos import ASTRONAUT_FACE_CENTRE, astronaut

    cut = round(ASTRONAUT_FACE_CENTRE[0]) - 10  # 40 % of the face box cut away: an eye and a mouth corner
    buf = io.BytesIO()
    Image.fromarray(astronaut()[:, cut:]).save(buf, format="PNG")
    status, _, body = _post(server + "/api/say", {"text": "Hi."}, buf.getvalue(), name="cut.png")
    assert status == 422, body
    err = json.loads(body)["error"]
    assert "cut by the image border" in err, err


def test_huge_seed_is_a_422_not_a_500(server):
    for seed in ("10000000000000", "-1"):
        status, _, body = _post(server + "/api/tts", {"text": "Hi.", "seed": seed}, PORTRAIT.read_bytes())
        assert status == 422, body
        err = json.loads(body)["error"]
        assert err.startswith("seed: expected a whole number 0..4294967295") and "\n" not in err


def test_stopped_server_leaves_nothing_in_tmpdir(tmp_path):
    """`facespeak serve` after a synthesis, stopped with SIGTERM: a clean exit (0) and an empty
    $TMPDIR (no libespeak-ng copy from phonemizer, no onnxruntime telemetry files)."""
    pytest.importorskip("uvicorn")
    with serve_process(tmp_path) as (_, url):  # checks the exit and the empty $TMPDIR
        status, _, body = _post(url + "/api/tts", {"text": "Hello there.", "steps": "2"}, PORTRAIT.read_bytes())
        assert status == 200, body

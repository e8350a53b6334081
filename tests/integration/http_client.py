"""Small HTTP helpers for the server tests: a real uvicorn server in a thread or a real
`facespeak serve` process, multipart bodies, raw-socket requests (streamed uploads, clients that
hang up) and the server's RSS."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(cfg) -> Iterator[str]:
    """``create_app(cfg)`` under uvicorn on a free loopback port -> its base URL."""
    import uvicorn

    from facespeak.server import create_app

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        th.join(timeout=10)


def multipart(fields: dict, image: bytes | None = None, name: str = "portrait.jpg") -> tuple[bytes, str]:
    """-> (body, content type) of a multipart/form-data body with ``fields`` and an ``image``."""
    b = uuid.uuid4().hex
    parts = [f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    if image is not None:
        parts.append(f'--{b}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + image + b"\r\n")
    return b"".join(parts) + f"--{b}--\r\n".encode(), f"multipart/form-data; boundary={b}"


def request(url: str, fields: dict | None = None, image: bytes | None = None, method: str | None = None,
            headers: dict | None = None, timeout: float = 300):
    """HTTP request (multipart POST when ``fields`` or ``image``) -> (status, headers, body bytes)."""
    data, hdrs = None, dict(headers or {})
    if fields is not None or image is not None:
        data, hdrs["Content-Type"] = multipart(fields or {}, image)
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def open_request(base: str, path: str, fields: dict, image: bytes) -> socket.socket:
    """Send a whole multipart POST over a raw socket and return the socket unread (the caller
    reads the answer with :func:`read_response` or hangs up with ``close()``)."""
    host, port = base.removeprefix("http://").split(":")
    body, ctype = multipart(fields, image)
    s = socket.create_connection((host, int(port)), timeout=120)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {ctype}\r\n"
              f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    return s


def read_response(s: socket.socket) -> tuple[int, bytes]:
    """Read until the server closes -> (status, body)."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := s.recv(1 << 16):
            data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return status, body


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out, body = out + rest[:n], rest[n + 2:]
    return out


def stream_upload(base: str, path: str, total_bytes: int, chunked: bool, piece: int = 1 << 20) -> tuple[int, dict, int]:
    """POST a multipart body whose image part has ``total_bytes`` bytes, sent piece by piece
    (``Content-Length`` up front, or ``Transfer-Encoding: chunked``); stop sending once the
    server answers or hangs up -> (status, JSON body, image bytes sent)."""
    host, port = base.removeprefix("http://").split(":")
    b = uuid.uuid4().hex
    head = (f'--{b}\r\nContent-Disposition: form-data; name="text"\r\n\r\nHi.\r\n--{b}\r\nContent-Disposition: '
            'form-data; name="image"; filename="big.jpg"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
    tail = f"\r\n--{b}--\r\n".encode()
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(head) + total_bytes + len(tail)}"
    frame = (lambda d: f"{len(d):x}\r\n".encode() + d + b"\r\n") if chunked else (lambda d: d)
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: multipart/form-data; boundary={b}\r\n"
              f"{length}\r\n\r\n".encode())
    sent, block = 0, b"\xff" * piece
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        s.sendall(frame(head))
        while sent < total_bytes and not select.select([s], [], [], 0)[0]:
            s.sendall(frame(block))
            sent += piece
        if sent >= total_bytes:
            s.sendall(frame(tail) + (b"0\r\n\r\n" if chunked else b""))
    status, body = read_response(s)
    return status, json.loads(body or b"{}"), sent


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of process ``pid`` in MB (``VmHWM``: its peak so far)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


@contextlib.contextmanager
def serve_process(tmp_path: Path, *args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """A real ``facespeak serve`` process (one thread, its own ``$TMPDIR`` and data folder under
    ``tmp_path``, extra CLI ``args``) -> ``(process, base URL)`` once health answers. On exit it
    is stopped with SIGTERM and must leave a clean exit (0, no traceback) and an empty ``$TMPDIR``."""
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    port = free_port()
    env = dict(os.environ, TMPDIR=str(tmpdir), FACESPEAK_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "facespeak.cli.main", "serve", "--port", str(port),
                             "--data-dir", str(tmp_path / "jobs"), *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                urllib.request.urlopen(url + "/api/health", timeout=1).read()
                break
            except OSError:
                assert time.perf_counter() - t0 < 60, "server did not start"
                time.sleep(0.1)
        yield proc, url
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert sorted(p.name for p in tmpdir.iterdir()) == []


@contextlib.contextmanager
def headless_chromium(*extra_args: str):
    """A real headless Chromium driven through Selenium (skips the test where Selenium,
    chromium or chromedriver is missing; scripts/setup.sh installs them)."""
    import shutil

    import pytest

    webdriver = pytest.importorskip("selenium.webdriver")
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        pytest.skip("chromium / chromedriver not installed (scripts/setup.sh installs them)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900",
              *extra_args):
        opts.add_argument(a)
    opts.binary_location = shutil.which("chromium")
    drv = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        yield drv
    finally:
        drv.quit()


def fill_page(browser, url: str, portrait, text: str, steps: int, timeout: float):
    """Open the page at ``url``, upload ``portrait``, wait until a face is chosen, and type
    ``text`` and ``steps``; returns a ``WebDriverWait`` of ``timeout`` seconds for the test."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, timeout)
    browser.get(url + "/")
    browser.find_element(By.ID, "image").send_keys(str(portrait))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#faces li.chosen")))
    box = browser.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)
    browser.find_element(By.ID, "steps").clear()
    browser.find_element(By.ID, "steps").send_keys(str(steps))
    return wait

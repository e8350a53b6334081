"""Measure the REST service's limits (docs/server.md, issue 14 findings 1, 3, 4).

    OMP_NUM_THREADS=1 FACESPEAK_THREADS=1 .venv/bin/python scripts/measure_server.py [--queued 40]

1. `facespeak serve` (default 20 MB upload limit) in a subprocess: a 200 MB upload with a
   Content-Length and a chunked one; the status, the bytes the client got to send and the
   server's RSS / peak RSS.
2. An in-process server with `--max-queue N`: one 200-step synthesis running and N requests
   queued; 100 health probes (median / p95 / max), then every client hangs up and the time
   until the worker is free.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from http_client import free_port, open_request, rss_mb, running_server, stream_upload  # noqa: E402

PORTRAIT = (ROOT / "examples" / "portrait.jpg").read_bytes()
LONG_TEXT = "The quick brown fox jumps over the lazy dog. " * 6


def _health(url: str) -> dict:
    with urllib.request.urlopen(url + "/api/health", timeout=60) as r:
        return json.loads(r.read())


def uploads() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "facespeak.cli.main", "serve", "--port", str(port)],
                            env=dict(os.environ, FACESPEAK_THREADS="1"), stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                _health(url)
                break
            except OSError:
                time.sleep(0.1)
        print(f"server RSS {rss_mb(proc.pid):.0f} MB, peak {rss_mb(proc.pid, 'VmHWM'):.0f} MB")
        for chunked in (False, True):
            t = time.perf_counter()
            status, doc, sent = stream_upload(url, "/api/tts", 200_000_000, chunked=chunked)
            print(f"{'chunked' if chunked else 'Content-Length'} 200 MB upload: {status} after "
                  f"{time.perf_counter() - t:.2f} s, client sent {sent / 1e6:.0f} MB; {doc.get('error')}")
            print(f"  server RSS {rss_mb(proc.pid):.0f} MB, peak {rss_mb(proc.pid, 'VmHWM'):.0f} MB")
    finally:
        proc.terminate()
        proc.wait()


def health_while_queued(n: int) -> None:
    from facespeak.server import ServerConfig

    with tempfile.TemporaryDirectory() as jobs, running_server(ServerConfig(max_queue=n, data_dir=jobs)) as url:
        socks = [open_request(url, "/api/tts", {"text": LONG_TEXT, "steps": "200"}, PORTRAIT)]
        socks += [open_request(url, "/api/tts", {"text": "Hi.", "steps": "2"}, PORTRAIT) for _ in range(n)]
        t0 = time.time()
        while _health(url)["queued"] < n + 1 and time.time() - t0 < 120:
            time.sleep(0.05)
        lat = []
        for _ in range(100):
            t = time.perf_counter()
            _health(url)
            lat.append((time.perf_counter() - t) * 1000)
        lat.sort()
        print(f"health, 1 running + {n} queued: median {statistics.median(lat):.1f} ms, p95 {lat[94]:.1f} ms, "
              f"max {lat[-1]:.1f} ms (100 probes)")
        t = time.perf_counter()
        for s in socks:
            s.close()
        while _health(url)["queued"] > 0:
            time.sleep(0.01)
        print(f"all {n + 1} clients hung up: worker free after {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queued", type=int, default=40)
    a = ap.parse_args()
    uploads()
    health_while_queued(a.queued)

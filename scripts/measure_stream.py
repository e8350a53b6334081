"""Time to first audio and first video fragment of a streamed job over HTTP (issue 14, part 3).

Starts the server in-process (models preloaded and warmed by one job first, as a running server
would be), then for each run: ``POST /api/jobs`` (``stream=true``) and at once
``GET /api/jobs/{id}/stream``, timing from just before the POST:

- ``first_bytes_s``: the stream's first bytes (``ftyp`` + ``moov``: the init segment);
- ``first_fragment_s``: the end of the first media fragment (``moof`` + ``mdat``) received: the
  first video *and* audio a player can show (the fragments carry both tracks);
- the pipeline's own marks for the same job are not exposed over HTTP; ``say()`` in-process
  gives them (``--in-process``: :func:`facespeak.eval.stream_marks.bench_stream_marks`, what
  ``facespeak bench say`` reports: ``first_audio_s`` = first chunk synthesised, ``first_fragment_s``
  = first fragment written; the portrait analysed beforehand, as the server analyses it at
  submission; plus the CPU seconds to the fragment, less sensitive to other load).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python scripts/measure_stream.py [--runs 3] [--steps 10] [--in-process]

Prints one line per run and the medians, with ``/proc/loadavg``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from facespeak.eval.stream_marks import STREAM_TEXT as TEXT  # noqa: E402  (the text `facespeak bench say` streams)


def _boxes(data: bytes) -> list[tuple[bytes, int]]:
    """Top-level MP4 boxes fully contained in ``data``: (type, end offset)."""
    out, i = [], 0
    while i + 8 <= len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        if n < 8 or i + n > len(data):
            break
        out.append((data[i + 4:i + 8], i + n))
        i += n
    return out


def stream_run(base: str, image: bytes, steps: int, seed: int) -> dict[str, float]:
    from http_client import multipart

    body, ctype = multipart({"text": TEXT, "kind": "video", "stream": "true", "steps": str(steps), "seed": str(seed)},
                            image)
    t0 = time.perf_counter()
    req = urllib.request.Request(base + "/api/jobs", data=body, headers={"Content-Type": ctype})
    with urllib.request.urlopen(req) as r:
        job = json.load(r)
    marks: dict[str, float] = {"submitted_s": time.perf_counter() - t0}
    data = b""
    with urllib.request.urlopen(base + job["stream_url"]) as r:
        while piece := r.read1(65536):
            data += piece
            marks.setdefault("first_bytes_s", time.perf_counter() - t0)
            if any(t == b"mdat" for t, _ in _boxes(data)):
                marks.setdefault("first_fragment_s", time.perf_counter() - t0)
    marks["stream_end_s"] = time.perf_counter() - t0
    marks["stream_bytes"] = len(data)
    return marks


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--image", default=str(ROOT / "examples" / "portrait.jpg"))
    ap.add_argument("--in-process", action="store_true", help="time say(stream=True) in this process instead of HTTP")
    args = ap.parse_args()
    rows = []
    if args.in_process:  # the same measurement as `facespeak bench say` (eval.stream_marks.bench_stream_marks)
        from facespeak.eval.stream_marks import bench_stream_marks
        from facespeak.pipeline import FaceSpeak

        rows = bench_stream_marks(FaceSpeak.from_bundled(), args.image, args.runs, args.steps)["runs"]
    else:
        from http_client import running_server

        from facespeak.server import ServerConfig

        with tempfile.TemporaryDirectory() as tmp, running_server(ServerConfig(preload=True, data_dir=tmp)) as base:
            image = Path(args.image).read_bytes()
            stream_run(base, image, 1, 0)  # warm-up: the first job pays for lazy set-up
            rows = [stream_run(base, image, args.steps, seed) for seed in range(args.runs)]
    for row in rows:
        print({k: round(v, 3) for k, v in row.items()})
    print("median:", {k: round(statistics.median(r[k] for r in rows), 3) for k in rows[0]})
    print("loadavg:", Path("/proc/loadavg").read_text().strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

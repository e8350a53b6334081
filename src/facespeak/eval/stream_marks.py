"""Streaming marks of `facespeak bench say` (issue 14): time to the first audio and the first
video fragment of a streamed ``say`` with the models loaded, as a running server starts a job.
``scripts/measure_stream.py --in-process`` reports the same; its HTTP mode times the same job
through the server."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["STREAM_TEXT", "STREAM_BARS", "bench_stream_marks"]

#: what :func:`bench_stream_marks` says (two sentences, ~10 s; the first chunk is its first clause)
STREAM_TEXT = ("Hello there, I am speaking while the video is being made. Each sentence is synthesised on its own, "
               "and the page plays the first one before the last one exists.")
#: issue 14's bars for a streamed `say` with the models loaded: first audio, first video fragment (s)
STREAM_BARS = {"first_audio_s": 1.0, "first_fragment_s": 1.5}


def bench_stream_marks(fs: Any, image: Any, runs: int = 3, steps: int = 10, seed: int = 0) -> dict[str, Any]:
    """Time to the first audio and the first video fragment of a streamed ``say`` (``stream=True``,
    the bytes to ``on_data``) with the models loaded and warm and the portrait analysed beforehand,
    as a running server has them when a job starts (docs/server.md "Streaming"); one untimed
    warm-up call first. Per run, from the pipeline's own marks: ``first_audio_s`` (the first
    chunk synthesised and vocoded), ``first_frame_s``, ``first_fragment_s`` (the first ``moof``
    written), ``total_s``; and ``cpu_first_fragment_s``, this process' CPU seconds to that
    fragment (less sensitive to other load on a shared CPU). Returns ``runs``, ``median``,
    ``bars`` and ``text`` (:data:`STREAM_TEXT`)."""
    # lazy: loads cv2 (the CLI imports this module at start)
    from facespeak.face.analysis import Portrait, load_portrait
    # lazy: loads numba via tts.alignment (about 1 s)
    from facespeak.pipeline import SpeechOptions, VideoOptions, say

    portrait = image if isinstance(image, Portrait) else load_portrait(image)
    rows = []
    for k in range(runs + 1):  # run 0 warms up (graphs for the stream's chunk sizes)
        cpu: dict[str, float] = {}
        t0 = time.process_time()

        def on_data(data: bytes) -> None:
            if data[4:8] == b"moof":
                cpu.setdefault("cpu_first_fragment_s", time.process_time() - t0)

        with tempfile.TemporaryDirectory() as tmp:
            res = say(fs, portrait, STREAM_TEXT, Path(tmp) / "stream.mp4", SpeechOptions(seed=seed + k, steps=steps),
                      VideoOptions(stream=True), keep_chunks=False, on_data=on_data)
        if k:
            rows.append({**{m: res.timings[m] for m in ("first_audio_s", "first_frame_s", "first_fragment_s", "total_s")},
                         **cpu})
    median = {m: float(np.median([r[m] for r in rows])) for m in rows[0]} if rows else {}
    return {"runs": rows, "median": median, "bars": STREAM_BARS, "text": STREAM_TEXT}

"""Progress of a long run, reported by the pipeline itself (docs/server.md, jobs).

The pipeline calls ``on_progress(stage, fraction)`` with one of the stage names below and the
fraction of *that stage* done (0..1): face analysis once before and after, speech synthesis
before every decoder step of every text chunk, the vocoder after every chunk, motion before
and after, rendering after every video frame, muxing before and after. Stages may interleave
(speech and vocoder alternate chunk by chunk); each only ever moves forward.

:class:`ProgressTracker` turns those reports into one job-level fraction (a weighted sum of
the stage fractions, expected seconds per stage, :func:`stage_weights`) and an ETA from the elapsed time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["ProgressFn", "FACE", "SPEECH", "VOCODER", "MOTION", "RENDER", "MUX", "stage_weights",
           "ProgressSnapshot", "ProgressTracker", "report", "SpeechProgress"]

#: ``on_progress(stage, fraction of that stage done in 0..1)``
ProgressFn = Callable[[str, float], None]

FACE, SPEECH, VOCODER, MOTION, RENDER, MUX = (
    "face analysis", "speech synthesis", "vocoder", "motion", "rendering", "muxing")

# Seconds per stage on the 2-core CPU, measured on `say` / `tts` of 1-15 s of speech at the
# defaults (docs/decisions.md #28): face analysis is a fixed cost, the rest grows with the
# speech; the decoder with its steps, rendering with the frame size. Only ratios matter.
_FACE_S, _DECODER_S_PER_STEP, _VOCODER_S, _MOTION_S, _MOTION_S_PER_S = 0.3, 0.012, 0.01, 0.1, 0.01
_RENDER_S = {"256": 0.18, "512": 0.45, "full": 0.6}
_MUX_S = 0.015


def stage_weights(kind: str, speech_s: float, steps: int, size: str = "256") -> dict[str, float]:
    """Expected seconds per stage of a run making ``speech_s`` seconds of speech (``kind``
    "audio": face, speech, vocoder; "video": also motion, rendering, muxing)."""
    s = max(float(speech_s), 0.1)
    weights = {FACE: _FACE_S, SPEECH: _DECODER_S_PER_STEP * max(steps, 1) * s, VOCODER: _VOCODER_S * s}
    if kind == "video":
        weights |= {MOTION: _MOTION_S + _MOTION_S_PER_S * s, RENDER: _RENDER_S.get(size, 0.6) * s, MUX: _MUX_S * s}
    return weights


# an ETA from the first few per cent of a run is mostly noise
_ETA_MIN_FRACTION, _ETA_MIN_ELAPSED_S = 0.03, 0.5


def report(on_progress: ProgressFn | None, stage: str, fraction: float) -> None:
    """``on_progress(stage, fraction)`` where a callback was given."""
    if on_progress is not None:
        on_progress(stage, fraction)


@dataclass(frozen=True)
class ProgressSnapshot:
    stage: str
    fraction: float  # of the whole run, 0..1
    eta_s: float | None  # seconds left, None until the run is far enough along to tell


class ProgressTracker:
    """Job-level progress from stage reports; ``update`` is the pipeline's ``on_progress``.

    Thread-safe: the worker thread updates, request handlers read :meth:`snapshot`."""

    def __init__(self, weights: dict[str, float], clock: Callable[[], float] = time.monotonic) -> None:
        total = sum(weights.values())
        self._weights = {k: v / total for k, v in weights.items()}
        self._done = dict.fromkeys(weights, 0.0)
        self._stage = "starting"
        self._clock = clock
        self._t0 = clock()
        self._lock = threading.Lock()

    def update(self, stage: str, fraction: float) -> None:
        with self._lock:
            self._stage = stage
            if stage in self._done:
                self._done[stage] = max(self._done[stage], min(max(float(fraction), 0.0), 1.0))

    def snapshot(self) -> ProgressSnapshot:
        with self._lock:
            stage = self._stage
            frac = sum(self._weights[s] * f for s, f in self._done.items())
        frac = min(frac, 1.0)
        elapsed = self._clock() - self._t0
        eta = None
        if frac >= _ETA_MIN_FRACTION and elapsed >= _ETA_MIN_ELAPSED_S:
            eta = elapsed * (1.0 - frac) / frac
        return ProgressSnapshot(stage, frac, eta)


class SpeechProgress:
    """Speech-stage reports for a text split into chunks: each chunk counts by its length in
    characters; within a chunk the decoder steps fill the ``SPEECH`` share, the vocoder call
    completes the chunk's ``VOCODER`` share."""

    def __init__(self, chunks: Sequence[str], steps: int, on_progress: ProgressFn | None) -> None:
        sizes = [max(len(c), 1) for c in chunks]
        self._total = float(sum(sizes)) or 1.0
        self._start = [sum(sizes[:k]) for k in range(len(sizes))]
        self._sizes, self._steps, self._on = sizes, max(int(steps), 1), on_progress

    def step(self, k: int, i: int) -> None:
        """Before decoder evaluation ``i`` of chunk ``k`` (guidance may evaluate twice a step)."""
        part = min(i / self._steps, 1.0)
        report(self._on, SPEECH, (self._start[k] + self._sizes[k] * part) / self._total)

    def decoded(self, k: int) -> None:
        """Chunk ``k``'s decoder is done; its vocoder call starts."""
        report(self._on, SPEECH, (self._start[k] + self._sizes[k]) / self._total)
        report(self._on, VOCODER, self._start[k] / self._total)

    def vocoded(self, k: int) -> None:
        """Chunk ``k`` is done (an empty chunk counts as done at once)."""
        report(self._on, SPEECH, (self._start[k] + self._sizes[k]) / self._total)
        report(self._on, VOCODER, (self._start[k] + self._sizes[k]) / self._total)

"""Progress of a long run, reported by the pipeline itself (docs/server.md, jobs).

The pipeline calls ``on_progress(stage, fraction)`` with one of the stage names below and the
fraction of *that stage* done (0..1): face analysis once before and after, speech synthesis
before every decoder step of every text chunk, the vocoder after every chunk, motion before
and after, rendering after every video frame, muxing before and after. Stages may interleave
(speech and vocoder alternate chunk by chunk); each only ever moves forward.

:class:`ProgressTracker` turns those reports into one job-level fraction (a weighted sum of
the stage fractions, expected seconds per stage, :func:`stage_weights`) and an ETA from the elapsed time.

:class:`StageClock` is the pipeline's one reporter for a run: it forwards those reports to
``on_progress`` and keeps the wall seconds the pipeline spent in each stage (``TEXT`` and the
stages above), so a benchmark reads the pipeline's own clock (``facespeak bench``) instead of
wrapping its parts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["ProgressFn", "FACE", "TEXT", "SPEECH", "VOCODER", "MOTION", "RENDER", "MUX", "stage_weights",
           "ProgressSnapshot", "ProgressTracker", "report", "SpeechProgress", "StageClock"]

#: ``on_progress(stage, fraction of that stage done in 0..1)``
ProgressFn = Callable[[str, float], None]

FACE, SPEECH, VOCODER, MOTION, RENDER, MUX = (
    "face analysis", "speech synthesis", "vocoder", "motion", "rendering", "muxing")
#: timed only (StageClock), never reported: normalising, splitting and phonemising the text
TEXT = "text front end"

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


class StageClock:
    """The pipeline's reporter for one run: progress reports and wall seconds per stage.

    ``clock(stage, fraction)`` (or :meth:`report`) forwards a progress report to ``on_progress``,
    so a StageClock is itself a :data:`ProgressFn` and can be passed where one is expected.
    ``with clock.stage(name):`` adds the block's wall time to ``seconds[name]``; stages nest, and
    time counts for the innermost open stage only, so the stages never overlap and their sum is
    at most the wall time since the clock started (``other`` = the rest). :meth:`mark` records
    when something first happened (seconds from the start). ``gauge`` (optional, e.g. the
    process' peak memory) is read at the end of every stage span into ``gauge_at_end[name]``.
    Not thread-safe: one clock per run.
    """

    def __init__(self, on_progress: ProgressFn | None = None, clock: Callable[[], float] = time.perf_counter,
                 gauge: Callable[[], float] | None = None) -> None:
        self.on_progress, self._clock, self._gauge = on_progress, clock, gauge
        self.seconds: dict[str, float] = {}  # in the order the stages first started
        self.marks: dict[str, float] = {}
        self.gauge_at_end: dict[str, float] = {}
        self._open: list[str] = []
        self.t0 = self._last = clock()

    @classmethod
    def of(cls, on_progress: "ProgressFn | StageClock | None") -> "StageClock":
        """``on_progress`` itself when it is a StageClock (a caller's clock), else a new one
        that forwards to it."""
        return on_progress if isinstance(on_progress, StageClock) else cls(on_progress)

    def report(self, stage: str, fraction: float) -> None:
        report(self.on_progress, stage, fraction)

    __call__ = report

    def _switch(self) -> None:
        now = self._clock()
        if self._open:
            name = self._open[-1]
            self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now

    @contextmanager
    def stage(self, name: str, report: bool = False) -> Iterator[None]:
        """Time the block as ``name``; ``report``: also report ``name`` 0 done on entry and 1
        done on a normal exit (a stage done in one piece)."""
        if report:
            self.report(name, 0.0)
        self._switch()
        self.seconds.setdefault(name, 0.0)
        self._open.append(name)
        try:
            yield
        finally:
            self._switch()
            self._open.pop()
            if self._gauge is not None:
                self.gauge_at_end[name] = self._gauge()
        if report:
            self.report(name, 1.0)

    def timed(self, name: str, items: Iterable) -> Iterator:
        """``items`` with the time of producing each one (a lazy renderer) counted as ``name``."""
        it = iter(items)
        while True:
            with self.stage(name):
                try:
                    item = next(it)
                except StopIteration:
                    return
            yield item

    def mark(self, name: str) -> None:
        """Record ``name`` = seconds since the clock started, the first time only."""
        self.marks.setdefault(name, self._clock() - self.t0)

    def elapsed(self) -> float:
        return self._clock() - self.t0

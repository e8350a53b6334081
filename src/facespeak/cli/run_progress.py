"""One progress bar for a `say` / `tts` run: stage, overall per cent and ETA, on stderr.

Driven by the pipeline's ``on_progress(stage, fraction)`` through a
:class:`~facespeak.core.progress.ProgressTracker` (stages weighted by their expected seconds
for this run), so speech synthesis, the vocoder, motion, rendering and muxing fill one bar.
Shown when stderr is a terminal (and ``--quiet`` was not given) or when ``--progress`` asks
for it; otherwise nothing is written, so logs and pipes stay clean.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..core.progress import ProgressTracker, stage_weights

__all__ = ["progress_wanted", "RunProgress"]

_STEPS = 1000  # bar resolution


def progress_wanted(args: argparse.Namespace) -> bool:
    """``--progress``, else stderr is a terminal and ``--quiet`` is off."""
    if getattr(args, "progress", False):
        return True
    return not os.environ.get("FACESPEAK_NO_PROGRESS") and sys.stderr.isatty()


class RunProgress:
    """``update`` is the pipeline's ``on_progress``; a no-op object when not ``enabled``."""

    def __init__(self, kind: str, speech_s: float, steps: int, size: str = "256", enabled: bool = True) -> None:
        self.tracker = ProgressTracker(stage_weights(kind, speech_s, steps, size))
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=_STEPS, file=sys.stderr, desc="loading models", dynamic_ncols=True,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {unit}", unit="ETA ?", mininterval=0.2)

    def update(self, stage: str, fraction: float) -> None:
        self.tracker.update(stage, fraction)
        if self._bar is None:
            return
        snap = self.tracker.snapshot()
        self._bar.set_description_str(snap.stage, refresh=False)
        self._bar.unit = "ETA ?" if snap.eta_s is None else f"ETA {snap.eta_s:.0f} s"  # shown as {unit}
        self._bar.update(max(int(snap.fraction * _STEPS) - self._bar.n, 0))

    def close(self, done: bool = False) -> None:
        if self._bar is None:
            return
        if done:
            self._bar.set_description_str("done", refresh=False)
            self._bar.unit = ""
            self._bar.update(_STEPS - self._bar.n)
        self._bar.close()
        self._bar = None

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(done=exc_type is None)

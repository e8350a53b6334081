"""Real-time-factor measurement for vocoders (and anything mel -> wav).

RTF = wall-clock synthesis time / duration of the produced audio; lower is faster, < 1 is
faster than real time. The minimum over repeats is reported (other processes only ever add
time on a shared machine).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

__all__ = ["RtfResult", "measure_rtf"]


@dataclass(frozen=True)
class RtfResult:
    """Timings of one configuration: best and median seconds per call, audio seconds, RTF."""

    best_seconds: float
    median_seconds: float
    audio_seconds: float

    @property
    def rtf(self) -> float:
        return self.best_seconds / self.audio_seconds

    @property
    def median_rtf(self) -> float:
        return self.median_seconds / self.audio_seconds


def measure_rtf(
    run: Callable[[torch.Tensor], Any],
    mel: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    repeats: int = 3,
    warmup: int = 1,
) -> RtfResult:
    """Time ``run(mel)`` for ``mel`` ``(B, n_mels, T_mel)``; audio length is ``B*T_mel*hop/sr`` s.

    ``run`` executes under ``torch.inference_mode``; ``warmup`` untimed calls come first.
    """
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            start = time.perf_counter()
            run(mel)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    times.sort()
    audio_seconds = mel.shape[0] * mel.shape[-1] * hop_length / sample_rate
    return RtfResult(times[0], times[len(times) // 2], audio_seconds)

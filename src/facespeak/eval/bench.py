"""`facespeak bench tts`: real-time factor, time split and peak memory of text -> wav.

Two measurements of one portrait + ~``seconds`` of speech:

- **warm, in process**: the library is loaded once (reported as ``load``), then one
  ``FaceSpeak.speak`` call is timed stage by stage by wrapping the pipeline's own text front
  end, TTS model and vocoder in a stopwatch (no re-implementation of the pipeline):
  ``text`` (normalise, split, phonemise, ids), ``face`` (analysis + identity feature),
  ``acoustic`` (TTS model: encoder, durations, flow-matching decoder), ``vocoder``.
  RTF = (text + face + acoustic + vocoder) / seconds of output speech.
- **cold, subprocess**: wall time of a fresh ``facespeak tts ...`` process (interpreter start,
  imports, model loading, synthesis, writing the wav) divided by the output duration, and that
  process' peak resident memory (``ru_maxrss`` from ``os.wait4``).
"""

from __future__ import annotations

import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BenchConfig", "StageTimes", "bench_text", "bench_tts_warm", "bench_tts_cold", "run_bench_tts", "format_table"]

# Our own plain sentences; repeated to reach the requested length.
_TEXT = ("The morning train was late again, so we walked along the river instead. "
         "A small boat drifted past the old mill, and somebody on board waved at us. "
         "By the time we reached the bridge, the sun had burned away the last of the fog. "
         "We bought two cups of tea from a stall and watched the water for a while. "
         "Nobody said very much, but it was the best part of the whole week. ")
_WORDS_PER_SECOND = 2.6  # typical read-speech rate, only used to size the text


@dataclass
class BenchConfig:
    image: str = "examples/portrait.jpg"
    seconds: float = 20.0  # target length of the synthesised speech
    tts_weights: str | None = None
    steps: int = 10
    seed: int = 0
    threads: int | None = None  # torch threads (None: FACESPEAK_THREADS or torch's default)
    cold: bool = True

    @classmethod
    def tiny(cls) -> "BenchConfig":
        return cls(seconds=2.0, steps=2, cold=False)


@dataclass
class StageTimes:
    """Seconds per stage of one warm call, and the speech it produced."""

    load: float = 0.0
    stages: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    audio_seconds: float = 0.0
    chunks: int = 0

    @property
    def synthesis(self) -> float:
        return float(sum(self.stages.values()))

    @property
    def rtf(self) -> float:
        return self.synthesis / self.audio_seconds if self.audio_seconds > 0 else float("nan")


def bench_text(seconds: float) -> str:
    """Plain English text that takes about ``seconds`` to read aloud."""
    words = _TEXT.split()
    n = max(3, int(round(seconds * _WORDS_PER_SECOND)))
    picked = (words * (n // len(words) + 1))[:n]
    text = " ".join(picked).rstrip(",;")
    return text if text.endswith(".") else text + "."


class _Stopwatch:
    """Delegates to ``target``; calls of the named methods (``__call__`` included) add their
    wall time to ``bucket[stage]``."""

    def __init__(self, target: Any, bucket: dict[str, float], stage: str, methods: tuple[str, ...]) -> None:
        self._target, self._bucket, self._stage, self._methods = target, bucket, stage, methods

    def _timed(self, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._bucket[self._stage] += time.perf_counter() - t0
        return wrapper

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        return self._timed(attr) if name in self._methods else attr

    def __call__(self, *args, **kwargs):
        return self._timed(self._target)(*args, **kwargs)


def bench_tts_warm(cfg: BenchConfig) -> StageTimes:
    """Load once, then time one ``speak`` call stage by stage."""
    from facespeak.face.analysis import load_portrait
    from facespeak.pipeline import FaceSpeak, SpeechOptions

    times = StageTimes()
    t0 = time.perf_counter()
    fs = FaceSpeak.from_bundled(cfg.tts_weights, threads=cfg.threads)
    times.load = time.perf_counter() - t0
    text = bench_text(cfg.seconds)
    times.chunks = len(fs.frontend.split(text))
    fs.frontend = _Stopwatch(fs.frontend, times.stages, "text", ("normalize", "split", "encode", "phonemize"))
    fs.tts = _Stopwatch(fs.tts, times.stages, "acoustic", ("synthesise",))
    fs.vocoder = _Stopwatch(fs.vocoder, times.stages, "vocoder", ())
    fs.identity = _Stopwatch(fs.identity, times.stages, "face", ("extract",))
    t1 = time.perf_counter()
    portrait = load_portrait(cfg.image)
    times.stages["face"] += time.perf_counter() - t1
    res = fs.speak(portrait, text, SpeechOptions(seed=cfg.seed, steps=cfg.steps), keep_chunks=False)
    times.audio_seconds = res.duration_s
    return times


def _facespeak_command() -> list[str]:
    exe = Path(sys.executable).with_name("facespeak")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "facespeak.cli.main"]


def bench_tts_cold(cfg: BenchConfig) -> dict[str, Any]:
    """Wall time and peak RSS of a fresh ``facespeak tts`` process."""
    import soundfile as sf

    from facespeak.core.errors import InputError

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.wav"
        cmd = _facespeak_command() + ["-q", "tts", "--image", cfg.image, "--text", bench_text(cfg.seconds),
                                      "--out", str(out), "--steps", str(cfg.steps), "--seed", str(cfg.seed)]
        cmd += ["--tts-weights", cfg.tts_weights] if cfg.tts_weights else []
        env = dict(os.environ, FACESPEAK_NO_PROGRESS="1")
        if cfg.threads:
            env["FACESPEAK_THREADS"] = str(cfg.threads)
        with (Path(tmp) / "stderr.txt").open("w+") as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
            err.seek(0)
            message = err.read().strip()[-500:]
        if proc.returncode != 0 or not out.is_file():
            raise InputError(f"cold-start run failed (exit {proc.returncode}): {message}")
        info = sf.info(str(out))
        seconds = info.frames / info.samplerate
    return {"wall_s": wall, "audio_seconds": seconds, "rtf": wall / seconds, "peak_rss_mb": usage.ru_maxrss / 1024.0,
            "command": shlex.join(cmd)}


def run_bench_tts(cfg: BenchConfig) -> dict[str, Any]:
    """Warm (in process) and cold (subprocess) measurements as one JSON-able dict."""
    import torch

    warm = bench_tts_warm(cfg)
    result = {
        "config": asdict(cfg),
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "cpu_count": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "platform": platform.platform()},
        "warm": {"load_s": warm.load, **{f"{k}_s": v for k, v in warm.stages.items()},
                 "synthesis_s": warm.synthesis, "audio_seconds": warm.audio_seconds, "rtf": warm.rtf,
                 "chunks": warm.chunks, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0},
    }
    if cfg.cold:
        result["cold"] = bench_tts_cold(cfg)
    return result


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of :func:`run_bench_tts`'s result."""
    w = result["warm"]
    rows = [("model load / start-up", w["load_s"], "")]
    for stage, label in (("text", "text front end"), ("face", "face analysis + identity"),
                         ("acoustic", "acoustic model (TTS)"), ("vocoder", "vocoder (HiFi-GAN)")):
        v = w.get(f"{stage}_s", 0.0)
        rows.append((label, v, f"{v / w['audio_seconds']:.3f}" if w["audio_seconds"] else ""))
    rows.append(("synthesis total (warm)", w["synthesis_s"], f"{w['rtf']:.3f}"))
    lines = [f"speech: {w['audio_seconds']:.2f} s in {w['chunks']} chunks, torch threads {result['machine']['torch_threads']}",
             f"{'stage':<28}{'seconds':>10}{'RTF':>8}", "-" * 46]
    lines += [f"{name:<28}{sec:>10.3f}{rtf:>8}" for name, sec, rtf in rows]
    lines.append(f"{'peak RSS (this process)':<28}{w['peak_rss_mb']:>9.0f}M")
    if "cold" in result:
        c = result["cold"]
        lines += ["-" * 46, f"{'cold `facespeak tts` wall':<28}{c['wall_s']:>10.3f}{c['rtf']:>8.3f}",
                  f"{'cold output speech':<28}{c['audio_seconds']:>10.3f}",
                  f"{'cold peak RSS':<28}{c['peak_rss_mb']:>9.0f}M"]
    return "\n".join(lines)

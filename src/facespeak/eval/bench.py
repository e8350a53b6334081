"""`facespeak bench tts` and `facespeak bench say`: real-time factor, time split, peak memory.

**tts** (text -> wav), two measurements of one portrait + ~``seconds`` of speech:

- **warm, in process**: the library is loaded once (reported as ``load``), then one
  ``FaceSpeak.speak`` call is timed stage by stage by the pipeline's own
  :class:`~facespeak.core.progress.StageClock` (passed as ``on_progress``; nothing of the
  pipeline is wrapped or replaced): ``text`` (normalise, split, phonemise, ids), ``face``
  (portrait analysis, identity feature, apparent gender), ``acoustic`` (TTS model: encoder,
  durations, flow-matching decoder), ``vocoder``.
  RTF = (text + face + acoustic + vocoder) / seconds of output speech.
- **quality**: DistillMOS and DNSMOS SIG/OVRL/P.808 of the warm call's speech (the whole
  file, :mod:`facespeak.eval.metrics.speech_quality`), after the timings.
- **cold, subprocess**: wall time of a fresh ``facespeak tts ...`` process (interpreter start,
  imports, model loading, synthesis, writing the wav) divided by the output duration, and that
  process' own peak resident memory (``VmHWM``, read while it runs: ``eval.child_process``).

**say** (text -> mp4), for every speech length (default 1, 10, 60 s) x output size (256, 512,
full): one warm ``pipeline.say`` call per case, each in a fresh spawned process by default (so
the peak memory is the case's own), timed per stage by the pipeline's StageClock: text, face
(analysis + identity + apparent gender), acoustic, vocoder, motion (speech levels for the
silence gate, plan, mesh motion), render (mesh warp incl. renderer set-up), mux (H.264 + AAC
encoding and muxing) and ``other`` (the rest of the call: glue the pipeline does not time),
after one short untimed warm-up call (graph creation, phonemiser start, first torch calls:
start-up belongs to the cold run). Time to first audio = when the first vocoder chunk is done,
to first frame = when the first frame was encoded, to first fragment = when the first
fragmented-MP4 media fragment was written, all from the call's start (the portrait is analysed
inside the call). Plus the streaming marks (facespeak.eval.stream_marks): first audio and first
fragment of a streamed ``say`` with the models loaded and the portrait analysed beforehand, as a
server has them (issue 14's bars: 1 s and 1.5 s). RTF = whole
call / seconds of speech. A growth exponent per stage shows how cost scales with length. Plus
one cold ``facespeak say`` subprocess per size (wall, RTF, peak RSS).
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facespeak.core.errors import InputError
from facespeak.core.progress import FACE, MOTION, MUX, RENDER, SPEECH, TEXT, VOCODER, ProgressFn, StageClock
from facespeak.options import DEFAULT_VOCODER, SIZES, SpeechOptions
from facespeak.video.reader import probe_video
from .child_process import run_measured
from .stream_marks import bench_stream_marks
from .metrics.speech_quality import score_speech_quality

__all__ = ["BenchConfig", "StageTimes", "bench_text", "stage_seconds", "bench_tts_warm", "bench_tts_cold", "run_bench_tts", "format_table",
           "SAY_STAGES", "SayBenchConfig", "bench_say_case", "warm_up_say", "bench_say_cold", "run_bench_say", "length_growth",
           "format_say_table"]

# Our own plain sentences; repeated to reach the requested length.
_TEXT = ("The morning train was late again, so we walked along the river instead. "
         "A small boat drifted past the old mill, and somebody on board waved at us. "
         "By the time we reached the bridge, the sun had burned away the last of the fog. "
         "We bought two cups of tea from a stall and watched the water for a while. "
         "Nobody said very much, but it was the best part of the whole week. ")
_WORDS_PER_SECOND = 2.6  # typical read-speech rate, only used to size the text
# `bench say` sizes its texts at the bundled TTS's measured rate (156 words -> 48.8 s, pauses
# included), so "60 s" is about 60 s of output; `bench tts` keeps 2.6 for comparable history.
_SAY_WORDS_PER_SECOND = 3.15


@dataclass
class BenchConfig:
    image: str = "examples/portrait.jpg"
    seconds: float = 20.0  # target length of the synthesised speech
    tts_weights: str | None = None
    vocoder: str = DEFAULT_VOCODER
    steps: int = SpeechOptions.steps  # the pipeline's defaults (facespeak.options)
    seed: int = SpeechOptions.seed
    threads: int | None = None  # torch threads (None: FACESPEAK_THREADS or torch's default)
    cold: bool = True
    quality: bool = True  # DistillMOS + DNSMOS of the warm call's speech

    @classmethod
    def tiny(cls) -> "BenchConfig":
        return cls(seconds=2.0, steps=2, cold=False, quality=False)


@dataclass
class StageTimes:
    """Seconds per stage of one warm call, and the speech it produced."""

    load: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # bench stage name -> seconds
    audio_seconds: float = 0.0
    chunks: int = 0
    speech: tuple[np.ndarray, int] | None = None  # ((T_wav,) float32, sample rate Hz) of the call

    @property
    def synthesis(self) -> float:
        return float(sum(self.stages.values()))

    @property
    def rtf(self) -> float:
        return self.synthesis / self.audio_seconds if self.audio_seconds > 0 else float("nan")


def bench_text(seconds: float, words_per_second: float = _WORDS_PER_SECOND) -> str:
    """Plain English text that takes about ``seconds`` to read aloud at ``words_per_second``."""
    words = _TEXT.split()
    n = max(3, int(round(seconds * words_per_second)))
    picked = (words * (n // len(words) + 1))[:n]
    text = " ".join(picked).rstrip(",;")
    return text if text.endswith(".") else text + "."


#: bench stage name -> the pipeline's stage (facespeak.core.progress), in pipeline order
_STAGES = {"text": TEXT, "face": FACE, "acoustic": SPEECH, "vocoder": VOCODER, "motion": MOTION, "render": RENDER,
           "mux": MUX}
_TTS_STAGES = ("text", "face", "acoustic", "vocoder")


def stage_seconds(clock: StageClock, names: tuple[str, ...]) -> dict[str, float]:
    """Seconds per bench stage ``names`` from the pipeline's clock (0 for a stage not run)."""
    return {name: clock.seconds.get(_STAGES[name], 0.0) for name in names}


def bench_tts_warm(cfg: BenchConfig) -> StageTimes:
    """Load once, then time one ``speak`` call stage by stage (the pipeline's StageClock)."""
    # lazy: loads numba via tts.alignment (about 1 s)
    from facespeak.pipeline import FaceSpeak, SpeechOptions

    times = StageTimes()
    t0 = time.perf_counter()
    fs = FaceSpeak.from_bundled(cfg.tts_weights, threads=cfg.threads, vocoder=cfg.vocoder)
    times.load = time.perf_counter() - t0
    text = bench_text(cfg.seconds)
    times.chunks = len(fs.frontend.split(text))
    clock = StageClock()
    res = fs.speak(cfg.image, text, SpeechOptions(seed=cfg.seed, steps=cfg.steps), keep_chunks=False, on_progress=clock)
    times.stages = stage_seconds(clock, _TTS_STAGES)
    times.audio_seconds = res.duration_s
    times.speech = (res.wav, res.sample_rate)
    return times


def _facespeak_command() -> list[str]:
    exe = Path(sys.executable).with_name("facespeak")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "facespeak.cli.main"]


def _run_cold(cmd: list[str], out: Path, threads: int | None, what: str) -> tuple[float, float]:
    """Run one fresh ``facespeak`` process -> (wall s, its own peak RSS MB: ``eval.child_process``).

    Raises InputError (with the end of its stderr) if it fails or writes no ``out``."""

    env = dict(os.environ, FACESPEAK_NO_PROGRESS="1")
    if threads:
        env["FACESPEAK_THREADS"] = str(threads)
    with tempfile.TemporaryFile("w+") as err:
        run = run_measured(cmd, env, stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        message = err.read().strip()[-500:]
    if run.returncode != 0 or not out.is_file():
        raise InputError(f"cold {what} run failed (exit {run.returncode}): {message}")
    return run.wall_s, run.peak_rss_mb


def bench_tts_cold(cfg: BenchConfig) -> dict[str, Any]:
    """Wall time and peak RSS of a fresh ``facespeak tts`` process."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.wav"
        cmd = _facespeak_command() + ["-q", "tts", "--image", cfg.image, "--text", bench_text(cfg.seconds),
                                      "--out", str(out), "--steps", str(cfg.steps), "--seed", str(cfg.seed)]
        cmd += (["--tts-weights", cfg.tts_weights] if cfg.tts_weights else []) + ["--vocoder", cfg.vocoder]
        wall, peak_mb = _run_cold(cmd, out, cfg.threads, "`facespeak tts`")
        info = sf.info(str(out))
        seconds = info.frames / info.samplerate
    return {"wall_s": wall, "audio_seconds": seconds, "rtf": wall / seconds, "peak_rss_mb": peak_mb,
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
    if cfg.quality and warm.speech is not None:
        result["quality"] = score_speech_quality(*warm.speech).to_dict()
    if cfg.cold:
        result["cold"] = bench_tts_cold(cfg)
    return result


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of :func:`run_bench_tts`'s result."""
    w = result["warm"]
    rows = [("model load / start-up", w["load_s"], "")]
    for stage, label in (("text", "text front end"), ("face", "face analysis + identity"),
                         ("acoustic", "acoustic model (TTS)"), ("vocoder", "vocoder")):
        v = w.get(f"{stage}_s", 0.0)
        rows.append((label, v, f"{v / w['audio_seconds']:.3f}" if w["audio_seconds"] else ""))
    rows.append(("synthesis total (warm)", w["synthesis_s"], f"{w['rtf']:.3f}"))
    lines = [f"speech: {w['audio_seconds']:.2f} s in {w['chunks']} chunks, torch threads {result['machine']['torch_threads']}",
             f"{'stage':<28}{'seconds':>10}{'RTF':>8}", "-" * 46]
    lines += [f"{name:<28}{sec:>10.3f}{rtf:>8}" for name, sec, rtf in rows]
    lines.append(f"{'peak RSS (this process)':<28}{w['peak_rss_mb']:>9.0f}M")
    if result.get("quality"):
        q = result["quality"]
        cells = [(name, q[key]) for name, key in (("DistillMOS", "distillmos"), ("DNSMOS SIG", "dnsmos_sig"),
                                                   ("DNSMOS OVRL", "dnsmos_ovrl"))]
        lines += ["-" * 46] + [f"{name + ' (speech quality)':<28}{'n/a' if v is None else f'{v:.3f}':>10}"
                               for name, v in cells]
    if "cold" in result:
        c = result["cold"]
        lines += ["-" * 46, f"{'cold `facespeak tts` wall':<28}{c['wall_s']:>10.3f}{c['rtf']:>8.3f}",
                  f"{'cold output speech':<28}{c['audio_seconds']:>10.3f}",
                  f"{'cold peak RSS':<28}{c['peak_rss_mb']:>9.0f}M"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# `facespeak bench say`: portrait + text -> mp4, per stage, for several lengths and sizes
# ------------------------------------------------------------------------------------------

SAY_STAGES = tuple(_STAGES)  # text, face, acoustic, vocoder, motion, render, mux
_STAGE_LABELS = {"text": "text front end", "face": "face analysis + identity + gender", "acoustic": "TTS acoustic model",
                 "vocoder": "vocoder", "motion": "motion plan", "render": "mesh warp + renderer set-up",
                 "mux": "encode + mux (H.264/AAC)", "other": "other (glue)"}


@dataclass
class SayBenchConfig:
    """`facespeak bench say` settings.

    seconds: target speech lengths (texts from :func:`bench_text`); sizes: ``"256"``, ``"512"``,
    ``"full"``; isolate: every (length, size) case in a fresh process, so its peak memory is its
    own; cold_seconds: length of the cold ``facespeak say`` subprocess run per size (None: none);
    stream_runs: streamed `say` calls timed to the first audio and fragment
    (:func:`facespeak.eval.stream_marks.bench_stream_marks`).
    """

    image: str = "examples/portrait.jpg"
    seconds: tuple[float, ...] = (1.0, 10.0, 60.0)
    sizes: tuple[str, ...] = SIZES
    tts_weights: str | None = None
    vocoder: str = DEFAULT_VOCODER
    steps: int = SpeechOptions.steps  # the pipeline's defaults (facespeak.options)
    seed: int = SpeechOptions.seed
    threads: int | None = None
    isolate: bool = True
    cold_seconds: float | None = 10.0
    stream_runs: int = 3  # streamed `say` runs for the first audio / fragment marks (0: none)

    @classmethod
    def tiny(cls) -> "SayBenchConfig":
        return cls(seconds=(1.0,), sizes=("256",), steps=2, isolate=False, cold_seconds=None, stream_runs=0)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_say_case(fs: Any, image: str, seconds: float, size: str, steps: int = 10, seed: int = 0,
                   on_progress: ProgressFn | None = None) -> dict[str, Any]:
    """Time one warm ``pipeline.say`` call on ``bench_text(seconds)`` at output ``size``, by the
    pipeline's own StageClock (``on_progress``, if given, hears the call's progress reports).

    Returns a JSON-able dict: ``stages`` (seconds per stage, plus ``other``), ``total_s`` (wall
    of the whole call), ``audio_seconds``, ``rtf`` (total / audio), ``first_audio_s`` and
    ``first_frame_s`` / ``first_fragment_s`` (from the call's start), ``peak_rss_mb`` and ``stage_peak_rss_mb`` (the
    process' high-water mark at the end of each stage; only meaningful in a fresh process).
    """
    # lazy: loads numba via tts.alignment (about 1 s)
    from facespeak.pipeline import SpeechOptions, VideoOptions, say

    text = bench_text(seconds, _SAY_WORDS_PER_SECOND)
    with tempfile.TemporaryDirectory() as tmp:
        clock = StageClock(on_progress, gauge=_peak_rss_mb)
        res = say(fs, image, text, Path(tmp) / "bench.mp4", SpeechOptions(seed=seed, steps=steps), VideoOptions(size=size),
                  on_progress=clock)
        total = clock.elapsed()
    stages = stage_seconds(clock, SAY_STAGES)
    stages["other"] = max(0.0, total - sum(stages.values()))
    peaks = {name: clock.gauge_at_end[stage] for name, stage in _STAGES.items() if stage in clock.gauge_at_end}
    return {"seconds_target": seconds, "size": size, "audio_seconds": res.duration_s, "frames": res.n_frames,
            "stages": stages, "total_s": total, "rtf": total / res.duration_s,
            "first_audio_s": clock.marks.get("first_audio_s"), "first_frame_s": clock.marks.get("first_frame_s"),
            "first_fragment_s": clock.marks.get("first_fragment_s"), "peak_rss_mb": _peak_rss_mb(),
            "stage_peak_rss_mb": peaks}


def warm_up_say(fs: Any, image: str, size: str) -> float:
    """One short untimed ``say`` call (face graphs, phonemiser, gender model, first torch
    calls); returns its seconds. Start-up costs belong to the cold run, not the stages."""
    # lazy: loads numba via tts.alignment (about 1 s)
    from facespeak.pipeline import SpeechOptions, VideoOptions, say

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        say(fs, image, "Hello.", Path(tmp) / "warm.mp4", SpeechOptions(steps=1), VideoOptions(size=size))
    return time.perf_counter() - t0


def _fresh_process_stream(cfg: dict[str, Any]) -> dict[str, Any]:
    """Load the models and time the streamed runs (the body of an isolated worker process)."""
    # lazy: loads numba via tts.alignment (about 1 s)
    from facespeak.pipeline import FaceSpeak

    fs = FaceSpeak.from_bundled(cfg["tts_weights"], threads=cfg["threads"], vocoder=cfg["vocoder"])
    return bench_stream_marks(fs, cfg["image"], cfg["stream_runs"], cfg["steps"], cfg["seed"])


def _fresh_process_case(cfg: dict[str, Any], seconds: float, size: str) -> dict[str, Any]:
    """Load the models and run one case (the body of an isolated worker process)."""
    import torch

    # lazy: loads numba via tts.alignment (about 1 s)
    from facespeak.pipeline import FaceSpeak

    t0 = time.perf_counter()
    fs = FaceSpeak.from_bundled(cfg["tts_weights"], threads=cfg["threads"], vocoder=cfg["vocoder"])
    load = time.perf_counter() - t0
    warm = warm_up_say(fs, cfg["image"], size)
    base = _peak_rss_mb()
    row = bench_say_case(fs, cfg["image"], seconds, size, cfg["steps"], cfg["seed"])
    return {**row, "load_s": load, "warmup_s": warm, "warm_rss_mb": base, "torch_threads": torch.get_num_threads()}


def bench_say_cold(cfg: SayBenchConfig, size: str) -> dict[str, Any]:
    """Wall time, RTF and peak RSS (its own ``VmHWM``) of one fresh ``facespeak say`` process."""

    assert cfg.cold_seconds is not None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.mp4"
        cmd = _facespeak_command() + ["-q", "say", "--image", cfg.image, "--text", bench_text(cfg.cold_seconds, _SAY_WORDS_PER_SECOND),
                                      "--out", str(out), "--size", size, "--steps", str(cfg.steps), "--seed", str(cfg.seed)]
        cmd += (["--tts-weights", cfg.tts_weights] if cfg.tts_weights else []) + ["--vocoder", cfg.vocoder]
        wall, peak_mb = _run_cold(cmd, out, cfg.threads, "`facespeak say`")
        seconds = probe_video(out).video_duration_s
    return {"size": size, "seconds_target": cfg.cold_seconds, "wall_s": wall, "audio_seconds": seconds,
            "rtf": wall / seconds, "peak_rss_mb": peak_mb, "command": shlex.join(cmd)}


def _machine() -> dict[str, Any]:
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "load_average": list(os.getloadavg())}


def run_bench_say(cfg: SayBenchConfig, progress: bool = False) -> dict[str, Any]:
    """Every (length, size) case (warm, per stage) and the cold CLI runs, as one JSON-able dict.

    With ``cfg.isolate`` each case runs in a fresh spawned process (models loaded there, load
    time reported apart), so peak memory is per case; otherwise all cases share this process
    and one model load.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    # lazy: loads numba via tts.alignment (about 1 s)
    from facespeak.pipeline import VideoOptions

    for size in cfg.sizes:
        VideoOptions(size=size).validate()
    cases = [(s, size) for s in cfg.seconds for size in cfg.sizes]
    plain = asdict(cfg)
    rows = []
    stream = None
    bar = tqdm(total=len(cases) + (len(cfg.sizes) if cfg.cold_seconds else 0) + bool(cfg.stream_runs), desc="bench say",
               disable=not progress)
    if cfg.isolate:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx, max_tasks_per_child=1) as pool:
            for seconds, size in cases:
                rows.append(pool.submit(_fresh_process_case, plain, seconds, size).result())
                bar.update(1)
            if cfg.stream_runs:
                stream = pool.submit(_fresh_process_stream, plain).result()
                bar.update(1)
    else:
        # lazy: loads numba via tts.alignment (about 1 s)
        from facespeak.pipeline import FaceSpeak

        t0 = time.perf_counter()
        fs = FaceSpeak.from_bundled(cfg.tts_weights, threads=cfg.threads, vocoder=cfg.vocoder)
        load = time.perf_counter() - t0
        warm = {size: warm_up_say(fs, cfg.image, size) for size in cfg.sizes}
        for seconds, size in cases:
            row = bench_say_case(fs, cfg.image, seconds, size, cfg.steps, cfg.seed)
            rows.append({**row, "load_s": load, "warmup_s": warm[size]})
            bar.update(1)
        if cfg.stream_runs:
            stream = bench_stream_marks(fs, cfg.image, cfg.stream_runs, cfg.steps, cfg.seed)
            bar.update(1)
    cold = []
    for size in cfg.sizes if cfg.cold_seconds else ():
        cold.append(bench_say_cold(cfg, size))
        bar.update(1)
    bar.close()
    machine = _machine()
    if rows and "torch_threads" in rows[0]:
        machine["torch_threads"] = rows[0]["torch_threads"]
    return {"kind": "say", "config": plain, "machine": machine, "cases": rows, "cold": cold,
            "growth": length_growth(rows), "stream": stream}


def length_growth(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """How each stage's cost grows with speech length, per output size.

    For the shortest and longest case of a size: ``exponent`` b of ``time ~ length^b``
    (1 = linear, < 1 = fixed costs dominate, > 1 = worse than linear) per stage and total.
    """
    out: dict[str, dict[str, float]] = {}
    for size in dict.fromkeys(r["size"] for r in rows):
        mine = sorted((r for r in rows if r["size"] == size), key=lambda r: r["audio_seconds"])
        if len(mine) < 2:
            continue
        a, b = mine[0], mine[-1]
        ratio = np.log(b["audio_seconds"] / a["audio_seconds"])
        grow = {k: float(np.log(b["stages"][k] / a["stages"][k]) / ratio)
                for k in (*SAY_STAGES, "other") if a["stages"][k] > 0 and b["stages"][k] > 0}
        grow["total"] = float(np.log(b["total_s"] / a["total_s"]) / ratio)
        out[size] = grow
    return out


def format_say_table(result: dict[str, Any]) -> str:
    """Plain-text tables of :func:`run_bench_say`'s result: one row per case, the stage split
    in seconds, length growth exponents, and the cold CLI runs."""
    m = result["machine"]
    lines = [f"facespeak bench say: {result['config']['image']}, steps {result['config']['steps']}, torch threads "
             f"{m['torch_threads']}, {m['cpu_count']} CPUs, load average at the end {m['load_average'][0]:.1f}", ""]
    head = f"{'speech':>7} {'size':>5} {'RTF':>6} {'1st aud':>8} {'1st frm':>8} {'1st frg':>8} {'peak MB':>8}"
    head += "".join(f"{k:>9}" for k in (*SAY_STAGES, "other")) + f"{'total':>9}"
    lines += ["warm, per stage (seconds; 1st aud/frm/frg = first audio, frame, fragment: seconds from the call's start)",
              "stages: " + "; ".join(f"{k} = {v}" for k, v in _STAGE_LABELS.items()), head, "-" * len(head)]
    for r in result["cases"]:
        st = r["stages"]
        lines.append(f"{r['audio_seconds']:>6.1f}s {r['size']:>5} {r['rtf']:>6.3f} {r['first_audio_s'] or 0:>8.2f} "
                     f"{r['first_frame_s'] or 0:>8.2f} {r.get('first_fragment_s') or 0:>8.2f} {r['peak_rss_mb']:>8.0f}"
                     + "".join(f"{st[k]:>9.2f}" for k in (*SAY_STAGES, "other")) + f"{r['total_s']:>9.2f}")
    if result.get("growth"):
        lines += ["", "growth with length (exponent b of time ~ seconds^b between shortest and longest; 1 = linear)"]
        keys = (*SAY_STAGES, "total")
        lines.append(f"{'size':>5}" + "".join(f"{k:>9}" for k in keys))
        for size, g in result["growth"].items():
            lines.append(f"{size:>5}" + "".join(f"{g[k]:>9.2f}" if k in g else f"{'-':>9}" for k in keys))
    if result.get("stream"):
        st = result["stream"]
        med, bars = st["median"], st["bars"]
        lines += ["", f"streamed `say`, models loaded and warm, portrait analysed (median of {len(st['runs'])} runs; "
                      "seconds from the call's start)"]
        lines += [f"  {m:<22}{med[m]:>7.2f}" + (f"   bar <= {bars[m]:g}: {'met' if med[m] <= bars[m] else 'MISSED'}"
                                                 if m in bars else "") for m in med]
    if result.get("cold"):
        lines += ["", "cold `facespeak say` (one fresh process: start-up, model load, synthesis, render, mux)",
                  f"{'size':>5} {'speech':>7} {'wall s':>7} {'RTF':>6} {'peak MB':>8}"]
        for c in result["cold"]:
            lines.append(f"{c['size']:>5} {c['audio_seconds']:>6.1f}s {c['wall_s']:>7.2f} {c['rtf']:>6.3f} {c['peak_rss_mb']:>8.0f}")
    return "\n".join(lines)

"""`facespeak bench tts|say`: real-time factor, time split per stage, peak memory.

`facespeak bench tts [--seconds 20] [--json]`: portrait + text -> wav (+ DistillMOS / DNSMOS SIG).
`facespeak bench say [--seconds 1 10 60] [--sizes 256 512 full] [--json-out PATH]`: portrait +
text -> mp4, per stage, per length and output size, plus cold `facespeak say` runs and the
streaming marks (first audio and video fragment with the models loaded; `--stream-runs`).

Project modules that load cv2 (face analysis) are imported inside the handlers, marked ``# lazy:``
(docs/architecture.md, "Conventions"), so ``facespeak --help`` does not load them.
"""

from __future__ import annotations

import argparse
import json

from ..core.errors import InputError
from ..core.output_files import AtomicOutput, check_output_file
from ..eval.bench import BenchConfig, SayBenchConfig, format_say_table, format_table, run_bench_say, run_bench_tts
from ..options import DEFAULT_VOCODER, SIZES, VOCODER_HELP, VOCODER_NAMES
from .commands import COMMAND_HELP
from .option_flags import add_option_flags, options_from_args

__all__ = ["register"]

# the synthesis options a benchmark varies: flags, ranges and defaults from facespeak.options
_SPEECH_FLAGS = ("steps", "seed")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help=COMMAND_HELP["bench"])
    kinds = p.add_subparsers(dest="bench_kind", parser_class=type(p))
    t = kinds.add_parser("tts", help="portrait + text -> wav: RTF per stage (warm) and a cold `facespeak tts` run")
    t.add_argument("--image", default="examples/portrait.jpg", help="portrait photo")
    t.add_argument("--seconds", type=float, default=20.0, help="about this many seconds of speech")
    t.add_argument("--tts-weights", default=None, help="TTS checkpoint (default: bundled)")
    t.add_argument("--vocoder", choices=VOCODER_NAMES, default=DEFAULT_VOCODER, help=VOCODER_HELP)
    add_option_flags(t, "tts", _SPEECH_FLAGS)
    t.add_argument("--threads", type=int, default=None, help="torch threads (default: FACESPEAK_THREADS or torch's)")
    t.add_argument("--no-cold", action="store_true", help="skip the cold-start subprocess run")
    t.add_argument("--no-quality", action="store_true", help="skip DistillMOS / DNSMOS of the speech")
    t.add_argument("--json", action="store_true", help="print JSON instead of a table")
    t.set_defaults(func=run_tts)
    s = kinds.add_parser("say", help="portrait + text -> mp4: RTF, first audio/frame, peak memory per stage, "
                                     "for several speech lengths and output sizes, plus cold `facespeak say` runs")
    s.add_argument("--image", default="examples/portrait.jpg", help="portrait photo")
    s.add_argument("--seconds", type=float, nargs="+", default=[1.0, 10.0, 60.0], help="speech lengths (s)")
    s.add_argument("--sizes", nargs="+", choices=SIZES, default=list(SIZES), help="output sizes (see `facespeak say --size`)")
    s.add_argument("--tts-weights", default=None, help="TTS checkpoint (default: bundled)")
    s.add_argument("--vocoder", choices=VOCODER_NAMES, default=DEFAULT_VOCODER, help=VOCODER_HELP)
    add_option_flags(s, "tts", _SPEECH_FLAGS)
    s.add_argument("--threads", type=int, default=None, help="torch threads (default: FACESPEAK_THREADS or torch's)")
    s.add_argument("--cold-seconds", type=float, default=10.0, help="speech length of the cold CLI runs (s)")
    s.add_argument("--no-cold", action="store_true", help="skip the cold `facespeak say` runs")
    s.add_argument("--stream-runs", type=int, default=3,
                   help="streamed `say` runs timed to the first audio and video fragment, models loaded (0: none)")
    s.add_argument("--shared-process", action="store_true",
                   help="run all cases in this process (one model load; peak memory is then cumulative)")
    s.add_argument("--json-out", default="out/bench/say.json", help="write the full result here (default %(default)s)")
    s.add_argument("--json", action="store_true", help="print JSON instead of the table")
    s.set_defaults(func=run_say)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_tts(args: argparse.Namespace) -> int:
    # lazy: loads cv2
    from ..face.analysis import load_portrait

    if not 0.5 <= args.seconds <= 600:
        raise InputError(f"--seconds: expected 0.5..600, got {args.seconds}")
    speech, _ = options_from_args(args, "tts")
    load_portrait(args.image)  # fail fast on a bad image, before loading models
    cfg = BenchConfig(image=args.image, seconds=args.seconds, tts_weights=args.tts_weights, vocoder=args.vocoder,
                      steps=speech.steps,
                      seed=speech.seed, threads=args.threads, cold=not args.no_cold, quality=not args.no_quality)
    result = run_bench_tts(cfg)
    print(json.dumps(result, indent=1) if args.json else format_table(result))
    return 0


def run_say(args: argparse.Namespace) -> int:
    import os

    # lazy: loads cv2
    from ..face.analysis import check_animatable, load_portrait

    for v in [*args.seconds, *([] if args.no_cold else [args.cold_seconds])]:
        if not 0.5 <= v <= 600:
            raise InputError(f"--seconds / --cold-seconds: expected 0.5..600, got {v}")
    if not 0 <= args.stream_runs <= 50:
        raise InputError(f"--stream-runs: expected 0..50, got {args.stream_runs}")
    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads: expected at least 1, got {args.threads}")
    speech, _ = options_from_args(args, "tts")
    out = check_output_file(args.json_out, "--json-out", ".json")
    portrait = load_portrait(args.image)  # fail fast on a bad image, before loading models
    check_animatable(portrait.face, portrait.face_index, portrait.name)
    cfg = SayBenchConfig(image=args.image, seconds=tuple(args.seconds), sizes=tuple(dict.fromkeys(args.sizes)),
                         tts_weights=args.tts_weights, vocoder=args.vocoder, steps=speech.steps, seed=speech.seed,
                         threads=args.threads,
                         isolate=not args.shared_process, cold_seconds=None if args.no_cold else args.cold_seconds,
                         stream_runs=args.stream_runs)
    result = run_bench_say(cfg, progress=not os.environ.get("FACESPEAK_NO_PROGRESS"))
    with AtomicOutput(out) as dst:
        dst.file.write(json.dumps(result, indent=1).encode())
    print(json.dumps(result, indent=1) if args.json else f"{format_say_table(result)}\n\nwrote {out}")
    return 0

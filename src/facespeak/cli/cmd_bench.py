"""`facespeak bench tts [--seconds 20] [--json]`: real-time factor, time split, peak memory."""

from __future__ import annotations

import argparse
import json

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="speed and memory benchmarks")
    kinds = p.add_subparsers(dest="bench_kind", parser_class=type(p))
    t = kinds.add_parser("tts", help="portrait + text -> wav: RTF per stage (warm) and a cold `facespeak tts` run")
    t.add_argument("--image", default="examples/portrait.jpg", help="portrait photo")
    t.add_argument("--seconds", type=float, default=20.0, help="about this many seconds of speech")
    t.add_argument("--tts-weights", default=None, help="TTS checkpoint (default: bundled)")
    t.add_argument("--steps", type=int, default=10, help="flow-matching ODE steps")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=None, help="torch threads (default: FACESPEAK_THREADS or torch's)")
    t.add_argument("--no-cold", action="store_true", help="skip the cold-start subprocess run")
    t.add_argument("--json", action="store_true", help="print JSON instead of a table")
    t.set_defaults(func=run_tts)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_tts(args: argparse.Namespace) -> int:
    from ..core.errors import InputError
    from ..eval.bench import BenchConfig, format_table, run_bench_tts
    from ..face.analysis import load_portrait

    if not 0.5 <= args.seconds <= 600:
        raise InputError(f"--seconds: expected 0.5..600, got {args.seconds}")
    load_portrait(args.image)  # fail fast on a bad image, before loading models
    cfg = BenchConfig(image=args.image, seconds=args.seconds, tts_weights=args.tts_weights, steps=args.steps,
                      seed=args.seed, threads=args.threads, cold=not args.no_cold)
    result = run_bench_tts(cfg)
    print(json.dumps(result, indent=1) if args.json else format_table(result))
    return 0

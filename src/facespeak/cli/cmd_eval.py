"""`facespeak eval tts ...`: measurements with the exact command recorded (see docs/evaluation.md)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="measure quality (writes results.json + summary.md)")
    kinds = p.add_subparsers(dest="eval_kind", parser_class=type(p))
    t = kinds.add_parser("tts", help="speech: WER, voice consistency across frames, voice-face suitability")
    t.add_argument("--tts-weights", default=None, help="TTS checkpoint (default: bundled)")
    t.add_argument("--out", default="runs/eval/tts", help="output directory")
    t.add_argument("--sentences", type=int, default=30, help="held-out sentences for WER (round-robin over portraits)")
    t.add_argument("--portraits", type=int, default=10, help="held-out portraits (WER and voice-face suitability)")
    t.add_argument("--frames", type=int, default=10, help="frames of one face video for the consistency check")
    t.add_argument("--videos", type=int, default=2, help="at most this many face videos for the consistency check")
    t.add_argument("--faces", default="corpus/faces", help="real-face corpus directory (manifest.json)")
    t.add_argument("--sentence-file", default="corpus/speech/sentences.jsonl", help="sentences.jsonl of the speech corpus")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--steps", type=int, default=10, help="flow-matching ODE steps")
    t.add_argument("--temperature", type=float, default=0.667)
    t.add_argument("--no-wavs", action="store_true", help="do not keep the generated speech")
    t.add_argument("--strict", action="store_true", help="exit 1 when a check fails")
    t.set_defaults(func=run_tts)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _command(args: argparse.Namespace) -> str:
    """The full equivalent command line (every option explicit), for the record."""
    parts = ["facespeak", "eval", "tts"]
    for flag, value in (("--tts-weights", args.tts_weights), ("--out", args.out), ("--sentences", args.sentences),
                        ("--portraits", args.portraits), ("--frames", args.frames), ("--videos", args.videos),
                        ("--faces", args.faces), ("--sentence-file", args.sentence_file), ("--seed", args.seed),
                        ("--steps", args.steps), ("--temperature", args.temperature)):
        if value is not None:
            parts += [flag, str(value)]
    parts += ["--no-wavs"] if args.no_wavs else []
    return " ".join(shlex.quote(p) for p in parts)


def run_tts(args: argparse.Namespace) -> int:
    from ..core.errors import InputError
    from ..eval.tts_eval import TTSEvalConfig, run_tts_eval, summary_markdown

    for name in ("sentences", "portraits", "frames", "videos"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name}: expected a positive count, got {getattr(args, name)}")
    if args.frames < 2:
        raise InputError(f"--frames: expected at least 2 (a pairwise similarity), got {args.frames}")
    cfg = TTSEvalConfig(tts_weights=args.tts_weights, faces_dir=args.faces, sentences_path=args.sentence_file,
                        n_sentences=args.sentences, n_portraits=args.portraits, n_frames=args.frames,
                        max_videos=args.videos, seed=args.seed, steps=args.steps, temperature=args.temperature,
                        save_wavs=not args.no_wavs)
    results = run_tts_eval(cfg, args.out, command=_command(args))
    print(summary_markdown(results))
    print(f"results: {Path(args.out) / 'results.json'}")
    failed = [k for k, c in results["checks"].items() if not c["pass"]]
    return 1 if failed and args.strict else 0

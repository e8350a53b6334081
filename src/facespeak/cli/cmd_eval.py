"""`facespeak eval ...`: measurements with the exact command recorded (see docs/evaluation.md).

- ``facespeak eval tts``: speech checks on held-out portraits and sentences;
- ``facespeak eval vocoder``: copy-synthesis of real recorded speech through each vocoder;
- ``facespeak eval run MANIFEST`` (shorthand: ``facespeak eval MANIFEST`` when MANIFEST is an
  existing file): talking-face videos of manifest rows -> results.json + report.html;
- ``facespeak eval protocol ROOT``: the paper's LRS2 / LRS3 / VoxCeleb2 protocol with the
  cascade baseline beside ours.

The talking-face evaluations load cv2 and scipy; they are imported inside their handlers, each
marked ``# lazy:`` (docs/architecture.md, "Conventions"), so ``facespeak --help`` does not load them.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.output_files import check_output_dir
from ..eval.metrics.video import LipSyncConfig
from ..eval.report import ROW_COLUMNS, format_cell
from ..eval.tts_eval import TTSEvalConfig, run_tts_eval, summary_markdown
from ..eval.vocoder_eval import VocoderEvalConfig, run_vocoder_eval, vocoder_table_markdown
from .commands import COMMAND_HELP
from .option_flags import add_option_flags, options_from_args

__all__ = ["register"]

# synthesis options the evaluations vary: flags, ranges and defaults from facespeak.options
# (a flag left out means the shipped default, so an evaluation measures what users get)
_TTS_FLAGS = ("seed", "steps", "temperature", "length_scale", "gender_guidance", "face_guidance", "formant_shift")
_AV_FLAGS = ("size", "still", "seed", "steps", "temperature")


def _fill_options(args: argparse.Namespace, command: str, explicit: tuple[str, ...]) -> None:
    """Validate the option flags (one error line, as `facespeak tts|say` gives) and fill the
    ``explicit`` ones left out with the pipeline's defaults (recorded in the results); the
    others stay None = the shipped default."""
    speech, video = options_from_args(args, command)
    for name in explicit:
        if getattr(args, name) is None:
            setattr(args, name, getattr(speech if hasattr(speech, name) else video, name))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help=COMMAND_HELP["eval"])
    kinds = p.add_subparsers(dest="eval_kind", parser_class=type(p), action=_ManifestShorthand)
    t = kinds.add_parser("tts", help="speech: WER, DistillMOS / DNSMOS SIG, voice consistency, voice-face suitability")
    t.add_argument("--tts-weights", default=None, help="TTS checkpoint (default: bundled)")
    t.add_argument("--out", default="runs/eval/tts", help="output directory")
    t.add_argument("--sentences", type=int, default=30, help="held-out sentences for WER (round-robin over portraits)")
    t.add_argument("--portraits", type=int, default=18, help="held-out portraits (WER and voice-face suitability; default 18 = all)")
    t.add_argument("--frames", type=int, default=10, help="frames of one face video for the consistency check")
    t.add_argument("--videos", type=int, default=2, help="at most this many face videos for the consistency check")
    t.add_argument("--faces", default="corpus/faces", help="real-face corpus directory (manifest.json)")
    t.add_argument("--sentence-file", default="corpus/speech/sentences.jsonl", help="sentences.jsonl of the speech corpus")
    add_option_flags(t, "tts", _TTS_FLAGS)
    t.add_argument("--vocoder", default=None, metavar="NAME", help="fast | universal (default: the pipeline's)")
    t.add_argument("--no-wavs", action="store_true", help="do not keep the generated speech")
    t.add_argument("--no-quality", action="store_true", help="skip DistillMOS / DNSMOS (faster)")
    t.add_argument("--strict", action="store_true", help="exit 1 when a check fails")
    t.set_defaults(func=run_tts)
    _register_vocoder(kinds)
    _register_av(kinds)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


class _Choices(dict):
    """Subcommand table that also accepts an existing file (the manifest shorthand)."""

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or (isinstance(key, str) and Path(key).is_file())


class _ManifestShorthand(argparse._SubParsersAction):
    """``facespeak eval FILE ...`` = ``facespeak eval run FILE ...`` (a subcommand name wins
    over a file of the same name)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._name_parser_map = self.choices = _Choices()

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if values and not dict.__contains__(self._name_parser_map, values[0]):
            values = ["run", *values]
        super().__call__(parser, namespace, values, option_string)


def _av_options(q: argparse.ArgumentParser) -> None:
    q.add_argument("--out", default=None, help="output directory (default runs/eval/<kind>)")
    q.add_argument("--tts-weights", default=None, help="TTS checkpoint (default: bundled)")
    add_option_flags(q, "say", _AV_FLAGS)
    q.add_argument("--id-frames", type=int, default=16, help="frames per video for ID-SIM (dlib)")
    q.add_argument("--fid-frames", type=int, default=16, help="frames per video for FID")
    q.add_argument("--feature-frames", type=int, default=24, help="frames per video for the f / f_id map")
    q.add_argument("--max-lag", type=int, default=5, help="lip proxy: largest lag searched, video frames")
    q.add_argument("--no-wer", action="store_true", help="skip Whisper (faster)")
    q.add_argument("--no-phoneme-timings", action="store_true", help="skip the p/b/m closure score")


def _register_av(kinds: argparse._SubParsersAction) -> None:
    r = kinds.add_parser("run", help="score talking-face videos of a manifest (portrait, text, references)")
    r.add_argument("manifest", help="JSON lines or CSV: portrait, text[, id, person, video, reference_video, reference_audio]")
    _av_options(r)
    r.set_defaults(func=run_manifest, eval_kind="run")
    q = kinds.add_parser("protocol", help="paper protocol on an LRS2/LRS3/VoxCeleb2 test folder, with a cascade baseline")
    q.add_argument("root", help="test folder: <root>/<spk>/<clip>.mp4 + .txt (LRS) or <root>/[mp4/]<id>/<video>/<clip>.mp4 (VoxCeleb2)")
    q.add_argument("--layout", default="auto", choices=("auto", "lrs", "vox"))
    q.add_argument("--max-clips", type=int, default=None, help="only the first N clips (sorted)")
    _av_options(q)
    q.set_defaults(func=run_protocol, eval_kind="protocol")


def _av_config(args: argparse.Namespace):
    # lazy: loads cv2 and scipy
    from ..eval.av_scoring import AVEvalConfig

    for name in ("id_frames", "fid_frames", "feature_frames"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')}: expected a positive count, got {getattr(args, name)}")
    if args.max_lag < 0:
        raise InputError(f"--max-lag: expected >= 0 frames, got {args.max_lag}")
    return AVEvalConfig(seed=args.seed, steps=args.steps, temperature=args.temperature, size=args.size, still=args.still,
                        tts_weights=args.tts_weights, lip=LipSyncConfig(max_lag=args.max_lag), id_frames=args.id_frames,
                        fid_frames=args.fid_frames, feature_frames=args.feature_frames, wer=not args.no_wer,
                        phoneme_timings=not args.no_phoneme_timings)


def _print_rows(title: str, columns: list[tuple[str, str]], rows: list[dict]) -> None:
    cols = [(k, h) for k, h in columns if any(k in r for r in rows)]
    print(f"## {title}")
    print("| " + " | ".join(h for _, h in cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(format_cell(r.get(k)) for k, _ in cols) + " |")


def run_manifest(args: argparse.Namespace) -> int:
    # lazy: loads cv2 and scipy
    from ..eval.manifest import run_manifest_eval

    _fill_options(args, "say", ("seed", "steps", "size", "still"))
    out = check_output_dir(args.out or "runs/eval/manifest")
    command = " ".join(shlex.quote(a) for a in ["facespeak", "eval", "run", args.manifest, *_av_argv(args, out)])
    results = run_manifest_eval(args.manifest, out, _av_config(args), command=command)
    _print_rows("per video", list(ROW_COLUMNS), results["rows"])
    print(f"FID: {results['fid']}")
    print(f"results: {out / 'results.json'}\nreport: {out / 'report.html'}")
    return 0


def run_protocol(args: argparse.Namespace) -> int:
    # lazy: loads cv2 and scipy
    from ..eval.protocol import TABLE1, TABLE3, run_protocol as run

    _fill_options(args, "say", ("seed", "steps", "size", "still"))
    out = check_output_dir(args.out or "runs/eval/protocol")
    extra = ["--layout", args.layout] + (["--max-clips", str(args.max_clips)] if args.max_clips else [])
    command = " ".join(shlex.quote(a) for a in ["facespeak", "eval", "protocol", args.root, *extra, *_av_argv(args, out)])
    results = run(args.root, out, _av_config(args), layout=args.layout, max_clips=args.max_clips, command=command)
    _print_rows("Table 1: talking face", TABLE1, results["table1"])
    _print_rows("Table 3: speech", TABLE3, results["table3"])
    if results["skipped"]:
        print(f"skipped {len(results['skipped'])} clips (see results.json)")
    print(f"results: {out / 'results.json'}\nreport: {out / 'report.html'}")
    return 0


def _av_argv(args: argparse.Namespace, out: Path) -> list[str]:
    """Every option explicit, for the record."""
    parts = ["--out", str(out), "--size", args.size, "--seed", str(args.seed), "--steps", str(args.steps),
             *(["--temperature", str(args.temperature)] if args.temperature is not None else []), "--id-frames",
             str(args.id_frames), "--fid-frames",
             str(args.fid_frames), "--feature-frames", str(args.feature_frames), "--max-lag", str(args.max_lag)]
    parts += ["--tts-weights", args.tts_weights] if args.tts_weights else []
    for flag in ("still", "no_wer", "no_phoneme_timings"):
        parts += [f"--{flag.replace('_', '-')}"] if getattr(args, flag) else []
    return parts


def _speech_flags(args: argparse.Namespace) -> tuple[tuple[str, Any], ...]:
    return tuple((f"--{k.replace('_', '-')}", getattr(args, k, None))
                 for k in ("length_scale", "gender_guidance", "face_guidance", "formant_shift"))


def _command(args: argparse.Namespace) -> str:
    """The full equivalent command line (every option explicit), for the record."""
    parts = ["facespeak", "eval", "tts"]
    for flag, value in (("--tts-weights", args.tts_weights), ("--out", args.out), ("--sentences", args.sentences),
                        ("--portraits", args.portraits), ("--frames", args.frames), ("--videos", args.videos),
                        ("--faces", args.faces), ("--sentence-file", args.sentence_file), ("--seed", args.seed),
                        ("--steps", args.steps), ("--temperature", args.temperature),
                        ("--vocoder", getattr(args, "vocoder", None))) + _speech_flags(args):
        if value is not None:
            parts += [flag, str(value)]
    parts += ["--no-wavs"] if args.no_wavs else []
    parts += ["--no-quality"] if args.no_quality else []
    return " ".join(shlex.quote(p) for p in parts)


def run_tts(args: argparse.Namespace) -> int:
    _fill_options(args, "tts", ("seed",))
    check_output_dir(args.out)

    for name in ("sentences", "portraits", "frames", "videos"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name}: expected a positive count, got {getattr(args, name)}")
    if args.frames < 2:
        raise InputError(f"--frames: expected at least 2 (a pairwise similarity), got {args.frames}")
    cfg = TTSEvalConfig(tts_weights=args.tts_weights, faces_dir=args.faces, sentences_path=args.sentence_file,
                        n_sentences=args.sentences, n_portraits=args.portraits, n_frames=args.frames,
                        max_videos=args.videos, seed=args.seed, save_wavs=not args.no_wavs, quality=not args.no_quality,
                        vocoder=args.vocoder,
                        speech={k: getattr(args, k) for k in ("steps", "temperature", "length_scale", "gender_guidance",
                                                              "face_guidance", "formant_shift")
                                if getattr(args, k) is not None})
    results = run_tts_eval(cfg, args.out, command=_command(args))
    print(summary_markdown(results))
    print(f"results: {Path(args.out) / 'results.json'}")
    failed = [k for k, c in results["checks"].items() if not c["pass"]]
    return 1 if failed and args.strict else 0


def _register_vocoder(kinds: argparse._SubParsersAction) -> None:
    d = VocoderEvalConfig()
    v = kinds.add_parser("vocoder", help="copy-synthesis of real LibriVox speech: DistillMOS, DNSMOS SIG, mel L1, RTF")
    v.add_argument("--vocoder", dest="vocoders", action="append", default=None, metavar="NAME|PATH",
                   help=f"a bundled vocoder ({', '.join(d.vocoders)}) or a checkpoint; repeat for several "
                        f"(default: all bundled)")
    v.add_argument("--out", default="runs/eval/vocoder", help="output directory")
    v.add_argument("--clips", type=int, default=None, help="only the first N LibriVox clips (default: all)")
    v.add_argument("--threads", type=int, default=d.threads, help="torch threads for vocoding and RTF")
    v.add_argument("--rtf-repeats", type=int, default=d.rtf_repeats, help="timed runs per clip (best counts)")
    v.add_argument("--wer", action="store_true", help="also transcribe with Whisper base (slower)")
    v.add_argument("--no-wavs", action="store_true", help="do not keep the resynthesised speech")
    v.set_defaults(func=run_vocoder)


def run_vocoder(args: argparse.Namespace) -> int:
    check_output_dir(args.out)

    for name in ("clips", "threads", "rtf_repeats"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')}: expected a positive count, got {value}")
    cfg = VocoderEvalConfig(max_clips=args.clips, threads=args.threads, rtf_repeats=args.rtf_repeats, wer=args.wer,
                            save_wavs=not args.no_wavs)
    if args.vocoders:
        cfg.vocoders = tuple(args.vocoders)
    parts = ["facespeak", "eval", "vocoder", *[x for v in cfg.vocoders for x in ("--vocoder", v)], "--out", args.out,
             "--threads", str(cfg.threads), "--rtf-repeats", str(cfg.rtf_repeats)]
    parts += (["--clips", str(cfg.max_clips)] if cfg.max_clips else []) + (["--wer"] if cfg.wer else [])
    parts += ["--no-wavs"] if args.no_wavs else []
    results = run_vocoder_eval(cfg, args.out, command=" ".join(shlex.quote(p) for p in parts))
    print(vocoder_table_markdown(results))
    print(f"results: {Path(args.out) / 'results.json'}")
    return 0

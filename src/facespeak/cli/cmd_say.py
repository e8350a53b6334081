"""`facespeak say --image PORTRAIT --text TEXT --out video.mp4`: the face speaks in its own voice.

Everything about the input is checked before any network is loaded (text, image, the chosen
face, and whether that face can be animated: see ``face.analysis.check_animatable`` and
docs/face_analysis.md "Bad input"); a failure prints one ``error:`` line and leaves no file.
"""

from __future__ import annotations

import argparse

from .cmd_tts import add_speech_options, prepare_request, speech_seconds, write_captions
from .commands import COMMAND_HELP
from .run_progress import RunProgress, progress_wanted

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("say", help=COMMAND_HELP["say"])
    add_speech_options(p, "say")  # the speech and video options: facespeak.options
    p.add_argument("--out", required=True, help="output .mp4")
    p.add_argument("--allow-profile", action="store_true",
                   help="animate a face turned more than 45 deg from frontal anyway (expect artefacts)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # lazy: loads cv2, scipy and numba (about 1 s)
    from ..face.analysis import check_animatable
    from ..pipeline import FaceSpeak, say, speech_captions

    out, text, speech, video, portrait, _, captions = prepare_request(args, ".mp4", "say")
    check_animatable(portrait.face, portrait.face_index, portrait.name, allow_profile=args.allow_profile)
    size = "256" if video.tfg == "latent" else video.size
    with RunProgress("video", speech_seconds(text, speech), speech.steps, size, enabled=progress_wanted(args)) as bar:
        fs = FaceSpeak.from_bundled(args.tts_weights, vocoder=args.vocoder, bundle=args.bundle)
        res = say(fs, portrait, text, out, speech, video, on_progress=bar.update, keep_chunks=False)
        if captions is not None:
            write_captions(captions, speech_captions(fs, text, res.chunks, speech))
    print(f"wrote {res.path} ({res.duration_s:.2f} s, {res.n_frames} frames at {res.fps:g} fps, "
          f"face #{res.face_index} of {res.n_faces})" + (f"; captions {captions[0]}" if captions else ""))
    return 0

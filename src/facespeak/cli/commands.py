"""The subcommands of `facespeak`, in ``--help`` order, with their one-line help.

Kept apart from the command modules so that the overview (`facespeak`, `facespeak --help`, a
mistyped command) lists every command without importing any of them: several (eval, data,
train, bench, convert) need torch even to build their own parser, ~1.5 s on a cold start.
Each ``cli/cmd_<name>.py`` takes its help line from here.
"""

from __future__ import annotations

__all__ = ["COMMAND_HELP"]

COMMAND_HELP: dict[str, str] = {
    "say": "portrait + text -> talking-face video (H.264 + AAC mp4) with a voice that suits the face",
    "tts": "portrait + text -> speech in a voice that suits the face",
    "faces": "list the faces in a photo (index, size, pose, apparent gender/age)",
    "data": "build training corpora (speech, ...)",
    "train": "train a component (resumable; run under torchrun for DDP)",
    "eval": "measure quality: 'eval MANIFEST', 'eval run', 'eval protocol', 'eval tts', 'eval vocoder'",
    "bench": "speed and memory benchmarks",
    "serve": "web page + REST API (POST /api/faces, /api/tts, /api/say, /api/jobs)",
    "convert": "convert a third-party checkpoint (LIA) to a facespeak checkpoint",
}

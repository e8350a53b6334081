"""Real recorded English speech with transcripts, available offline.

The Debian package ``pocketsphinx-testdata`` ships five LibriVox clips (one male reader,
*Sense and Sensibility*, 16 kHz mono wav, 3-7 s each) with word transcripts. Used for
vocoder resynthesis checks and as a WER sanity reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from facespeak.core.errors import DependencyError

__all__ = ["LIBRIVOX_DIR", "SpeechClip", "librivox_clips"]

LIBRIVOX_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")

_LINE = re.compile(r"^<s>\s*(?P<text>.*?)\s*</s>\s*\((?P<id>[^)]+)\)\s*$")


@dataclass(frozen=True)
class SpeechClip:
    """A recorded clip and its lowercase transcript (reader's words, disfluencies included)."""

    path: Path
    transcript: str


def librivox_clips(directory: Path = LIBRIVOX_DIR) -> list[SpeechClip]:
    """The LibriVox clips of ``pocketsphinx-testdata``, in file-id order.

    Raises ``DependencyError`` if the Debian package is not installed.
    """
    listing = directory / "transcription"
    if not listing.is_file():
        raise DependencyError(
            f"real speech clips need the Debian package pocketsphinx-testdata ({listing} missing);"
            " apt-get install pocketsphinx-testdata"
        )
    clips = []
    for line in listing.read_text().splitlines():
        match = _LINE.match(line.strip())
        if match and (directory / f"{match['id']}.wav").is_file():
            clips.append(SpeechClip(directory / f"{match['id']}.wav", match["text"]))
    return clips

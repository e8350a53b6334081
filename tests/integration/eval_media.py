"""Offline talking-clip material for the evaluation tests: real face frames (skimage astronaut,
slightly moving) muxed with real recorded-voice speech (flite) into H.264/AAC mp4s."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import face_photos  # noqa: E402

from facespeak.audio.io import read_audio  # noqa: E402
from facespeak.video.writer import VideoConfig, write_video  # noqa: E402

HAVE_FLITE = shutil.which("flite") is not None


def flite_speech(text: str, voice: str = "slt") -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(out)], check=True, timeout=60)
        return read_audio(out)


def talking_clip(path: Path, text: str, flip: bool = False, voice: str = "slt") -> Path:
    """A real face (astronaut head, mirrored if ``flip``) nodding slightly while flite speaks ``text``."""
    wav, sr = flite_speech(text, voice)
    head = face_photos.head(0.75, flip=flip)
    n = int(np.ceil(len(wav) / sr * VideoConfig().fps))
    frames = []
    for t in range(n):
        m = np.float32([[1, 0, 3 * np.sin(t / 6)], [0, 1, 2 * np.sin(t / 9)]])
        frames.append(cv2.warpAffine(head, m, head.shape[1::-1], borderMode=cv2.BORDER_REPLICATE))
    return write_video(path, np.stack(frames), wav, sr, VideoConfig.tiny())


def lrs_dataset(root: Path, clips: list[tuple[str, str, str, bool]]) -> Path:
    """``clips``: (speaker, clip, text, flip) -> ``<root>/<speaker>/<clip>.mp4`` + ``.txt``."""
    for speaker, clip, text, flip in clips:
        d = root / speaker
        d.mkdir(parents=True, exist_ok=True)
        talking_clip(d / f"{clip}.mp4", text, flip)
        (d / f"{clip}.txt").write_text(f"Text:  {text.upper()}\nConf:  4\n\nWORD START END ASDSCORE\n")
    return root

"""Clip lists of the audio-visual datasets, read from their published folder layouts.

One small reader per layout; each returns :class:`ClipRecord` rows sorted by ``key``:

- ``lrs3`` (LRS3-TED, Afouras et al. 2018): ``ROOT/{pretrain,trainval,test}/<speaker>/<clip>.mp4``
  with ``<clip>.txt``: ``Text:  WORDS``, ``Conf:  N``, a blank line, then the word table
  ``WORD START END ASDSCORE`` (seconds from the clip start). The speaker folder is the TED
  talk id; split = the top folder.
- ``lrs2`` (LRS2-BBC): ``ROOT/{main,pretrain}/<video_id>/<clip>.mp4`` + ``.txt`` (``Text:``,
  ``Conf:``; pretrain clips add the word table) and the split lists ``ROOT/{pretrain,train,val,
  test}.txt`` with lines ``<video_id>/<clip>`` (test lines carry an extra field, e.g. ``NF``).
  Split = the list naming the clip, else the top folder. Speaker = the video id (LRS2 has no
  speaker labels; one programme is the closest stand-in).
- ``vox2`` (VoxCeleb2): ``ROOT/{dev,test}/mp4/<idXXXXX>/<youtube_id>/<clip>.mp4``; audio in the
  mp4 or in ``ROOT/<split>/aac/<idXXXXX>/<youtube_id>/<clip>.m4a``. No transcripts;
  speaker = ``idXXXXX``.
- ``folder``: any ``ROOT/**/*.mp4`` with an optional same-stem ``.txt`` (LRS-style ``Text:``
  line or plain text); speaker = the clip's parent folder (``ROOT`` itself: ``"root"``),
  split = ``"all"``.
- ``speech``: the project's speech corpus (``facespeak data build-speech``,
  docs/datasheet_speech.md): ``ROOT/manifest.jsonl`` rows (``speaker``, ``sentence_id``,
  ``text``, ``wav``, ``split``) and, from ``faces`` (a JSON file ``{speaker: [image, ...]}``,
  paths relative to that file, or the face corpus folder: :mod:`.speech_faces` pairs voices
  with persons as the face bank does), the portraits each voice is given; an utterance's portrait is
  picked among its speaker's by a stable hash of its key. The "video" is that still portrait
  (:data:`IMAGE_SUFFIXES`), as long as the speech. Speakers without a portrait are left out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...core.errors import InputError
from .speech_faces import paired_portraits

__all__ = ["ClipRecord", "WordTiming", "LAYOUTS", "IMAGE_SUFFIXES", "parse_lrs_transcript", "lrs3_clips",
           "lrs2_clips", "vox2_clips", "folder_clips", "speech_clips", "list_clips"]

#: a record whose ``video`` has one of these suffixes is a still portrait (the ``speech`` layout)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")

WordTiming = tuple[str, float, float]  # (word, start s, end s) from the clip start


@dataclass(frozen=True)
class ClipRecord:
    """One clip of a dataset. ``key``: unique and stable (``split/speaker/clip``, no dots);
    ``video``: the mp4; ``audio``: a separate audio file (VoxCeleb2's m4a) or None (the mp4's
    track); ``transcript``: None where the dataset has none; ``words``: word timings if given."""

    key: str
    video: Path
    speaker: str
    split: str
    transcript: str | None = None
    words: tuple[WordTiming, ...] = ()
    audio: Path | None = None


def parse_lrs_transcript(text: str) -> tuple[str, tuple[WordTiming, ...]]:
    """An LRS2/LRS3 ``.txt`` (or plain text) -> (transcript, word timings).

    The transcript is the ``Text:`` line (the whole text stripped when there is none); word
    timings are the rows ``WORD START END [ASDSCORE]`` after the ``WORD START END`` header."""
    lines = text.splitlines()
    transcript = next((ln[len("Text:"):].strip() for ln in lines if ln.startswith("Text:")), None)
    if transcript is None:
        return " ".join(text.split()), ()
    words: list[WordTiming] = []
    header = next((i for i, ln in enumerate(lines) if ln.split()[:3] == ["WORD", "START", "END"]), None)
    for ln in lines[header + 1:] if header is not None else []:
        parts = ln.split()
        if len(parts) < 3:
            continue
        try:
            words.append((parts[0], float(parts[1]), float(parts[2])))
        except ValueError:
            continue
    return transcript, tuple(words)


def _safe_key(*parts: str) -> str:
    return "/".join(p.replace(".", "_") for p in parts if p)


def _transcript(mp4: Path) -> tuple[str | None, tuple[WordTiming, ...]]:
    txt = mp4.with_suffix(".txt")
    if not txt.is_file():
        return None, ()
    return parse_lrs_transcript(txt.read_text(encoding="utf-8", errors="replace"))


def _need_dir(root: Path, layout: str, expected: str) -> None:
    if not root.is_dir():
        raise InputError(f"{layout}: expected a dataset folder ({expected}) at {root}, found nothing")


def _none_found(root: Path, layout: str, expected: str) -> InputError:
    return InputError(f"{layout}: expected clips laid out as {expected} under {root}, found none")


def lrs3_clips(root: str | Path) -> list[ClipRecord]:
    """LRS3 clips (layout in the module docstring)."""
    root, expected = Path(root), "{pretrain,trainval,test}/<speaker>/<clip>.mp4 + .txt"
    _need_dir(root, "lrs3", expected)
    out = []
    for split in ("pretrain", "trainval", "test"):
        for mp4 in sorted((root / split).glob("*/*.mp4")):
            text, words = _transcript(mp4)
            out.append(ClipRecord(_safe_key(split, mp4.parent.name, mp4.stem), mp4, mp4.parent.name, split,
                                  text, words))
    if not out:
        raise _none_found(root, "lrs3", expected)
    return sorted(out, key=lambda r: r.key)


def _lrs2_split_lists(root: Path) -> dict[str, str]:
    """``<video_id>/<clip>`` -> split name, from the split lists present in ``root``."""
    splits: dict[str, str] = {}
    for name in ("pretrain", "train", "val", "test"):
        path = root / f"{name}.txt"
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    splits[line.split()[0]] = name
    return splits


def lrs2_clips(root: str | Path) -> list[ClipRecord]:
    """LRS2 clips (layout in the module docstring)."""
    root, expected = Path(root), "{main,pretrain}/<video_id>/<clip>.mp4 + .txt"
    _need_dir(root, "lrs2", expected)
    lists = _lrs2_split_lists(root)
    out = []
    for folder in ("main", "pretrain"):
        for mp4 in sorted((root / folder).glob("*/*.mp4")):
            rel = f"{mp4.parent.name}/{mp4.stem}"
            split = lists.get(rel, folder) if folder == "main" else "pretrain"
            text, words = _transcript(mp4)
            out.append(ClipRecord(_safe_key(folder, mp4.parent.name, mp4.stem), mp4, mp4.parent.name, split,
                                  text, words))
    if not out:
        raise _none_found(root, "lrs2", expected)
    return sorted(out, key=lambda r: r.key)


def vox2_clips(root: str | Path) -> list[ClipRecord]:
    """VoxCeleb2 clips (layout in the module docstring)."""
    root, expected = Path(root), "{dev,test}/mp4/<idXXXXX>/<youtube_id>/<clip>.mp4"
    _need_dir(root, "vox2", expected)
    out = []
    for split in ("dev", "test"):
        for mp4 in sorted((root / split / "mp4").glob("*/*/*.mp4")):
            speaker, video = mp4.parent.parent.name, mp4.parent.name
            m4a = root / split / "aac" / speaker / video / f"{mp4.stem}.m4a"
            out.append(ClipRecord(_safe_key(split, speaker, video, mp4.stem), mp4, speaker, split,
                                  audio=m4a if m4a.is_file() else None))
    if not out:
        raise _none_found(root, "vox2", expected)
    return sorted(out, key=lambda r: r.key)


def folder_clips(root: str | Path) -> list[ClipRecord]:
    """Every ``*.mp4`` under ``root`` with its optional same-stem transcript."""
    root, expected = Path(root), "**/<clip>.mp4 (+ optional <clip>.txt)"
    _need_dir(root, "folder", expected)
    out = []
    for mp4 in sorted(root.rglob("*.mp4")):
        rel = mp4.relative_to(root)
        speaker = rel.parent.as_posix() if rel.parent != Path(".") else "root"
        text, words = _transcript(mp4)
        out.append(ClipRecord(_safe_key(*rel.parent.parts, mp4.stem), mp4, speaker, "all", text, words))
    if not out:
        raise _none_found(root, "folder", expected)
    return sorted(out, key=lambda r: r.key)


def _portraits(root: Path, faces: str | Path) -> dict[str, list[Path]]:
    path = Path(faces)
    if path.is_dir():
        return paired_portraits(root, path)
    if not path.is_file():
        raise InputError(f"speech: expected --faces, a JSON file {{speaker: [image, ...]}} or the face corpus "
                         f"folder, found nothing at {path}")
    table = json.loads(path.read_text(encoding="utf-8"))
    return {spk: [path.parent / p for p in ([images] if isinstance(images, str) else images)]
            for spk, images in table.items() if images}


def speech_clips(root: str | Path, faces: str | Path = "") -> list[ClipRecord]:
    """The speech corpus's utterances, each with a still portrait of its speaker (module docstring)."""
    root, expected = Path(root), "manifest.jsonl + wavs/ (facespeak data build-speech)"
    _need_dir(root, "speech", expected)
    if not (root / "manifest.jsonl").is_file():
        raise _none_found(root, "speech", expected)
    portraits = _portraits(root, faces)
    out = []
    for line in (root / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else None
        if row is None or row["speaker"] not in portraits:
            continue
        key = _safe_key(row["split"], row["speaker"], row["sentence_id"])
        images = portraits[row["speaker"]]
        image = images[int(hashlib.sha1(key.encode()).hexdigest(), 16) % len(images)]
        out.append(ClipRecord(key, image, row["speaker"], row["split"], row["text"], audio=root / row["wav"]))
    if not out:
        raise InputError(f"speech: expected utterances of speakers with a portrait in {faces} under {root}, "
                         f"found none (portraits for {sorted(portraits)})")
    return sorted(out, key=lambda r: r.key)


LAYOUTS: dict[str, Callable[..., list[ClipRecord]]] = {
    "lrs3": lrs3_clips, "lrs2": lrs2_clips, "vox2": vox2_clips, "folder": folder_clips, "speech": speech_clips}


def list_clips(layout: str, root: str | Path, faces: str | Path = "") -> list[ClipRecord]:
    """The clips of ``root`` read as ``layout`` (one of :data:`LAYOUTS`); ``faces``: the
    ``speech`` layout's portraits (module docstring)."""
    if layout not in LAYOUTS:
        raise InputError(f"dataset layout: expected one of {', '.join(LAYOUTS)}, got {layout!r}")
    return speech_clips(root, faces) if layout == "speech" else LAYOUTS[layout](root)

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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...core.errors import InputError

__all__ = ["ClipRecord", "WordTiming", "LAYOUTS", "parse_lrs_transcript", "lrs3_clips", "lrs2_clips",
           "vox2_clips", "folder_clips", "list_clips"]

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


LAYOUTS: dict[str, Callable[[str | Path], list[ClipRecord]]] = {
    "lrs3": lrs3_clips, "lrs2": lrs2_clips, "vox2": vox2_clips, "folder": folder_clips}


def list_clips(layout: str, root: str | Path) -> list[ClipRecord]:
    """The clips of ``root`` read as ``layout`` (one of :data:`LAYOUTS`)."""
    if layout not in LAYOUTS:
        raise InputError(f"dataset layout: expected one of {', '.join(LAYOUTS)}, got {layout!r}")
    return LAYOUTS[layout](root)

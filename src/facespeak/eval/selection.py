"""Which faces and sentences an evaluation uses: held-out portraits, video frames, sentences.

Everything here is deterministic (sorted ids, evenly spaced picks), so two runs on the same
corpus evaluate exactly the same items. The face records (:class:`FaceItem`,
:func:`manifest_items`, :func:`load_face`) live in :mod:`facespeak.data.face_items` and are
re-exported here. Faces come from the real-face manifest written by
:func:`facespeak.data.real_faces.build_real_faces`; sentences from the speech corpus'
``sentences.jsonl`` (held-out = any split other than ``'train'``).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facespeak.core.errors import InputError
from facespeak.data.face_items import FaceItem, load_face, manifest_items

__all__ = ["FaceItem", "Sentence", "manifest_items", "heldout_portraits", "split_portraits", "video_frame_sets",
           "heldout_sentences", "split_sentences", "load_face"]

log = logging.getLogger(__name__)

_STYLE_ORDER = ("photo", "bw", "painting", "drawing", "render")  # as facespeak.data.real_faces.STYLES


@dataclass(frozen=True)
class Sentence:
    sentence_id: str
    text: str
    split: str


def _frame_number(item: FaceItem) -> int:
    m = re.search(r"frame=(\d+)", item.source_path) or re.search(r"(\d+)\D*$", item.path.name)
    return int(m.group(1)) if m else 0


def _styles_first(items: list[FaceItem]) -> list[FaceItem]:
    """``items`` (one gender, sorted by person) round-robin over their styles (photo, bw,
    painting, drawing, render, then any other), so a small ``n`` still sees every style."""
    buckets: dict[str, list[FaceItem]] = {}
    for item in items:
        buckets.setdefault(item.style, []).append(item)
    styles = [s for s in _STYLE_ORDER if s in buckets] + sorted(s for s in buckets if s not in _STYLE_ORDER)
    return [buckets[s][k] for k in range(max(map(len, buckets.values()), default=0)) for s in styles
            if k < len(buckets[s])]


def heldout_portraits(manifest: dict[str, Any], root: str | Path, n: int) -> list[FaceItem]:
    """Up to ``n`` held-out persons, one face each (a photo if the person has one, else the
    middle video frame), alternating female/male labels so a small ``n`` stays balanced, and
    within each gender taking the styles in turn (photo, black-and-white, painting, drawing,
    render) so that the default ten include the paintings, black-and-white photos and renders."""
    return split_portraits(manifest, root, n, "heldout")


def split_portraits(manifest: dict[str, Any], root: str | Path, n: int, split: str = "heldout") -> list[FaceItem]:
    """:func:`heldout_portraits` for either side of the split: ``split`` ``"heldout"`` = every
    person not in training, ``"train"`` = the training persons (to tune on)."""
    if split not in ("heldout", "train"):
        raise InputError(f"split: expected 'heldout' or 'train', got {split!r}")
    by_person: dict[str, list[FaceItem]] = {}
    for item in manifest_items(manifest, root):
        if (item.split == "train") == (split == "train"):
            by_person.setdefault(item.person, []).append(item)
    chosen = []
    for person in sorted(by_person):
        items = by_person[person]
        photos = [i for i in items if i.kind == "photo"]
        frames = sorted((i for i in items if i.kind != "photo"), key=_frame_number)
        chosen.append(photos[0] if photos else frames[len(frames) // 2])
    groups = [_styles_first([c for c in chosen if c.gender == g]) for g in ("female", "male")]
    groups.append(_styles_first([c for c in chosen if c.gender not in ("female", "male")]))
    order = [g[k] for k in range(max(map(len, groups), default=0)) for g in groups if k < len(g)]
    if len(order) < n:
        log.warning("only %d %s persons in the manifest; %d requested", len(order), split, n)
    return order[:n]


def video_frame_sets(manifest: dict[str, Any], root: str | Path, n: int, max_videos: int = 2) -> list[list[FaceItem]]:
    """Frame sets of up to ``max_videos`` persons' face videos (each person's longest video with
    at least ``n`` frames; held-out persons first, then longer videos): ``n`` frames evenly
    spread over the video, so they show different expressions and poses."""
    videos: dict[tuple[str, str], list[FaceItem]] = {}
    for item in manifest_items(manifest, root):
        if item.kind == "frame":
            videos.setdefault((item.person, item.source_path.split("#")[0]), []).append(item)
    longest: dict[str, list[FaceItem]] = {}  # one video per person: its longest
    for (person, _), frames in sorted(videos.items()):
        if len(frames) >= n and len(frames) > len(longest.get(person, [])):
            longest[person] = sorted(frames, key=_frame_number)
    usable = sorted(longest.values(), key=lambda v: (v[0].split == "train", -len(v), v[0].person))
    picks = []
    for frames in usable[:max_videos]:
        idx = np.unique(np.linspace(0, len(frames) - 1, n).round().astype(int))
        picks.append([frames[i] for i in idx])
    if not picks:
        log.warning("no face video with >= %d frames in the manifest", n)
    return picks


def heldout_sentences(path: str | Path, n: int) -> list[Sentence]:
    """The first ``n`` held-out sentences (split != 'train') of a ``sentences.jsonl``, by id."""
    return split_sentences(path, n, "heldout")


def split_sentences(path: str | Path, n: int, split: str = "heldout", stride: int = 1) -> list[Sentence]:
    """:func:`heldout_sentences` for either side: ``split`` ``"train"`` = the training sentences
    (every ``stride``-th by id, so a few spread over the corpus), ``"heldout"`` = the others."""
    if split not in ("heldout", "train"):
        raise InputError(f"split: expected 'heldout' or 'train', got {split!r}")
    p = Path(path)
    if not p.is_file():
        raise InputError(f"expected a sentences.jsonl at {p} (build the speech corpus first), found nothing")
    rows = []
    for line in p.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if (row.get("split", "train") == "train") == (split == "train"):
                rows.append(Sentence(str(row["sentence_id"]), str(row["text"]), str(row.get("split", "train"))))
    rows.sort(key=lambda s: s.sentence_id)
    rows = rows[::max(1, int(stride))]
    if len(rows) < n:
        log.warning("only %d %s sentences in %s; %d requested", len(rows), split, p, n)
    return rows[:n]

"""What the renderer check scripts (tearing_check, body_motion_check, mouth_check) share: the
real photos of the faces corpus by person, and writing a contact sheet and a JSON of rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from facespeak.data.real_faces import load_manifest
from facespeak.eval.selection import FaceItem, manifest_items

FACES_DIR = "corpus/faces"


def photo_items(persons: Sequence[str], faces_dir: str = FACES_DIR) -> Iterator[FaceItem]:
    """The first photo (not video frame) of each person in ``persons``, in that order."""
    items = [i for i in manifest_items(load_manifest(faces_dir), faces_dir) if i.kind == "photo"]
    for person in persons:
        yield next(i for i in items if i.person == person)


def grid(tiles: list[np.ndarray], cols: int) -> np.ndarray:
    """Tiles in rows of ``cols`` (narrower tiles padded right, the last row filled with black)."""
    width = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, 0), (0, width - t.shape[1]), (0, 0))) for t in tiles]
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % cols)
    return np.concatenate([np.concatenate(tiles[i:i + cols], axis=1) for i in range(0, len(tiles), cols)])


def save_sheet(image: np.ndarray, path: str | Path, colours: int = 128) -> None:
    """An RGB contact sheet as a palette PNG (``colours`` colours keep committed images small)."""
    from PIL import Image

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).quantize(colours, dither=Image.Dither.NONE).save(path, optimize=True)


def save_rows(rows: list[dict], path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(rows, indent=1))

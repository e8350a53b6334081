"""The items of a real-face manifest as typed records, and the face each one means.

The manifest is the one :func:`facespeak.data.real_faces.build_real_faces` writes
(``manifest.json``: persons with gender and split, items with image path and face-box hint).
Evaluation picks its faces from these records (:mod:`facespeak.eval.selection`) and the
vocoder teacher set its training faces (:mod:`facespeak.data.vocoder_teacher`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FaceItem", "manifest_items", "load_face"]


@dataclass(frozen=True)
class FaceItem:
    """One face of the manifest: image ``path`` (absolute), and which face in it (``face_box``
    ``(x0, y0, x1, y1)`` px hint, or None = the largest)."""

    person: str
    path: Path
    face_box: tuple[float, float, float, float] | None
    gender: str | None  # the manifest's apparent-gender label (annotated by eye)
    split: str
    kind: str  # 'photo' | 'frame'
    source_path: str
    style: str = "photo"  # 'photo' | 'bw' | 'painting' | 'drawing' | 'render' (manifests before session 7: 'photo')
    child: bool = False  # the manifest's by-eye 'child' mark (manifests before session 12: none)

    def describe(self) -> dict[str, Any]:
        return {"person": self.person, "path": str(self.path), "face_box": self.face_box, "gender_label": self.gender,
                "split": self.split, "kind": self.kind, "style": self.style, "source_path": self.source_path}


def manifest_items(manifest: dict[str, Any], root: str | Path) -> list[FaceItem]:
    """Every item of a faces manifest (all splits) as a :class:`FaceItem`, in manifest order;
    ``root`` is the directory the manifest's paths are relative to."""
    root = Path(root)
    persons = manifest.get("persons", {})
    out = []
    for it in manifest.get("items", []):
        person = it["person"]
        box = tuple(float(v) for v in it["face_box"]) if it.get("face_box") else None
        out.append(FaceItem(person=person, path=(root / it["path"]).resolve(), face_box=box,
                            gender=persons.get(person, {}).get("gender"),
                            split=it.get("split") or persons.get(person, {}).get("split", "train"),
                            kind=it.get("kind", "photo"), source_path=str(it.get("source_path", it["path"])),
                            style=it.get("style", "photo"), child=bool(persons.get(person, {}).get("child", False))))
    return out


def load_face(item: FaceItem) -> Any:
    """Analyse the item's image and pick its face (the detection overlapping ``face_box``
    most, or the largest) -> :class:`facespeak.face.analysis.Portrait`."""
    # lazy: loads cv2, torch
    from facespeak.face.analysis import Portrait, analyse_faces, choose_face, face_nearest_box
    # lazy: loads torch
    from facespeak.face.image_io import load_image

    image = load_image(item.path)
    faces = analyse_faces(image)
    nearest = face_nearest_box(faces, item.face_box)
    face = choose_face(faces, None if nearest is None else faces.index(nearest), name=str(item.path))
    return Portrait(image, faces, face, faces.index(face), f"{item.person}:{item.path.name}")

"""Real-face manifest records (facespeak.data.face_items): every field read from the manifest,
with the documented defaults for older manifests."""

from __future__ import annotations

from pathlib import Path

from facespeak.data.face_items import FaceItem, manifest_items
from facespeak.eval import selection


def test_manifest_items_read_every_field_with_defaults(tmp_path):
    manifest = {
        "persons": {"ann": {"gender": "female", "split": "heldout"}, "bob": {"gender": "male", "split": "train"}},
        "items": [
            {"path": "images/ann.jpg", "person": "ann", "face_box": [1, 2, 30, 40], "kind": "photo",
             "style": "painting", "source_path": "pkg/ann.jpg"},
            {"path": "frames/bob_0003.png", "person": "bob", "kind": "frame", "split": "heldout"},
            {"path": "images/cid.jpg", "person": "cid"},
        ],
    }
    ann, bob, cid = manifest_items(manifest, tmp_path)
    assert ann == FaceItem("ann", (tmp_path / "images/ann.jpg").resolve(), (1.0, 2.0, 30.0, 40.0), "female",
                           "heldout", "photo", "pkg/ann.jpg", "painting")
    assert (bob.split, bob.kind, bob.face_box, bob.style) == ("heldout", "frame", None, "photo")  # item split wins
    assert (cid.gender, cid.split, cid.source_path) == (None, "train", "images/cid.jpg")  # unknown person
    assert ann.describe()["gender_label"] == "female" and Path(ann.describe()["path"]).is_absolute()


def test_evaluation_selection_uses_the_same_records():
    assert selection.FaceItem is FaceItem and selection.manifest_items is manifest_items

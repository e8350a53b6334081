"""Training-side selection for tuning (facespeak.eval.selection.split_portraits / split_sentences):
training persons and sentences only, never held-out ones; the held-out selection unchanged."""

import json

import pytest

from facespeak.core.errors import InputError
from facespeak.eval.selection import heldout_portraits, heldout_sentences, split_portraits, split_sentences


def _manifest():
    persons = {"f1": ("female", "heldout"), "m1": ("male", "heldout"), "tf1": ("female", "train"),
               "tf2": ("female", "train"), "tm1": ("male", "train")}
    items = [{"path": f"images/{p}.jpg", "person": p, "face_box": None, "kind": "photo", "split": s,
              "source_path": f"{p}.jpg"} for p, (_, s) in persons.items()]
    return {"format": 1, "persons": {p: {"gender": g, "split": s} for p, (g, s) in persons.items()}, "items": items}


def test_train_portraits_are_training_persons_only_and_balanced(tmp_path):
    train = split_portraits(_manifest(), tmp_path, 3, "train")
    assert [p.person for p in train] == ["tf1", "tm1", "tf2"]
    assert all(p.split == "train" for p in train)
    held = split_portraits(_manifest(), tmp_path, 10, "heldout")
    assert held == heldout_portraits(_manifest(), tmp_path, 10)
    assert {p.person for p in held} == {"f1", "m1"}
    with pytest.raises(InputError, match="split"):
        split_portraits(_manifest(), tmp_path, 3, "test")


def test_train_sentences_disjoint_from_heldout_and_strided(tmp_path):
    path = tmp_path / "sentences.jsonl"
    rows = [{"sentence_id": f"s{i:03d}", "text": f"Sentence {i}.", "split": "eval" if i % 3 == 0 else "train"}
            for i in range(12)]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    train = split_sentences(path, 4, "train")
    assert [s.sentence_id for s in train] == ["s001", "s002", "s004", "s005"]
    assert [s.sentence_id for s in split_sentences(path, 3, "train", stride=3)] == ["s001", "s005", "s010"]
    assert split_sentences(path, 3) == heldout_sentences(path, 3)
    assert not {s.sentence_id for s in split_sentences(path, 99, "train")} & {s.sentence_id for s in heldout_sentences(path, 99)}

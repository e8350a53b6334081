"""Manifest parsing and the `facespeak eval MANIFEST` shorthand (no models run)."""

from __future__ import annotations

import json

import pytest

from facespeak.cli.main import build_parser
from facespeak.core.errors import InputError
from facespeak.eval.manifest import read_manifest, summarise


@pytest.fixture()
def folder(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"x")
    (tmp_path / "ref.mp4").write_bytes(b"x")
    return tmp_path


def test_jsonl_and_csv_give_the_same_rows(folder):
    rows = [{"portrait": "img/a.png", "text": " Hello there. ", "reference_video": "ref.mp4", "seed": 3},
            {"id": "two", "portrait": str(folder / "img" / "a.png"), "text": "Bye.", "person": "alice"}]
    (folder / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    (folder / "m.csv").write_text("portrait,text,reference_video,seed,id,person\n"
                                  "img/a.png, Hello there. ,ref.mp4,3,,\n"
                                  f"{folder / 'img' / 'a.png'},Bye.,,,two,alice\n")
    for name in ("m.jsonl", "m.csv"):
        got = read_manifest(folder / name)
        assert [r.id for r in got] == ["row0", "two"]
        assert got[0].portrait == folder / "img" / "a.png" and got[0].text == "Hello there."
        assert got[0].reference_video == folder / "ref.mp4" and got[0].seed == 3 and got[0].video is None
        assert got[0].person == "a" and got[1].person == "alice" and got[1].seed is None


@pytest.mark.parametrize("row, message", [
    ({"portrait": "img/a.png"}, "non-empty 'portrait' and 'text'"),
    ({"portrait": "img/a.png", "text": "hi", "colour": "red"}, "unknown columns"),
    ({"portrait": "img/missing.png", "text": "hi"}, "portrait file not found"),
    ({"portrait": "img/a.png", "text": "hi", "video": "nope.mp4"}, "video file not found"),
])
def test_bad_rows_are_named(folder, row, message):
    (folder / "m.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(InputError, match=message):
        read_manifest(folder / "m.jsonl")


def test_empty_or_missing_manifest(folder):
    (folder / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="at least one row"):
        read_manifest(folder / "empty.jsonl")
    with pytest.raises(InputError, match="expected a manifest"):
        read_manifest(folder / "none.jsonl")


def test_eval_shorthand_dispatches_to_run(folder):
    (folder / "m.jsonl").write_text("{}\n")
    p = build_parser()
    a = p.parse_args(["eval", str(folder / "m.jsonl"), "--steps", "2"])
    assert a.eval_kind == "run" and a.manifest == str(folder / "m.jsonl") and a.steps == 2
    assert p.parse_args(["eval", "tts", "--steps", "3"]).func.__name__ == "run_tts"
    assert p.parse_args(["eval", "protocol", str(folder), "--max-clips", "1"]).func.__name__ == "run_protocol"
    with pytest.raises(SystemExit):
        p.parse_args(["eval", str(folder / "not-there.jsonl")])


def test_summarise_means_skip_missing_and_nan():
    rows = [{"wer": 0.5, "id_sim": float("nan"), "gender_agrees": True, "id": "a"},
            {"wer": 0.1, "id_sim": 0.8, "gender_agrees": False}, {"gender_agrees": None}]
    s = summarise(rows)
    assert s["wer"] == pytest.approx(0.3) and s["id_sim"] == pytest.approx(0.8)
    assert s["gender_agreement"] == 0.5 and s["rows"] == 3 and "id" not in s

"""Dataset layout readers (LRS3, LRS2, VoxCeleb2, folder, the speech corpus) on tiny fake trees,
transcript parsing, the job partition and the CLI's one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from facespeak.core.errors import InputError
from facespeak.data.shards import list_clips, parse_lrs_transcript, parse_part
from facespeak.data.shards.writer import in_part

LRS3_TXT = """Text:  AND THAT'S WHY WE DO IT
Conf:  3

WORD START END ASDSCORE
AND 0.13 0.25 4.6
THAT'S 0.25 0.49 5.1
WHY 0.49 0.70 6.0
WE 0.70 0.82 5.5
DO 0.82 0.95 4.9
IT 0.95 1.10 4.2
"""


def _touch(path: Path, text: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    if text is not None:
        path.with_suffix(".txt").write_text(text)


def test_lrs_transcript_with_word_table() -> None:
    text, words = parse_lrs_transcript(LRS3_TXT)
    assert text == "AND THAT'S WHY WE DO IT"
    assert len(words) == 6 and words[0] == ("AND", 0.13, 0.25) and words[-1] == ("IT", 0.95, 1.10)


def test_lrs2_main_transcript_and_plain_text() -> None:
    assert parse_lrs_transcript("Text:  SO WHAT HAPPENED\nConf:  5\n") == ("SO WHAT HAPPENED", ())
    assert parse_lrs_transcript("  just some\nwords  \n") == ("just some words", ())


def test_lrs3_tree(tmp_path) -> None:
    _touch(tmp_path / "trainval" / "0af00UcTOSc" / "50001.mp4", LRS3_TXT)
    _touch(tmp_path / "pretrain" / "0af00UcTOSc" / "00001.mp4", "Text:  LONG ONE\nConf:  2\n")
    _touch(tmp_path / "test" / "0Fi83BHQsMA" / "00002.mp4", "Text:  HELLO\n")
    _touch(tmp_path / "other" / "x" / "00001.mp4", "Text:  NOT A SPLIT\n")  # not an LRS3 split folder
    clips = list_clips("lrs3", tmp_path)
    assert [c.key for c in clips] == ["pretrain/0af00UcTOSc/00001", "test/0Fi83BHQsMA/00002",
                                      "trainval/0af00UcTOSc/50001"]
    assert [c.split for c in clips] == ["pretrain", "test", "trainval"]
    assert clips[2].speaker == "0af00UcTOSc" and clips[2].transcript == "AND THAT'S WHY WE DO IT"
    assert clips[2].words[2] == ("WHY", 0.49, 0.70) and clips[0].words == ()


def test_lrs2_tree_with_split_lists(tmp_path) -> None:
    for clip in ("5535415699068794046/00001", "5535415699068794046/00002", "6330311066473698535/00011"):
        _touch(tmp_path / "main" / f"{clip}.mp4", "Text:  SOME WORDS\nConf:  4\n")
    _touch(tmp_path / "pretrain" / "5535415699068794046" / "00001.mp4", "Text:  LONGER\nConf:  1\n\n"
           "WORD START END ASDSCORE\nLONGER 0.0 0.4 3.0\n")
    (tmp_path / "train.txt").write_text("5535415699068794046/00001\n")
    (tmp_path / "val.txt").write_text("5535415699068794046/00002\n")
    (tmp_path / "test.txt").write_text("6330311066473698535/00011 NF\n")  # test lines carry a field
    clips = {c.key: c for c in list_clips("lrs2", tmp_path)}
    assert {k: c.split for k, c in clips.items()} == {
        "main/5535415699068794046/00001": "train", "main/5535415699068794046/00002": "val",
        "main/6330311066473698535/00011": "test", "pretrain/5535415699068794046/00001": "pretrain"}
    assert clips["main/5535415699068794046/00001"].speaker == "5535415699068794046"
    assert clips["pretrain/5535415699068794046/00001"].words == (("LONGER", 0.0, 0.4),)


def test_vox2_tree_with_separate_audio(tmp_path) -> None:
    _touch(tmp_path / "dev" / "mp4" / "id00012" / "21Uxsk56VDQ" / "00001.mp4")
    _touch(tmp_path / "dev" / "aac" / "id00012" / "21Uxsk56VDQ" / "00001.m4a")
    _touch(tmp_path / "test" / "mp4" / "id00017" / "01dfn2spqyE" / "00003.mp4")
    clips = list_clips("vox2", tmp_path)
    assert [(c.key, c.speaker, c.split) for c in clips] == [
        ("dev/id00012/21Uxsk56VDQ/00001", "id00012", "dev"), ("test/id00017/01dfn2spqyE/00003", "id00017", "test")]
    assert clips[0].audio == tmp_path / "dev" / "aac" / "id00012" / "21Uxsk56VDQ" / "00001.m4a"
    assert clips[1].audio is None and clips[0].transcript is None


def test_folder_tree(tmp_path) -> None:
    _touch(tmp_path / "a.b.mp4", "hello there")  # a dot in the name must not reach the key
    _touch(tmp_path / "alice" / "talk" / "1.mp4")
    clips = list_clips("folder", tmp_path)
    assert [(c.key, c.speaker, c.transcript) for c in clips] == [("a_b", "root", "hello there"),
                                                                 ("alice/talk/1", "alice/talk", None)]


@pytest.mark.parametrize("layout", ["lrs3", "lrs2", "vox2", "folder"])
def test_missing_or_empty_roots_are_one_clear_error(tmp_path, layout) -> None:
    with pytest.raises(InputError, match=f"{layout}: expected a dataset folder"):
        list_clips(layout, tmp_path / "missing")
    with pytest.raises(InputError, match=f"{layout}: expected clips laid out as"):
        list_clips(layout, tmp_path)
    with pytest.raises(InputError, match="expected one of lrs3, lrs2, vox2, folder, speech"):
        list_clips("lrs4", tmp_path)


def test_speech_corpus_with_portraits(tmp_path) -> None:
    import json

    root = tmp_path / "speech"
    rows = [{"speaker": spk, "sentence_id": f"s{i:05d}", "text": f"Sentence {i}.", "wav": f"wavs/{spk}/s{i:05d}.wav",
             "split": split} for i, (spk, split) in enumerate([("v_a", "train"), ("v_a", "eval_sentence"),
                                                               ("v_b", "train"), ("v_c", "train")] * 3)]
    root.mkdir()
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    faces = tmp_path / "faces" / "faces.json"
    with pytest.raises(InputError, match="speech: expected --faces"):
        list_clips("speech", root, faces)
    faces.parent.mkdir()
    faces.write_text(json.dumps({"v_a": ["a1.png", "a2.png"], "v_b": "b.png"}))  # v_c: no portrait, left out
    clips = list_clips("speech", root, faces)
    assert [c.key for c in clips] == sorted(c.key for c in clips) and len(clips) == 9
    a = [c for c in clips if c.speaker == "v_a"]
    assert {c.video for c in a} == {faces.parent / "a1.png", faces.parent / "a2.png"}  # both portraits used
    assert clips == list_clips("speech", root, faces)  # the pick is a stable hash of the key
    c = next(c for c in clips if c.key == "eval_sentence/v_a/s00001")
    assert (c.split, c.transcript, c.audio) == ("eval_sentence", "Sentence 1.", root / "wavs/v_a/s00001.wav")
    faces.write_text(json.dumps({"v_z": ["z.png"]}))
    with pytest.raises(InputError, match="speech: expected utterances of speakers with a portrait"):
        list_clips("speech", root, faces)


def test_parts_cover_every_clip_once() -> None:
    keys = [f"trainval/spk{i % 7}/{i:05d}" for i in range(300)]
    owners = [[p for p in range(4) if in_part(k, p, 4)] for k in keys]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(o == [p] for o in owners) for p in range(4)]
    assert min(sizes) > 50  # a hash, not a range: every part gets a share
    assert parse_part("3/4") == (3, 4)
    for bad in ("4/4", "x/2", "1", "-1/2"):
        with pytest.raises(InputError, match="--shard"):
            parse_part(bad)


def test_cli_errors_are_one_line(tmp_path, capsys) -> None:
    from facespeak.cli.main import main

    assert main(["data", "prepare", "lrs3", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: lrs3: expected a dataset folder") and "\n" not in err
    assert main(["data", "prepare", "vox2", str(tmp_path), "--out", str(tmp_path / "o"), "--shard", "2/2"]) == 2
    assert "--shard" in capsys.readouterr().err
    assert main(["data", "prepare", "speech", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: --faces: expected it with the speech layout")

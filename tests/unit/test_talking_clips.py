"""Talking-clip data for the joint stage: layout, preparation (real mp4 + real face), windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from face_photos import head

from facespeak.core.errors import InputError
from facespeak.data.talking_clips import (TalkingClipDataset, TalkingClips, TalkingClipsConfig, collate_clips,
                                          find_clips, prepare_talking_clips, read_transcript)
from facespeak.video.writer import VideoConfig, write_video

SR = 16000


def write_clip(path, n_frames: int, text: str, fps: float = 25.0, seed: int = 0) -> None:
    """A real H.264+AAC clip: the astronaut's head drifting a few px, a tone burst as audio,
    and an LRS3-style transcript beside it."""
    rng = np.random.default_rng(seed)
    base = head(0.75)  # 192 px
    frames = [np.roll(base, (int(2 * np.sin(i / 3)), int(rng.integers(-2, 3))), axis=(0, 1)) for i in range(n_frames)]
    t = np.arange(int(n_frames / fps * SR)) / SR
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, np.stack(frames), audio, SR, VideoConfig.tiny())
    path.with_suffix(".txt").write_text(f"Text:  {text}\nConf:  3\n\nWORD START END ASDSCORE\n")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("talking")
    write_clip(root / "spk1" / "00001.mp4", 20, "Hello there.", seed=1)
    write_clip(root / "spk1" / "00002.mp4", 14, "A quiet day.", fps=20.0, seed=2)
    write_clip(root / "spk2" / "00001.mp4", 12, "Good morning.", seed=3)
    cfg = TalkingClipsConfig.tiny()
    cfg.root, cfg.cache = str(root), str(root / "prepared.safetensors")
    prepare_talking_clips(cfg, progress=False)
    return cfg, TalkingClips(cfg.cache)


def test_transcript_formats(tmp_path) -> None:
    (tmp_path / "a.txt").write_text("Text:  SOME WORDS HERE\nConf:  4\n")
    (tmp_path / "b.txt").write_text("  plain words\n")
    assert read_transcript(tmp_path / "a.txt") == "SOME WORDS HERE"
    assert read_transcript(tmp_path / "b.txt") == "plain words"


def test_missing_or_empty_layout_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(InputError, match="expected a directory"):
        find_clips(tmp_path / "nope")
    (tmp_path / "x.mp4").write_bytes(b"")  # no transcript beside it
    with pytest.raises(InputError, match=r"<clip>.txt"):
        find_clips(tmp_path)


def test_prepared_clip_shapes(prepared) -> None:
    from facespeak.text import TextConfig, TextFrontend

    cfg, clips = prepared
    assert len(clips) == 3 and clips.names == ["spk1/00001", "spk1/00002", "spk2/00001"]
    assert clips.texts[0] == "Hello there."
    assert clips.frames(0).shape == (20, 32, 32, 3) and clips.frames(0).dtype == np.uint8
    assert clips.n_frames(1) == round(14 / 20 * 25)  # 20 fps resampled to 25 fps
    dur = 20 / 25
    assert clips.mel(0).shape[0] == 16 and abs(clips.mel(0).shape[1] - dur * cfg.tts_mel.frame_rate) <= 2
    assert clips.sync_mel_frames(0).shape[0] == 80 and abs(clips.sync_mel_frames(0).shape[1] - dur * 100) <= 2
    assert clips.ids(0).tolist() == TextFrontend(TextConfig()).encode("Hello there.")
    # aligned crops of a real face: the face fills the crop, not a border colour
    assert clips.frames(0).std() > 20
    assert clips.split(0.1) == ([0, 1], [2])


def test_windows_are_deterministic_and_collate(prepared) -> None:
    cfg, clips = prepared
    ds = TalkingClipDataset(clips, [0, 1], window_frames=6, n_items=10, seed=3, sync_frames=5)
    a, b = ds[4], ds[4]
    assert torch.equal(a["frames"], b["frames"]) and a["mel_start"] == b["mel_start"]
    assert a["frames"].shape == (6, 3, 32, 32) and a["source"].shape == (3, 32, 32)
    assert ds.mel_window == round(6 * cfg.tts_mel.frame_rate / 25) and a["sync_mel"].shape == (80, 20)
    assert a["mel_start"] + ds.mel_window <= a["mel"].shape[1]
    batch = collate_clips([ds[i] for i in range(3)])
    assert batch["frames"].shape == (3, 6, 3, 32, 32) and batch["ids"].shape[0] == 3
    assert batch["mel"].shape[:2] == (3, 16) and batch["mel"].shape[2] == int(batch["mel_lengths"].max())
    assert int(batch["mel_window"]) == ds.mel_window
    with pytest.raises(InputError, match="at least 40 frames"):
        TalkingClipDataset(clips, [0, 1, 2], window_frames=40, n_items=4)


def test_mismatched_cache_is_refused(prepared) -> None:
    cfg, _ = prepared
    other = TalkingClipsConfig.tiny()
    other.root, other.cache, other.size = cfg.root, cfg.cache, 64
    with pytest.raises(InputError, match="32 px"):
        TalkingClips.load_or_prepare(other)


def _mini_corpora(tmp_path):
    """A face corpus (one train person, one held-out person) and a sentence list (train +
    held-out) in the layouts the builder reads."""
    import json

    from face_photos import astronaut, encode

    faces = tmp_path / "faces"
    (faces / "images").mkdir(parents=True)
    (faces / "images" / "a.png").write_bytes(encode(astronaut()))
    (faces / "images" / "h.png").write_bytes(encode(head(1.0, flip=True)))
    manifest = {"format": 1,
                "persons": {"alice": {"gender": "female", "split": "train"}, "held": {"gender": "female", "split": "heldout"}},
                "items": [{"path": "images/a.png", "person": "alice", "face_box": None, "kind": "photo", "split": "train"},
                          {"path": "images/h.png", "person": "held", "face_box": None, "kind": "photo", "split": "heldout"}]}
    (faces / "manifest.json").write_text(json.dumps(manifest))
    sentences = tmp_path / "sentences.jsonl"
    sentences.write_text("\n".join(json.dumps(r) for r in [
        {"sentence_id": "s1", "text": "She opened the door.", "split": "train"},
        {"sentence_id": "s2", "text": "This one is held out of training.", "split": "eval"}]) + "\n")
    return faces, sentences


def test_builder_writes_real_clips_from_train_data_only(tmp_path, capsys) -> None:
    import json

    from facespeak.cli.main import main
    from facespeak.video.reader import probe_video

    faces, sentences = _mini_corpora(tmp_path)
    out = tmp_path / "talking"
    args = ["data", "build-talking-clips", "--out", str(out), "--faces", str(faces), "--sentences", str(sentences)]
    assert main([*args, "--clips", "2"]) == 0
    assert "not real talking data" in capsys.readouterr().out
    pairs = find_clips(out)
    assert len(pairs) == 2 and {m.parent.name for m, _ in pairs} == {"alice"}  # never the held-out person
    assert {read_transcript(t) for _, t in pairs} == {"She opened the door."}  # never the held-out sentence
    mp4 = pairs[0][0]
    info = probe_video(mp4)
    assert (info.video_codec, info.audio_codec, info.fps, info.size) == ("h264", "aac", 25.0, (256, 256))
    assert info.audio_duration_s > 0.5 and abs(info.video_duration_s - info.audio_duration_s) < 0.1
    build = json.loads((out / "build.json").read_text())
    assert [c["sentence_id"] for c in build["clips"]] == ["s1", "s1"] and "not real talking data" in build["note"]
    assert main([*args[:-2], "--sentences", str(tmp_path / "missing.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: sentences: expected") and "\n" not in err

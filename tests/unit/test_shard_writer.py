"""Shard writing on a folder of short real H.264+AAC clips (a real face photo drifting, a tone):
sample contents, failures, resume after a lost shard, refusal of changed settings, job parts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_talking_clips import write_clip

from facespeak.core.errors import InputError
from facespeak.data.shards import ShardConfig, decode_sample, iter_shards, prepare_shards, read_failures
from facespeak.video.reader import probe_video


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    write_clip(root / "spk1" / "00001.mp4", 12, "Hello there.", seed=1)
    write_clip(root / "spk1" / "00002.mp4", 10, "A quiet day.", fps=20.0, seed=2)
    write_clip(root / "spk2" / "00001.mp4", 8, "Good morning.", seed=3)
    (root / "spk2" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    return root


def _cfg(root, out, **kw) -> ShardConfig:
    return ShardConfig(dataset="folder", root=str(root), out=str(out), size=64, clips_per_shard=2, **kw)


def test_samples_failures_and_idempotent_rerun(root, tmp_path) -> None:
    out = tmp_path / "shards"
    r = prepare_shards(_cfg(root, out), progress=False)
    assert (r["done_now"], r["failed_now"], r["n_clips"]) == (3, 1, 3)
    assert [s["n_clips"] for s in r["shards"]] == [2, 1] and r["speakers"] == {"spk1": 2, "spk2": 1}
    assert read_failures(out)["spk2/broken"]["reason"].startswith("cannot read")
    samples = {s["__key__"]: decode_sample(s) for s in iter_shards(out)}
    assert sorted(samples) == ["spk1/00001", "spk1/00002", "spk2/00001"]
    s = samples["spk1/00002"]
    t = s["frames"].shape[0]  # the source is at 25 fps (write_clip's encoder): one frame per frame
    assert t == probe_video(root / "spk1" / "00002.mp4").n_frames and s["meta"]["source_fps"] == 25.0
    assert s["frames"].shape[1:] == (64, 64, 3) and s["frames"].std() > 20
    assert s["sample_rate"] == 16000 and len(s["audio"]) == round(t / 25 * 16000) and np.abs(s["audio"]).max() > 0.1
    assert s["text"] == "A quiet day." and s["meta"]["phonemes"] and s["meta"]["speaker"] == "spk1"
    assert s["pose"].shape == (t, 3) and np.isfinite(s["pose"]).all() and (s["quality"] == 0).all()
    eyes = s["mesh"][:, [33, 263], :2]  # the mesh lands on the aligned crop's eye line
    assert s["mesh"].shape == (t, 478, 3) and np.all((eyes > 0) & (eyes < 64))
    index, mtimes = (out / "index.json").read_bytes(), {p: p.stat().st_mtime_ns for p in out.glob("*.tar")}
    again = prepare_shards(_cfg(root, out), progress=False)
    assert (again["done_now"], again["failed_now"], again["skipped"]) == (0, 0, 4)
    assert (out / "index.json").read_bytes() == index
    assert {p: p.stat().st_mtime_ns for p in out.glob("*.tar")} == mtimes


def test_lost_shard_is_redone_and_settings_are_kept(root, tmp_path) -> None:
    out = tmp_path / "shards"
    first = prepare_shards(_cfg(root, out, max_clips=3), progress=False)
    assert first["n_clips"] == 3 and first["failures"] == 0  # the first 3 sorted clips (not the broken one)
    (out / first["shards"][0]["name"]).unlink()  # lost, e.g. a copy that failed
    again = prepare_shards(_cfg(root, out, max_clips=3), progress=False)
    assert again["done_now"] == 2 and again["n_clips"] == 3  # only the lost shard's clips are redone
    assert [s["name"][-10:] for s in again["shards"]] == ["000001.tar", "000002.tar"]  # a new name
    grown = prepare_shards(_cfg(root, out), progress=False)  # all clips: only the 4th (broken) is new
    assert (grown["done_now"], grown["failed_now"], grown["skipped"], grown["n_clips"]) == (0, 1, 3, 3)
    with pytest.raises(InputError, match="use another --out"):
        prepare_shards(ShardConfig(dataset="folder", root=str(root), out=str(out), size=32), progress=False)
    with pytest.raises(InputError, match="use another --out"):  # another layout into the same folder
        prepare_shards(ShardConfig(dataset="lrs3", root=str(root), out=str(out), size=64), progress=False)


def test_job_parts_share_one_index(root, tmp_path) -> None:
    out = tmp_path / "shards"
    runs = [prepare_shards(_cfg(root, out, part=i, parts=2), progress=False) for i in range(2)]
    assert runs[0]["done_now"] + runs[1]["done_now"] == 3
    index = json.loads((out / "index.json").read_text())
    assert index["n_clips"] == 3 and index["parts"] == {"folder-0of2": True, "folder-1of2": True}
    keys = [s["__key__"] for s in iter_shards(out)]
    assert sorted(keys) == ["spk1/00001", "spk1/00002", "spk2/00001"]

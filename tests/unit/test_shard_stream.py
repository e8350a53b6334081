"""ShardStream on small fake shards (only a ``json`` member per sample): held-out speakers and
other splits are never yielded, ranks and DataLoader workers read disjoint parts that together
cover every kept clip once per epoch, the shuffle buffer is seeded per epoch, and a consumer
that would get nothing fails with a clear error instead of hanging."""

from __future__ import annotations

import json
from collections import Counter
from itertools import islice
from pathlib import Path

import pytest
from torch.utils.data import DataLoader

from facespeak.core.errors import InputError
from facespeak.data.shards.streaming import ShardStream, ShardStreamConfig, shard_table, shuffled

SPEAKERS = ["s0", "s1", "s2", "s3"]


def _write_shards(out: Path, n_shards: int, per_shard: int, speaker_of=None, split_of=None) -> list[dict]:
    """Shards ``t-0of1-%06d.tar`` with ``per_shard`` clips each, ``parts/t-0of1.json`` and ``index.json``."""
    import webdataset as wds

    out.mkdir(parents=True, exist_ok=True)
    speaker_of = speaker_of or (lambda k: SPEAKERS[k % len(SPEAKERS)])
    split_of = split_of or (lambda k: "test" if k % 7 == 3 else "trainval")
    clips, states = [], []
    for s in range(n_shards):
        name = f"t-0of1-{s:06d}.tar"
        rows = []
        with wds.TarWriter(str(out / name)) as w:
            for j in range(per_shard):
                k = s * per_shard + j
                meta = {"key": f"c{k:03d}", "speaker": speaker_of(k), "split": split_of(k)}
                w.write({"__key__": meta["key"], "json": json.dumps(meta).encode()})
                rows.append(meta)
        clips += rows
        states.append({"name": name, "clips": [r["key"] for r in rows], "seconds": 1.0,
                       "speakers": dict(Counter(r["speaker"] for r in rows)),
                       "splits": dict(Counter(r["split"] for r in rows))})
    (out / "parts").mkdir(exist_ok=True)
    (out / "parts" / "t-0of1.json").write_text(json.dumps({"shards": states, "complete": True}))
    index = {"shards": [{"name": s["name"], "n_clips": per_shard, "seconds": 1.0} for s in states]}
    (out / "index.json").write_text(json.dumps(index))
    return clips


def _raw_meta(raw: dict) -> dict:
    return json.loads(raw["json"])


def _key(meta: dict) -> list[str]:
    return [meta["key"]]


def _stream(cfg: ShardStreamConfig, rank: int = 0, world: int = 1, seed: int = 0) -> ShardStream:
    return ShardStream(cfg, _key, seed=seed, rank=rank, world_size=world, decode=_raw_meta)


def _kept(clips: list[dict], held: set[str]) -> set[str]:
    return {c["key"] for c in clips if c["split"] == "trainval" and c["speaker"] not in held}


@pytest.mark.parametrize("n_shards,per_shard", [(6, 4), (1, 9)])  # by shard; fewer shards than ranks: by sample
def test_ranks_split_the_kept_clips_and_never_see_held_out_speakers(tmp_path, n_shards, per_shard) -> None:
    clips = _write_shards(tmp_path, n_shards, per_shard)
    cfg = ShardStreamConfig(dir=str(tmp_path), heldout_speakers=["s2"], shuffle_buffer=5)
    kept = _kept(clips, {"s2"})
    held = {c["key"] for c in clips if c["speaker"] == "s2"}
    streams = [_stream(cfg, rank, 2) for rank in range(2)]
    for epoch in range(3):  # shards move between ranks every epoch; each epoch is split anew
        seen = [[_raw_meta(r)["key"] for r in s.raw_samples(epoch)] for s in streams]
        assert not set(seen[0]) & set(seen[1])  # disjoint ...
        assert sorted(seen[0] + seen[1]) == sorted(kept)  # ... and complete, once each
    for s in streams:  # what the loop consumes: shuffled, several epochs, never a held-out clip
        keys = list(islice(iter(s), 3 * len(kept)))
        assert set(keys) <= kept and not set(keys) & held
        assert keys == list(islice(iter(s), 3 * len(kept)))  # seeded: the same order every time


def test_extra_dirs_are_read_as_one_set(tmp_path) -> None:
    a = _write_shards(tmp_path / "a", 3, 4)
    b = _write_shards(tmp_path / "b", 2, 3, speaker_of=lambda k: "v0")
    cfg = ShardStreamConfig(dir=str(tmp_path / "a"), extra_dirs=[str(tmp_path / "b")], heldout_speakers=["s2"])
    assert [Path(p).parent.name for p in shard_table(cfg)] == ["a"] * 3 + ["b"] * 2
    kept_a, kept_b = _kept(a, {"s2"}), _kept(b, set())
    streams = [_stream(cfg, rank, 2) for rank in range(2)]
    seen = [[_raw_meta(r) for r in st.raw_samples(0)] for st in streams]
    both = seen[0] + seen[1]  # the two folders' clips (same keys in both: told apart by speaker)
    assert sorted(m["key"] for m in both if m["speaker"] == "v0") == sorted(kept_b)
    assert sorted(m["key"] for m in both if m["speaker"] != "v0") == sorted(kept_a)
    index = json.loads((tmp_path / "b" / "index.json").read_text())
    (tmp_path / "b" / "index.json").write_text(json.dumps({**index, "settings": {"fps": 30.0}}))
    with pytest.raises(InputError, match="expected one video rate"):
        shard_table(cfg)


def test_whole_held_out_or_other_split_shards_are_not_opened(tmp_path) -> None:
    _write_shards(tmp_path, 4, 3, speaker_of=lambda k: "s9" if k < 6 else SPEAKERS[k % 4],
                  split_of=lambda k: "trainval")
    cfg = ShardStreamConfig(dir=str(tmp_path), heldout_speakers=["s9"])
    assert [Path(p).name for p in shard_table(cfg)] == ["t-0of1-000002.tar", "t-0of1-000003.tar"]
    assert len(shard_table(ShardStreamConfig(dir=str(tmp_path)))) == 4
    with pytest.raises(InputError, match="found none in 4 shard"):
        shard_table(ShardStreamConfig(dir=str(tmp_path), splits=["test"]))


def test_shuffle_is_seeded_per_epoch_and_resume(tmp_path) -> None:
    clips = _write_shards(tmp_path, 3, 8, split_of=lambda k: "trainval")
    cfg = ShardStreamConfig(dir=str(tmp_path), shuffle_buffer=10)
    a = list(islice(iter(_stream(cfg, seed=1)), 48))
    assert a == list(islice(iter(_stream(cfg, seed=1)), 48))  # deterministic
    assert sorted(a[:24]) == sorted(a[24:]) == sorted(c["key"] for c in clips)  # each epoch: every clip once
    assert a[:24] != a[24:]  # a new order per epoch
    assert a != list(islice(iter(_stream(cfg, seed=2)), 48))
    resumed = _stream(cfg, seed=1)
    resumed.resume(7)
    assert list(islice(iter(resumed), 24)) != a[:24]
    ordered = list(islice(iter(_stream(ShardStreamConfig(dir=str(tmp_path), shuffle_buffer=1), seed=1)), 24))
    assert sorted(ordered) == sorted(a[:24]) and ordered[:8] == sorted(ordered[:8])  # buffer 1: shard order kept


def test_dataloader_workers_split_the_rank_share(tmp_path) -> None:
    clips = _write_shards(tmp_path, 8, 4, split_of=lambda k: "trainval")  # one s1 clip per shard
    cfg = ShardStreamConfig(dir=str(tmp_path), heldout_speakers=["s1"])
    kept = _kept(clips, {"s1"})
    for rank in range(2):
        loader = DataLoader(_stream(cfg, rank, 2), batch_size=None, num_workers=2)
        n = len(kept) // 2  # 8 shards / 4 consumers (2 ranks x 2 workers), 3 kept clips in each shard
        keys = list(islice(iter(loader), n))
        assert len(set(keys)) == n and set(keys) <= kept
        if rank == 0:
            first = set(keys)
    assert not first & set(keys)


def _nothing(meta: dict) -> list[str]:
    return []


def test_a_clip_listed_wrongly_in_parts_is_still_dropped(tmp_path) -> None:
    _write_shards(tmp_path, 2, 2, speaker_of=lambda k: "s0" if k < 2 else "s1", split_of=lambda k: "trainval")
    # shard 1 holds only s1, but parts/ lists it as s0-only: the sample-level check still drops it
    state = json.loads((tmp_path / "parts" / "t-0of1.json").read_text())
    state["shards"][1]["speakers"] = {"s0": 2}
    (tmp_path / "parts" / "t-0of1.json").write_text(json.dumps(state))
    cfg = ShardStreamConfig(dir=str(tmp_path), heldout_speakers=["s1"], shuffle_buffer=1)
    assert len(shard_table(cfg)) == 2
    for rank in range(2):  # the ranks take turns at the s0 shard, epoch by epoch
        assert set(islice(iter(_stream(cfg, rank, 2)), 12)) == {"c000", "c001"}


def test_a_consumer_without_usable_clips_fails_clearly(tmp_path) -> None:
    _write_shards(tmp_path, 2, 2, split_of=lambda k: "trainval")
    stream = ShardStream(ShardStreamConfig(dir=str(tmp_path)), _nothing, rank=0, world_size=1, decode=_raw_meta)
    with pytest.raises(InputError, match="no usable training items in 16 epochs"):
        next(iter(stream))


def test_shuffled_keeps_every_item() -> None:
    import random

    out = list(shuffled(range(50), 8, random.Random(0)))
    assert sorted(out) == list(range(50)) and out != list(range(50))
    assert list(shuffled(range(5), 1, random.Random(0))) == list(range(5))


@pytest.mark.parametrize("workers", [0, 2])
def test_replayed_resume_continues_with_the_uninterrupted_batches(tmp_path, workers) -> None:
    _write_shards(tmp_path, 5, 4)
    cfg = ShardStreamConfig(dir=str(tmp_path), shuffle_buffer=3, resume="replay")

    def batches(stream: ShardStream, n: int) -> list[list[str]]:
        loader = DataLoader(stream, batch_size=3, num_workers=workers, collate_fn=list)
        return list(islice(iter(loader), n))

    straight = batches(_stream(cfg, seed=4), 10)
    resumed = _stream(cfg, seed=4)
    resumed.position(accum=1, batch_size=3).seek(7)  # 7 batches were consumed before the stop
    assert batches(resumed, 3) == straight[7:10]
    reseeded = _stream(ShardStreamConfig(dir=str(tmp_path), shuffle_buffer=3), seed=4)
    reseeded.position(accum=1, batch_size=3).seek(7)
    assert batches(reseeded, 3) != straight[7:10]  # the default draws a new order instead
    with pytest.raises(InputError, match="shards.resume"):
        _stream(ShardStreamConfig(dir=str(tmp_path), resume="rewind"))

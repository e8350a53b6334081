"""Stream prepared shards into training: a torch ``IterableDataset`` with constant memory.

:class:`ShardStream` reads the shards of a ``facespeak data prepare`` folder with
``webdataset`` (one sample in memory at a time, plus the shuffle buffer) and yields what a
training task consumes, made by the task's ``to_items`` function from a decoded sample:

- shards: those of ``index.json``; a shard whose clips are all of other splits or of held-out
  speakers (``parts/*.json`` records each shard's speakers and splits) is not opened, and every
  sample is checked again against its own ``json`` member, so a held-out speaker's clip is
  never decoded, let alone yielded;
- split among consumers: consumer ``c`` of ``C = world_size * num_workers`` (DDP rank from
  ``torch.distributed`` when initialised, DataLoader worker from ``get_worker_info``) reads
  every ``C``-th shard of the epoch's seeded shard order; with fewer shards than consumers each
  consumer reads all of them and keeps every ``C``-th sample instead, so no rank starves;
- shuffled: a seeded buffer of ``shuffle_buffer`` raw samples (bytes, not decoded frames);
  the seed mixes ``seed``, the epoch, the consumer and the resume point;
- endless: epochs follow each other (the loop counts optimiser steps, not epochs).

A resumed run (:meth:`ShardStream.resume`) either restarts the stream with a seed that depends
on the batches already consumed (``resume: reseed``, the default: no work is repeated, but the
batches differ from the interrupted run's), or replays it (``resume: replay``): every consumer
runs its deterministic stream again and drops the items it had delivered before the interruption
(the DataLoader takes batches from its workers in turn, so that count follows from the batches
consumed), so the resumed run gets exactly the batches of an uninterrupted one, at the cost of
decoding and converting the dropped clips again.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch.utils.data import IterableDataset, get_worker_info

from ...core.errors import InputError
from .reader import decode_sample, shard_paths

__all__ = ["TRAIN_SPLITS", "ShardStreamConfig", "ShardStream", "StreamPosition", "shard_table", "clip_kept",
           "kept_samples", "rank_and_world", "shuffled"]

log = logging.getLogger(__name__)

#: the splits trained on by default (layouts.py): LRS3 pretrain/trainval, LRS2 pretrain/train,
#: VoxCeleb2 dev, a plain folder's "all"; never val or test (nor LRS2 clips in no split list)
TRAIN_SPLITS = ("pretrain", "trainval", "train", "dev", "all")


@dataclass
class ShardStreamConfig:
    """dir: a shard folder (``facespeak data prepare ... --out DIR``), "" = not used;
    extra_dirs: more shard folders read with ``dir`` as one set (e.g. the speech corpus's shards
    beside LRS3's; the same video rate); splits:
    the clip splits to read; heldout_speakers: speakers never read (evaluation speakers);
    shuffle_buffer: raw samples held for shuffling (1 = no shuffling); stats_clips: clips
    read (in index order) for dataset statistics a task needs up front."""

    dir: str = ""
    extra_dirs: list[str] = field(default_factory=list)
    splits: list[str] = field(default_factory=lambda: list(TRAIN_SPLITS))
    heldout_speakers: list[str] = field(default_factory=list)
    shuffle_buffer: int = 64
    stats_clips: int = 16
    resume: str = "reseed"  # reseed | replay (module docstring)

    @property
    def enabled(self) -> bool:
        return bool(self.dir)

    @property
    def roots(self) -> list[str]:
        """``dir`` and ``extra_dirs``."""
        return [self.dir, *self.extra_dirs] if self.dir else []


#: a consumer's epochs in a row without a usable item before the stream gives up
MAX_EMPTY_EPOCHS = 16


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of the initialised ``torch.distributed`` group, else (0, 1)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _shard_info(root: Path) -> dict[str, dict[str, Any]]:
    """shard name -> {"speakers": {...}, "splits": {...}} from ``parts/*.json`` (may be empty)."""
    info: dict[str, dict[str, Any]] = {}
    for path in sorted((root / "parts").glob("*.json")):
        for s in json.loads(path.read_text(encoding="utf-8")).get("shards", []):
            info[s["name"]] = s
    return info


def _check_same_fps(roots: list[str]) -> None:
    fps = {root: (json.loads((Path(root) / "index.json").read_text(encoding="utf-8")).get("settings") or {})
           .get("fps", 25.0) for root in roots}
    if len(set(fps.values())) > 1:
        raise InputError(f"shards.dir + shards.extra_dirs: expected one video rate, got {fps}")


def shard_table(cfg: ShardStreamConfig) -> list[str]:
    """The shard files of ``cfg.dir`` (and ``cfg.extra_dirs``) that may hold clips of
    ``cfg.splits`` by speakers not in ``cfg.heldout_speakers`` (index order, folder after
    folder). Raises :class:`InputError` when none is left."""
    held, splits = set(cfg.heldout_speakers), set(cfg.splits)
    keep, n_paths = [], 0
    for root in cfg.roots:
        paths = shard_paths(root)
        info, n_paths = _shard_info(Path(root)), n_paths + len(paths)
        for path in paths:
            s = info.get(Path(path).name)
            if s is not None and (not set(s["splits"]) & splits or not set(s["speakers"]) - held):
                continue
            keep.append(path)
    _check_same_fps(cfg.roots)
    if not keep:
        raise InputError(f"shards {', '.join(cfg.roots)}: expected clips of splits {sorted(splits)} by speakers "
                         f"other than {sorted(held)}, found none in {n_paths} shard(s)")
    return keep


def clip_kept(cfg: ShardStreamConfig, meta: dict[str, Any]) -> bool:
    """Whether a clip (its ``json`` member) is trained on: one of the splits, not held out."""
    return meta.get("split") in cfg.splits and meta.get("speaker") not in cfg.heldout_speakers


def kept_samples(cfg: ShardStreamConfig) -> Iterator[dict[str, Any]]:
    """The undecoded samples ``cfg`` trains on, in index order (one process, no shuffling):
    for statistics a task needs before training."""
    import webdataset as wds

    reader = wds.WebDataset(shard_table(cfg), shardshuffle=False, nodesplitter=None, workersplitter=None,
                            empty_check=False)
    return (s for s in reader if clip_kept(cfg, json.loads(s["json"])))


def shuffled(samples: Iterable[Any], size: int, rng: random.Random) -> Iterator[Any]:
    """Shuffle a stream through a buffer of ``size`` items: each new item replaces a random
    buffered one, which is yielded; the rest come out in random order at the end."""
    buf: list[Any] = []
    for s in samples:
        if len(buf) < size:
            buf.append(s)
            continue
        k = rng.randrange(size)
        buf[k], s = s, buf[k]
        yield s
    rng.shuffle(buf)
    yield from buf


class ShardStream(IterableDataset):
    """Endless stream of training items from shards (module docstring).

    ``to_items(decoded sample) -> iterable of items`` (none to skip a clip, several for window
    tasks) runs in the DataLoader worker; it must pickle when ``num_workers > 0``. ``decode``
    turns a raw sample into what ``to_items`` takes (default :func:`decode_sample`). ``rank`` /
    ``world_size`` default to the ``torch.distributed`` group at construction (the training
    loop builds datasets after initialising it)."""

    def __init__(self, cfg: ShardStreamConfig, to_items: Callable[[dict[str, Any]], Iterable[Any]], seed: int = 0,
                 rank: int | None = None, world_size: int | None = None,
                 decode: Callable[[dict[str, Any]], Any] = decode_sample) -> None:
        super().__init__()
        if cfg.shuffle_buffer < 1:
            raise InputError(f"shards.shuffle_buffer: expected >= 1, got {cfg.shuffle_buffer}")
        if cfg.resume not in ("reseed", "replay"):
            raise InputError(f"shards.resume: expected 'reseed' or 'replay', got {cfg.resume!r}")
        self.cfg, self.to_items, self.decode, self.seed = cfg, to_items, decode, seed
        self.shards = shard_table(cfg)
        found_rank, found_world = rank_and_world()
        self.rank = found_rank if rank is None else rank
        self.world_size = found_world if world_size is None else world_size
        self.resume_point = 0
        self.replay = (0, 0)  # (batches consumed before the resume, items per batch)
        log.info("shard stream: %d shard(s) of %s, rank %d/%d, buffer %d", len(self.shards), cfg.dir, self.rank,
                 self.world_size, cfg.shuffle_buffer)

    def resume(self, consumed_batches: int, batch_size: int = 1) -> None:
        """Position for a run resumed after ``consumed_batches`` batches of ``batch_size`` items:
        reseed or replay (``cfg.resume``, module docstring)."""
        if self.cfg.resume == "replay":
            self.replay = (int(consumed_batches), int(batch_size))
        else:
            self.resume_point = int(consumed_batches)

    def _delivered(self) -> int:
        """Items this consumer delivered before a replayed resume: the DataLoader takes batch
        ``k`` from worker ``k % num_workers`` (in order), so the worker in role ``w`` made
        ``len(range(w, consumed, num_workers))`` of the consumed batches."""
        consumed, batch_size = self.replay
        wid, workers = self._worker()
        return len(range(wid, consumed, workers)) * batch_size

    def keep(self, meta: dict[str, Any]) -> bool:
        return clip_kept(self.cfg, meta)

    def _worker(self) -> tuple[int, int]:
        """(worker role, DataLoader workers). After a replayed resume the loader asks worker 0
        first for what was the next batch of worker ``consumed % workers``: roles rotate."""
        info = get_worker_info()
        wid, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return (wid + self.replay[0]) % workers, workers

    def _consumer(self) -> tuple[int, int]:
        wid, workers = self._worker()
        return self.rank * workers + wid, self.world_size * workers

    def raw_samples(self, epoch: int) -> Iterator[dict[str, Any]]:
        """This consumer's undecoded samples of one epoch (kept clips only, before shuffling)."""
        import webdataset as wds

        slot, consumers = self._consumer()
        order = list(self.shards)
        random.Random(f"{self.seed}/{self.resume_point}/{epoch}").shuffle(order)
        by_shard = len(order) >= consumers
        mine = order[slot::consumers] if by_shard else order
        # our own split: webdataset's node/worker splitters would split a second time
        reader = wds.WebDataset(mine, shardshuffle=False, nodesplitter=None, workersplitter=None, empty_check=False)
        n = 0
        for sample in reader:
            if not self.keep(json.loads(sample["json"])):
                continue
            if by_shard or n % consumers == slot:
                yield sample
            n += 1

    def __iter__(self) -> Iterator[Any]:
        slot, _ = self._consumer()
        epoch, empty, skip = 0, 0, self._delivered()
        while True:
            rng = random.Random(f"{self.seed}/{self.resume_point}/{epoch}/{slot}")
            produced = 0
            for raw in shuffled(self.raw_samples(epoch), self.cfg.shuffle_buffer, rng):
                for item in self.to_items(self.decode(raw)):
                    produced += 1
                    if skip:  # replayed resume: delivered before the interruption
                        skip -= 1
                        continue
                    yield item
            # an epoch's shards may all be unusable for this consumer (shards move between
            # consumers every epoch); many empty epochs in a row mean the data is unusable
            empty = 0 if produced else empty + 1
            if empty:
                log.warning("shards %s: consumer %d got no usable items in epoch %d", self.cfg.dir, slot, epoch)
            if empty >= MAX_EMPTY_EPOCHS:
                raise InputError(f"shards {self.cfg.dir}: consumer {slot} got no usable training items in {empty} "
                                 "epochs in a row (too few clips for the ranks and workers, or none usable)")
            epoch += 1

    def position(self, accum: int, batch_size: int = 1) -> "StreamPosition":
        """The training loop's resume handle for this stream."""
        return StreamPosition(self, accum, batch_size)


class StreamPosition:
    """What the loop keeps of a stream's position: batches per optimiser step (``accum``) and
    items per batch; ``seek(consumed_batches)`` reseeds or replays the stream
    (:meth:`ShardStream.resume`)."""

    def __init__(self, stream: ShardStream, accum: int, batch_size: int = 1) -> None:
        self.stream, self.accum, self.batch_size = stream, accum, batch_size

    def seek(self, consumed_batches: int) -> None:
        self.stream.resume(consumed_batches, self.batch_size)

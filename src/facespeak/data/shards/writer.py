"""Prepare a dataset into WebDataset tar shards: partitioned, parallel, resumable, idempotent.

Output folder ``OUT``:

- ``<dataset>-<i>of<n>-<k:06d>.tar``: shards of job ``i`` of ``n`` (``--shard i/n``), written by
  ``webdataset.ShardWriter`` (``clips_per_shard`` samples each; sample format in
  :mod:`facespeak.data.shards.prepare`) through :class:`facespeak.core.output_files.AtomicOutput`:
  a shard appears under its name only once complete;
- ``parts/<dataset>-<i>of<n>.json``: job ``i``'s state (settings, and the clip keys of each
  completed shard), rewritten atomically after every shard;
- ``failures.jsonl``: one line per clip that could not be used (``key``, ``source``, ``reason``);
- ``index.json``: every part's shards merged (see :func:`build_index`).

Clips are the layout's sorted list (``max_clips``: its first N), split among jobs by a stable
hash of the key (:func:`in_part`). A rerun skips the clips of completed shards and the failed
clips, so it does no work twice and, when nothing is left, rewrites the same index. An
interrupted shard is redone. ``workers`` processes prepare clips; the main process writes them
in order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from ...core.errors import DependencyError, FacespeakError, InputError
from ...core.output_files import AtomicOutput
from .layouts import ClipRecord, list_clips
from .prepare import ShardConfig, encode_sample, prepare_clip
from ...text import TextConfig, TextFrontend

__all__ = ["in_part", "parse_part", "select_clips", "prepare_shards", "build_index", "read_failures"]

log = logging.getLogger(__name__)
FORMAT = 1


def in_part(key: str, part: int, parts: int) -> bool:
    """Whether clip ``key`` belongs to job ``part`` of ``parts`` (SHA-1 of the key, mod ``parts``)."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:12], 16) % parts == part


def parse_part(text: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise InputError(f"--shard: expected i/n with whole numbers (e.g. 0/4), got {text!r}") from None
    if not 0 <= i < n:
        raise InputError(f"--shard: expected 0 <= i < n, got {text!r}")
    return i, n


def select_clips(cfg: ShardConfig) -> list[ClipRecord]:
    """This job's clips: the layout's sorted list, cut to ``max_clips``, filtered by :func:`in_part`."""
    clips = list_clips(cfg.dataset, cfg.root, cfg.faces)
    if cfg.max_clips > 0:
        clips = clips[:cfg.max_clips]
    return [c for c in clips if in_part(c.key, cfg.part, cfg.parts)]


# --------------------------------------------------------------------------- state on disk


def _part_name(cfg: ShardConfig) -> str:
    return f"{cfg.dataset}-{cfg.part}of{cfg.parts}"


def _write_json(path: Path, obj: Any) -> None:
    with AtomicOutput(path) as out:
        assert out.file is not None
        out.file.write((json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def _load_state(cfg: ShardConfig, out: Path) -> dict[str, Any]:
    """This job's state; shards whose tar has gone are dropped (their clips are redone)."""
    for other in sorted((out / "parts").glob("*.json")):  # every job of one --out shares the settings
        settings = json.loads(other.read_text(encoding="utf-8")).get("settings")
        if settings != cfg.output_settings():
            raise InputError(f"{out}: shards there were prepared with {settings}, this run asks for "
                             f"{cfg.output_settings()}; use another --out")
    path = out / "parts" / f"{_part_name(cfg)}.json"
    if not path.is_file():
        return {"format": FORMAT, "settings": cfg.output_settings(), "part": cfg.part, "parts": cfg.parts,
                "shards": [], "complete": False}
    state = json.loads(path.read_text(encoding="utf-8"))
    state["shards"] = [s for s in state["shards"] if (out / s["name"]).is_file()]
    return state


def read_failures(out: str | Path) -> dict[str, dict[str, Any]]:
    """``key -> {"key", "source", "reason"}`` from ``out/failures.jsonl`` (last line per key wins)."""
    path = Path(out) / "failures.jsonl"
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {r["key"]: r for r in rows}


def _log_failure(out: Path, rec: ClipRecord, reason: str) -> None:
    """Append one line (a single small write with O_APPEND: safe beside other jobs)."""
    log.warning("skipping %s: %s", rec.video, reason)
    line = json.dumps({"key": rec.key, "source": str(rec.video), "reason": reason}, ensure_ascii=False) + "\n"
    with open(out / "failures.jsonl", "a", encoding="utf-8") as f:
        f.write(line)


def build_index(out: str | Path) -> dict[str, Any]:
    """Merge every ``parts/*.json`` of ``out`` into ``out/index.json`` and return it:
    ``shards`` (name, clips, seconds), ``n_clips``, ``hours``, ``speakers`` / ``splits`` (clips
    each), ``failures`` (count; reasons in ``failures.jsonl``), ``parts`` (complete or not)."""
    out = Path(out)
    shards, speakers, splits, parts, settings = [], Counter(), Counter(), {}, None
    for path in sorted((out / "parts").glob("*.json")):
        state = json.loads(path.read_text(encoding="utf-8"))
        settings = state["settings"]
        parts[path.stem] = bool(state.get("complete"))
        for s in state["shards"]:
            shards.append({"name": s["name"], "n_clips": len(s["clips"]), "seconds": s["seconds"]})
            speakers.update(s["speakers"])
            splits.update(s["splits"])
    index = {"format": FORMAT, "settings": settings, "shards": shards, "n_clips": sum(s["n_clips"] for s in shards),
             "hours": round(sum(s["seconds"] for s in shards) / 3600, 6), "speakers": dict(sorted(speakers.items())),
             "splits": dict(sorted(splits.items())), "failures": len(read_failures(out)), "parts": parts}
    _write_json(out / "index.json", index)
    return index


# --------------------------------------------------------------------------- workers

_FRONT: Any = None


def _init_worker() -> None:
    global _FRONT
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    _FRONT = TextFrontend(TextConfig())


def _work(job: tuple[ClipRecord, ShardConfig]) -> tuple[ClipRecord, dict[str, Any] | None, dict[str, Any] | str]:
    """(record, sample or None, summary or failure reason). Any error of one clip is that
    clip's failure: a damaged file must not stop a day-long job."""
    rec, cfg = job
    try:
        clip = prepare_clip(rec, cfg, _FRONT)
        summary = {"seconds": clip["meta"]["duration_s"], "speaker": rec.speaker, "split": rec.split}
        return rec, encode_sample(clip, cfg), summary
    except FacespeakError as e:
        return rec, None, str(e)
    except Exception as e:  # noqa: BLE001 - decoders and trackers raise their own types
        return rec, None, f"{type(e).__name__}: {e}"


def _results(todo: list[ClipRecord], cfg: ShardConfig) -> Iterator[tuple[ClipRecord, Any, Any]]:
    jobs = [(rec, cfg) for rec in todo]
    if cfg.workers <= 1 or len(todo) <= 1:
        _init_worker()
        yield from map(_work, jobs)
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a parent's threads or MediaPipe graphs
    with ctx.Pool(min(cfg.workers, len(todo)), initializer=_init_worker) as pool:
        yield from pool.imap(_work, jobs, chunksize=1)


# --------------------------------------------------------------------------- writing


class _ShardSink:
    """``webdataset.ShardWriter`` writing through :class:`AtomicOutput`; records each completed
    shard (clip keys, speakers, splits, seconds) in ``state`` and saves it."""

    def __init__(self, cfg: ShardConfig, out: Path, state: dict[str, Any]) -> None:
        self.cfg, self.out, self.state = cfg, out, state
        self.state_path = out / "parts" / f"{_part_name(cfg)}.json"
        self.pending: list[tuple[str, dict[str, Any]]] = []
        self.atomic: AtomicOutput | None = None
        self.writer: Any = None

    def _open(self, fname: str) -> Any:
        self.atomic = AtomicOutput(fname)
        return self.atomic.file

    def _done(self, fname: str) -> None:
        assert self.atomic is not None
        self.atomic.commit()
        self.atomic = None
        rows = [s for _, s in self.pending]
        self.state["shards"].append({
            "name": Path(fname).name, "clips": [k for k, _ in self.pending],
            "speakers": dict(Counter(s["speaker"] for s in rows)), "splits": dict(Counter(s["split"] for s in rows)),
            "seconds": round(sum(s["seconds"] for s in rows), 4)})
        self.pending = []
        _write_json(self.state_path, self.state)

    def write(self, sample: dict[str, Any], summary: dict[str, Any]) -> None:
        if self.writer is None:
            import webdataset as wds

            numbers = [int(s["name"].rsplit("-", 1)[1].split(".")[0]) for s in self.state["shards"]]
            pattern = str(self.out / f"{_part_name(self.cfg)}-%06d.tar")
            self.writer = wds.ShardWriter(pattern, maxcount=self.cfg.clips_per_shard, post=self._done,
                                          start_shard=max(numbers, default=-1) + 1, verbose=0, opener=self._open)
        self.writer.write(sample)  # may complete the previous shard first (-> _done)
        self.pending.append((sample["__key__"], summary))

    def close(self, ok: bool) -> None:
        """Complete the open shard (``ok``) or throw it away (an error or interrupt)."""
        if self.writer is None:
            return
        if ok:
            self.writer.close()
        elif self.atomic is not None:
            self.atomic.discard()


def _check_config(cfg: ShardConfig) -> None:
    if cfg.size < 16 or cfg.fps <= 0 or cfg.sample_rate <= 0 or cfg.clips_per_shard < 1 or cfg.workers < 1:
        raise InputError(f"shards: expected size >= 16, fps > 0, sample_rate > 0, clips_per_shard >= 1 and "
                         f"workers >= 1, got {cfg.size}, {cfg.fps}, {cfg.sample_rate}, {cfg.clips_per_shard}, "
                         f"{cfg.workers}")
    if not 0 <= cfg.part < cfg.parts:
        raise InputError(f"--shard: expected 0 <= i < n, got {cfg.part}/{cfg.parts}")


def prepare_shards(cfg: ShardConfig, progress: bool = True) -> dict[str, Any]:
    """Prepare this job's clips of ``cfg.root`` into shards in ``cfg.out`` (module docstring).

    Returns the merged index plus this run's ``done_now`` / ``failed_now`` / ``skipped``
    (clips already in shards or already failed) counts."""
    from tqdm import tqdm

    try:
        import webdataset  # noqa: F401
    except ImportError as e:
        raise DependencyError(f"writing shards needs webdataset (pip install webdataset): {e}") from e
    _check_config(cfg)
    out = Path(cfg.out)
    state = _load_state(cfg, out)
    clips = select_clips(cfg)
    (out / "parts").mkdir(parents=True, exist_ok=True)
    done = {k for s in state["shards"] for k in s["clips"]} | set(read_failures(out))
    todo = [c for c in clips if c.key not in done]
    sink, counts, ok = _ShardSink(cfg, out, state), Counter(), False
    try:
        bar = tqdm(_results(todo, cfg), total=len(todo), desc=f"{_part_name(cfg)} clips", unit="clip",
                   disable=not progress, dynamic_ncols=True)
        for rec, sample, info in bar:
            if sample is None:
                _log_failure(out, rec, info)
                counts["failed_now"] += 1
            else:
                sink.write(sample, info)
                counts["done_now"] += 1
        ok = True
    finally:
        sink.close(ok)
    state["complete"] = True
    _write_json(sink.state_path, state)
    index = build_index(out)
    log.info("%s: %d clips prepared now, %d failed, %d skipped -> %s", _part_name(cfg), counts["done_now"],
             counts["failed_now"], len(clips) - len(todo), out)
    return {**index, "done_now": counts["done_now"], "failed_now": counts["failed_now"],
            "skipped": len(clips) - len(todo)}

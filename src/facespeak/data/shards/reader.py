"""Read prepared shards back with ``webdataset`` and decode a sample's members to arrays."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import InputError
from ...video.reader import read_video

__all__ = ["shard_paths", "iter_shards", "decode_sample", "decode_without_frames"]


def shard_paths(out: str | Path) -> list[str]:
    """The shard files listed in ``out/index.json``, in index order."""
    index = Path(out) / "index.json"
    if not index.is_file():
        raise InputError(f"shards: expected {index} (write it with 'facespeak data prepare'), found nothing")
    return [str(Path(out) / s["name"]) for s in json.loads(index.read_text(encoding="utf-8"))["shards"]]


def iter_shards(out: str | Path) -> Iterator[dict[str, Any]]:
    """Raw samples (``__key__`` + bytes per member) of every shard of ``out``, in order."""
    import webdataset as wds

    paths = shard_paths(out)
    if not paths:
        return iter(())
    return iter(wds.WebDataset(paths, shardshuffle=False, empty_check=False))


def _frames(data: bytes) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="facespeak-shard-") as tmp:
        path = Path(tmp) / "faces.mp4"
        path.write_bytes(data)
        return read_video(path).frames


def decode_sample(sample: dict[str, Any], frames: bool = True) -> dict[str, Any]:
    """A raw sample -> ``frames (T_video, S, S, 3) uint8``, ``audio (T_wav,) float32``,
    ``sample_rate``, ``text``, ``pose (T_video, 3)``, ``mesh (T_video, 478, 3) float32``,
    ``quality (T_video,) uint8`` and ``meta`` (the ``json`` member). ``frames=False`` skips the
    video (``frames`` None): for a stage that needs no pixels, the H.264 decoding is most of the
    time a sample takes."""
    import soundfile as sf

    audio, rate = sf.read(io.BytesIO(sample["wav"]), dtype="float32")
    video = _frames(sample["mp4"]) if frames else None
    return {"key": sample["__key__"], "frames": video, "audio": audio, "sample_rate": int(rate),
            "text": sample["txt"].decode("utf-8"), "pose": np.load(io.BytesIO(sample["pose.npy"])),
            "mesh": np.load(io.BytesIO(sample["mesh.npy"])).astype(np.float32),
            "quality": np.load(io.BytesIO(sample["quality.npy"])), "meta": json.loads(sample["json"])}


def decode_without_frames(sample: dict[str, Any]) -> dict[str, Any]:
    """:func:`decode_sample` without the video (a picklable ``ShardStream`` decoder)."""
    return decode_sample(sample, frames=False)

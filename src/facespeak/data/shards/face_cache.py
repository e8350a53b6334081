"""Face conditions of shard clips computed once, for TTS training from shards.

:class:`facespeak.data.shards.stage_items.TTSItems` needs each clip's face condition (the
identity encoder's ``f_id`` or ``f`` of one aligned crop, and the gender estimator's score):
face analysis + identity + gender cost about 1 s per clip on one CPU core, every time a clip is
streamed, while the condition never changes during TTS training (docs/training.md: at GPU speed
this, not the GPU, limits the TTS). :func:`build_face_cache` computes it once per clip into a
folder that ``TTSItems(face_cache=DIR)`` (config key ``data.face_cache``) reads instead:

    DIR/keys.json     {"keys": [clip key, ...], "cond": "f_id" | "f", "identity": checkpoint, "gender": bool}
    DIR/cond.npy      (N, D_id) float32, row i = keys[i] (memory-mapped by every reader)
    DIR/gender.npy    (N,) float32 gender scores (0 when not estimated)

Run: ``python -m facespeak.data.shards.face_cache SHARDS --out DIR [--cond f_id] [--gender]``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import InputError
from ...core.output_files import AtomicOutput
from ...core.timing import MelSpec
from .reader import decode_sample
from .stage_items import TTSItems, pick_frame
from .streaming import ShardStreamConfig, kept_samples

__all__ = ["build_face_cache", "FaceCache", "main"]

log = logging.getLogger(__name__)


def build_face_cache(cfg: ShardStreamConfig, out: str | Path, items: TTSItems, progress: bool = True) -> Path:
    """The face condition of every clip ``cfg`` trains on (one pass, one clip decoded at a time),
    computed as ``items`` computes it (same frame, encoder, condition and gender score) -> ``out``.
    Clips whose chosen crop has no face are left out (``TTSItems`` skips them too)."""
    from tqdm import tqdm

    keys, conds, genders = [], [], []
    for raw in tqdm(kept_samples(cfg), desc="face conditions", disable=not progress):
        sample = decode_sample(raw)
        face = items.face_condition(sample["frames"][pick_frame(sample["quality"])])
        if face is None:
            log.debug("no face in the chosen crop of %s", sample["key"])
            continue
        keys.append(sample["key"])
        conds.append(face[0])
        genders.append(face[1])
    if not keys:
        raise InputError(f"shards {cfg.dir}: expected clips with a face, found none")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, array in (("cond.npy", np.stack(conds).astype(np.float32)),
                        ("gender.npy", np.asarray(genders, np.float32))):
        with AtomicOutput(out / name) as f:
            np.save(f.file, array)
    meta = {"keys": keys, "cond": items.cond, "identity": items.identity, "gender": items.gender}
    with AtomicOutput(out / "keys.json") as f:  # last: a folder with keys.json is complete
        f.file.write(json.dumps(meta).encode("utf-8"))
    log.info("face conditions of %d clips -> %s", len(keys), out)
    return out


class FaceCache:
    """Reads a :func:`build_face_cache` folder: ``get(key) -> (cond (D_id,), gender score) | None``."""

    def __init__(self, path: str | Path, items: TTSItems) -> None:
        path = Path(path)
        if not (path / "keys.json").is_file():
            raise InputError(f"face cache: expected {path / 'keys.json'} (build it with "
                             "'python -m facespeak.data.shards.face_cache'), found nothing")
        meta = json.loads((path / "keys.json").read_text(encoding="utf-8"))
        want = {"cond": items.cond, "identity": items.identity, "gender": items.gender}
        have = {k: meta[k] for k in want}
        if have != want:
            raise InputError(f"face cache {path}: built for {have}, this TTS needs {want}; build another")
        self.rows = {k: i for i, k in enumerate(meta["keys"])}
        self.cond = np.load(path / "cond.npy", mmap_mode="r")
        self.gender = np.load(path / "gender.npy", mmap_mode="r")

    def get(self, key: str) -> tuple[np.ndarray, float] | None:
        i = self.rows.get(key)
        return None if i is None else (np.array(self.cond[i]), float(self.gender[i]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Compute the TTS face condition of every training clip of a shard folder.")
    p.add_argument("shards", help="a 'facespeak data prepare' output folder")
    p.add_argument("--out", required=True, help="the cache folder (data.face_cache of the TTS config)")
    p.add_argument("--cond", default="f_id", choices=["f_id", "f"])
    p.add_argument("--gender", action="store_true", help="also the gender score (TTS with model.gender_cond)")
    p.add_argument("--identity", default="", help="identity encoder checkpoint ('' = bundled)")
    p.add_argument("--heldout-speaker", action="append", default=[])
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = ShardStreamConfig(dir=args.shards, heldout_speakers=args.heldout_speaker)
    build_face_cache(cfg, args.out, TTSItems(MelSpec(), args.cond, args.gender, identity=args.identity))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Measure what the projected LRS3 cost in docs/training.md is built from (issue 15).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_training.py --work /tmp/bench_train \
        [--clips 6] [--steps 4] [--only tts_paper,syncnet_paper,tfg_paper,joint_paper,tts_items] [--batch joint_paper=1]

1. Preparation: renders ``--clips`` talking clips at 256 px with ``facespeak say`` (a real photo
   speaking), lays them out as LRS3 ``trainval/<speaker>/<clip>.mp4`` + transcript, and times
   ``facespeak data prepare lrs3 --workers 1`` (one process): clips/s, seconds of video per
   second, bytes of shards per second of video.
2. Training steps: for each paper recipe, the task is built from its YAML with ``shards.dir``
   pointing at those shards; ``--steps`` + 1 batches are streamed first (the data time per
   batch is reported on its own), then the real loop (:func:`facespeak.train.train`, log every
   step) trains on exactly those items, and the median ``s/step`` of ``train.log`` after the first
   (warm-up) step is reported. The joint recipe gets a freshly initialised ``syncnet_paper``
   expert (so the sync term is computed) and no warm starts (same compute).
3. ``--only tts_items``: seconds per clip to decode a sample and make its TTS item, with face
   analysis per clip and with a face cache (``facespeak.data.shards.face_cache``, no video decoded).

Writes ``--work/results.json`` and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "unit"))

SENTENCES = ["The quiet river runs past the old stone mill every spring.",
             "She told me the whole story again on the way home from work.",
             "A cold wind came down from the hills before the storm.",
             "We will need more paint before we can finish the fence.",
             "He keeps his tools in a red box under the kitchen table.",
             "Nobody expected the little boat to cross the bay so quickly."]


def render(work: Path, n: int) -> Path:
    import face_photos
    from PIL import Image
    from shard_fixtures import lrs_txt, put

    from facespeak.pipeline import FaceSpeak, SpeechOptions, VideoOptions, say

    root = work / "LRS3"
    if root.is_dir():
        return root
    fs = FaceSpeak.from_bundled(threads=2)
    portraits = [work / "a.png", work / "b.png"]
    Image.fromarray(face_photos.astronaut()).save(portraits[0])
    Image.fromarray(face_photos.head(1.0, flip=True)).save(portraits[1])
    for i in range(n):
        text = SENTENCES[i % len(SENTENCES)]
        clip = work / "rendered" / f"{i}.mp4"
        clip.parent.mkdir(parents=True, exist_ok=True)
        say(fs, str(portraits[i % 2]), text, clip, SpeechOptions(seed=i, steps=4), VideoOptions(size="256"))
        put(clip, root / "trainval" / f"spk{i % 3}" / f"{i:05d}.mp4", lrs_txt(text, True))
    return root


def prepare(root: Path, out: Path) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FACESPEAK_NO_PROGRESS": "1"}
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "facespeak.cli.main", "data", "prepare", "lrs3", str(root), "--out", str(out),
                    "--workers", "1", "--clips-per-shard", "2"], check=True, env=env)
    wall = time.time() - t0
    index = json.loads((out / "index.json").read_text())
    seconds = sum(s["seconds"] for s in index["shards"])
    size = sum(p.stat().st_size for p in out.glob("*.tar"))
    return {"clips": index["n_clips"], "video_seconds": seconds, "wall_s": wall, "clips_per_s": index["n_clips"] / wall,
            "video_s_per_s": seconds / wall, "shard_bytes": size, "bytes_per_video_s": size / seconds}


RECIPES = {  # name -> (module, task, config class, component)
    "tts_paper": ("tts_task", "TTSTask", "TTSTrainConfig"),
    "syncnet_paper": ("syncnet_task", "SyncNetTask", "SyncNetTrainConfig"),
    "tfg_paper": ("tfg_task", "TFGTask", "TFGTrainConfig"),
    "joint_paper": ("tfg_task", "TFGTask", "TFGTrainConfig"),
}


class CachedItems:
    """A task whose training data are items already streamed from the shards (map-style)."""

    def __init__(self, task, items) -> None:
        self.task, self.items, self.arch = task, items, task.arch

    def build_model(self):
        return self.task.build_model()

    def train_dataset(self):
        return self.items

    def collate(self, items):
        return self.task.collate(items)

    def loss(self, model, batch, generator):
        return self.task.loss(model, batch, generator)

    def export(self, model):
        return self.task.export(model)


def expert(work: Path) -> str:
    """An untrained syncnet_paper expert, exported (the joint stage's sync term needs one)."""
    from facespeak.core.checkpoint import save_checkpoint
    from facespeak.core.config import load_yaml, to_dict
    from facespeak.tfg.latent.syncnet import SyncNet
    from facespeak.train.syncnet_task import SyncNetTrainConfig

    cfg = SyncNetTrainConfig.from_dict(load_yaml(ROOT / "src/facespeak/configs/syncnet_paper.yaml"))
    path = work / "syncnet_paper.safetensors"
    save_checkpoint(path, SyncNet(cfg.model).state_dict(), "facespeak.syncnet", to_dict(cfg.model))
    return str(path)


def bench_recipe(name: str, shards: Path, work: Path, steps: int, batch: int | None,
                 device: str = "cpu", overrides: list[str] = ()) -> dict[str, float | int | str]:
    import importlib

    from facespeak.core.config import load_yaml, merge_overrides
    from facespeak.train import train

    module, task_name, cfg_name = RECIPES[name]
    mod = importlib.import_module(f"facespeak.train.{module}")
    sets = [f"shards.dir={shards}", "shards.stats_clips=4", "shards.shuffle_buffer=1", "train.num_workers=0",
            "train.threads=2", "train.log_every=1", "train.ckpt_every=100000", "train.grad_accum=1"]
    if name == "joint_paper":
        sets += [f"syncnet={expert(work)}", "init_from=''", "joint.tts_init_from=''"]
    sets += list(overrides)
    cfg = getattr(mod, cfg_name).from_dict(merge_overrides(load_yaml(ROOT / f"src/facespeak/configs/{name}.yaml"), sets))
    if batch:
        cfg.train.batch_size = batch
    cfg.train.steps = steps
    torch.set_num_threads(2)
    task = getattr(mod, task_name)(cfg)
    bs = cfg.train.batch_size
    loader = iter(DataLoader(task.train_dataset(), batch_size=bs, collate_fn=lambda x: x))
    t0 = time.time()
    items = [it for _ in range(steps + 1) for it in next(loader)]
    data_s = (time.time() - t0) / (steps + 1)
    run = work / "runs" / name
    if run.exists():
        import shutil

        shutil.rmtree(run)
    t0 = time.time()
    train(CachedItems(task, items), cfg.train, run, device=device, progress=False)
    wall = time.time() - t0
    log = (run / "train.log").read_text()
    per_step = [float(x) for x in re.findall(r"samples/s, ([\d.]+) s/step", log)]
    params = re.search(r"([\d.]+) M parameters", log).group(1)
    gpu = re.findall(r"GPU max memory ([\d.]+) GiB", log)
    return {"batch": bs, "steps": steps, "device": device, "gpu_max_memory_gib": float(gpu[-1]) if gpu else None, "params_M": float(params), "s_per_step_first": per_step[0],
            "s_per_step_median_after_first": statistics.median(per_step[1:]), "data_s_per_batch": data_s,
            "train_wall_s": wall, "peak_rss_gb": _peak_rss_gb()}


def tts_item_timing(shards: Path, work: Path, rounds: int = 2) -> dict[str, float]:
    """Seconds per clip to decode a sample and make its TTS item: with face analysis per clip,
    and with a face cache (built here; its build time too) and no video decoding."""
    from facespeak.core.timing import MelSpec
    from facespeak.data.shards import iter_shards
    from facespeak.data.shards.face_cache import build_face_cache
    from facespeak.data.shards.reader import decode_sample, decode_without_frames
    from facespeak.data.shards.stage_items import TTSItems
    from facespeak.data.shards.streaming import ShardStreamConfig

    raws, spec = list(iter_shards(shards)), MelSpec.paper()
    t0 = time.time()
    build_face_cache(ShardStreamConfig(dir=str(shards)), work / "faces", TTSItems(spec), progress=False)
    build = time.time() - t0
    fresh, cached = TTSItems(spec), TTSItems(spec, face_cache=str(work / "faces"))
    fresh(decode_sample(raws[0]))  # models loaded outside the timing
    cached(decode_without_frames(raws[0]))
    out = {"clips": len(raws), "face_cache_build_s": build}
    for name, items, decode in (("fresh", fresh, decode_sample), ("cached", cached, decode_without_frames)):
        t0 = time.time()
        for _ in range(rounds):
            for raw in raws:
                items(decode(raw))
        out[f"{name}_s_per_clip"] = (time.time() - t0) / (rounds * len(raws))
    return out


def _peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/bench_train")
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--only", default=",".join(RECIPES))
    ap.add_argument("--batch", action="append", default=[], help="recipe=B: a smaller batch than the recipe's")
    ap.add_argument("--skip-prepare", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="RECIPE:KEY=VALUE",
                    help="a config override for one recipe, e.g. joint_paper:joint.clips.window_frames=16")
    ap.add_argument("--device", default="cpu", help="cpu | cuda | auto (train.log adds peak GPU memory on CUDA)")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results_path = work / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    shards = work / "shards"
    if not args.skip_prepare:
        root = render(work, args.clips)
        if shards.exists():
            import shutil

            shutil.rmtree(shards)
        results["prepare"] = prepare(root, shards)
        results_path.write_text(json.dumps(results, indent=1))
    batches = dict(b.split("=") for b in args.batch)
    for name in args.only.split(","):
        if name == "tts_items":
            results[name] = {**tts_item_timing(shards, work), "load_average_1min": os.getloadavg()[0]}
            results_path.write_text(json.dumps(results, indent=1))
            print(name, results[name], flush=True)
            continue
        overrides = [o.split(":", 1)[1] for o in args.set if o.split(":", 1)[0] == name]
        results[name] = bench_recipe(name, shards, work, args.steps, int(batches[name]) if name in batches else None,
                                     args.device, overrides)
        results[name]["overrides"] = overrides
        results[name]["load_average_1min"] = os.getloadavg()[0]
        results_path.write_text(json.dumps(results, indent=1))
        print(name, results[name], flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""One training loop for every trainable component: resumable, DDP-ready, mixed precision on GPU.

A component plugs in as a :class:`Task` (model factory, datasets, collate, loss, export).
Run under ``torchrun --nproc_per_node N`` for DDP (gloo on CPU, NCCL on CUDA); a plain run is
single-process. Checkpoints (model + optimiser + step + RNG) go to ``run_dir/last.pt`` every
``ckpt_every`` steps and resume exactly; losses append to ``run_dir/loss.csv``. A task's
dataset is map-style (batched by :class:`InfiniteShardedSampler`) or an endless stream (an
``IterableDataset`` that splits itself among ranks and has ``position(accum)``, e.g.
:class:`facespeak.data.shards.streaming.ShardStream`; a resumed stream is reseeded, not replayed).
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset

from ..core.checkpoint import save_checkpoint
from ..core.config import to_dict
from ..core.errors import CheckpointError
from ..core.output_files import AtomicOutput
from .distributed import DistInfo, barrier, cleanup_distributed, init_distributed, reduce_mean
from .sampler import InfiniteShardedSampler

__all__ = ["TrainConfig", "Task", "train", "select_device", "export_last", "load_last"]

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    steps: int = 10000
    batch_size: int = 16  # global batch = batch_size * world_size * grad_accum
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.99)
    warmup_steps: int = 200
    lr_min_ratio: float = 0.1  # cosine decay to lr * ratio at ``steps``
    grad_clip: float = 1.0
    log_every: int = 10
    ckpt_every: int = 200
    seed: int = 1234
    num_workers: int = 0
    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (the last two on CUDA only)
    threads: int = 0  # torch CPU threads per process (0 = leave default)

    @classmethod
    def tiny(cls) -> "TrainConfig":
        return cls(steps=4, batch_size=2, warmup_steps=1, log_every=1, ckpt_every=2)


class Task(Protocol):
    arch: str

    def build_model(self) -> nn.Module: ...
    def train_dataset(self) -> Dataset: ...
    def collate(self, items: list[Any]) -> dict[str, torch.Tensor]: ...
    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]: ...
    def export(self, model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, Any]]: ...


def select_device(prefer: str = "auto") -> torch.device:
    """auto -> cuda (local rank) if present, else mps, else cpu."""
    if prefer != "auto":
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _lr_at(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    p = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.lr * (cfg.lr_min_ratio + (1 - cfg.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def _autocast(device: torch.device, precision: str):
    if device.type != "cuda" or precision == "fp32":
        return torch.autocast(device_type="cpu", enabled=False)
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device_type="cuda", dtype=dtype)


def _save_state(path: Path, model: nn.Module, opt: torch.optim.Optimizer, step: int, gen: torch.Generator,
                sampler: InfiniteShardedSampler, scaler: Any) -> None:
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": torch.tensor(step),
             "gen": gen.get_state(), "cpu_rng": torch.get_rng_state(), "consumed": torch.tensor(step * sampler.accum),
             "scaler": scaler.state_dict() if scaler is not None else {}}
    with AtomicOutput(path) as out:
        torch.save(state, out.file)


def _load_state(path: Path, model: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator,
                sampler: InfiniteShardedSampler, scaler: Any) -> int:
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    gen.set_state(state["gen"])
    torch.set_rng_state(state["cpu_rng"])
    sampler.seek(int(state["consumed"]))
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    return int(state["step"])


def train(task: Task, cfg: TrainConfig, run_dir: str | Path, export_path: str | Path | None = None,
          device: str = "auto", progress: bool = True, stop_at: int | None = None) -> dict[str, float]:
    """Train ``task`` for ``cfg.steps`` optimiser steps (resuming from ``run_dir/last.pt``).

    ``stop_at`` ends this invocation early (checkpoint written) without changing the schedule,
    e.g. to fit a time slot; a later call resumes. Returns the last logged (rank-averaged)
    losses. Rank 0 writes checkpoints, logs and the export (only once ``cfg.steps`` is reached).
    """
    dist = init_distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    dev = select_device(device) if not dist.enabled or device != "auto" else dist.device
    run_dir = Path(run_dir)
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)  # same initial weights on every rank and every fresh run
    model = task.build_model().to(dev)
    base_model = model
    if dist.enabled:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    opt = torch.optim.AdamW(base_model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    precision = ("bf16" if dev.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32") if cfg.precision == "auto" else cfg.precision
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" and dev.type == "cuda" else None
    gen = torch.Generator().manual_seed(cfg.seed + 7919 * dist.rank)
    dataset = task.train_dataset()
    stream = isinstance(dataset, IterableDataset)  # e.g. facespeak.data.shards.ShardStream: splits itself by rank
    sampler = (dataset.position(cfg.grad_accum) if stream else
               InfiniteShardedSampler(len(dataset), cfg.batch_size, dist.rank, dist.world_size, cfg.seed, cfg.grad_accum))
    step = 0
    ckpt = run_dir / "last.pt"
    if ckpt.is_file():
        step = _load_state(ckpt, base_model, opt, gen, sampler, scaler)
        log.info("resumed from %s at step %d", ckpt, step)
    # the loader draws its worker base seed when iterated: from its own generator, not from the
    # global RNG that dropout uses (else a resumed run's dropout masks shift by one draw)
    batching: dict[str, Any] = {"batch_size": cfg.batch_size} if stream else {"batch_sampler": sampler}
    loader = DataLoader(dataset, **batching, collate_fn=task.collate, num_workers=cfg.num_workers,
                        generator=torch.Generator().manual_seed(cfg.seed + 7919 * dist.rank + step))
    end = cfg.steps if stop_at is None else min(cfg.steps, stop_at)
    stats = _run_steps(task, cfg, model, base_model, opt, scaler, precision, dev, gen, loader, sampler, step, end,
                       run_dir, dist, progress)
    if dist.is_main and export_path is not None and end == cfg.steps:
        state, config = task.export(base_model)
        save_checkpoint(export_path, state, task.arch, config, extra={"steps": cfg.steps, "train": to_dict(cfg)})
    barrier(dist)
    cleanup_distributed(dist)
    return stats


def _run_steps(task, cfg, model, base_model, opt, scaler, precision, dev, gen, loader, sampler, step, end, run_dir,
               dist: DistInfo, progress):
    from tqdm import tqdm

    it = iter(loader)
    bar = tqdm(total=cfg.steps, initial=step, disable=not (progress and dist.is_main), desc="train", dynamic_ncols=True)
    last: dict[str, float] = {}
    acc: dict[str, float] = {}
    n_acc = 0
    t0 = time.time()
    model.train()
    while step < end:
        for g in opt.param_groups:
            g["lr"] = _lr_at(cfg, step)
        for micro in range(cfg.grad_accum):
            batch = {k: (v.to(dev) if torch.is_tensor(v) else v) for k, v in next(it).items()}
            with _autocast(dev, precision):
                loss, parts = task.loss(model, batch, gen)
            loss = loss / cfg.grad_accum
            (scaler.scale(loss) if scaler else loss).backward()
            for k, v in parts.items():
                acc[k] = acc.get(k, 0.0) + float(v) / cfg.grad_accum
        if scaler:
            scaler.unscale_(opt)
        gnorm = torch.nn.utils.clip_grad_norm_(base_model.parameters(), cfg.grad_clip)
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        n_acc += 1
        bar.update(1)
        if step % cfg.log_every == 0 or step == end:
            last = {k: reduce_mean(v / n_acc, dist) for k, v in acc.items()}
            last["grad_norm"] = float(gnorm)
            last["lr"] = _lr_at(cfg, step - 1)
            if dist.is_main:
                _append_csv(run_dir / "loss.csv", step, time.time() - t0, last)
                bar.set_postfix({k: f"{v:.3f}" for k, v in last.items() if k != "lr"})
            acc, n_acc = {}, 0
        if dist.is_main and (step % cfg.ckpt_every == 0 or step == end):
            _save_state(run_dir / "last.pt", base_model, opt, step, gen, sampler, scaler)
    bar.close()
    return last


def _append_csv(path: Path, step: int, seconds: float, values: dict[str, float]) -> None:
    new = not path.exists()
    keys = sorted(values)
    with path.open("a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["step", "seconds", *keys])
        w.writerow([step, f"{seconds:.1f}", *[f"{values[k]:.6g}" for k in keys]])


def load_last(task: Task, run_dir: str | Path) -> tuple[nn.Module, int]:
    """The task's model with the weights of ``run_dir/last.pt``, and that checkpoint's step."""

    ckpt = Path(run_dir) / "last.pt"
    if not ckpt.is_file():
        raise CheckpointError(f"no checkpoint to export: {ckpt} does not exist")
    model = task.build_model()
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    return model, int(state["step"])


def export_last(task: Task, cfg: TrainConfig, run_dir: str | Path, export_path: str | Path,
                half: bool = False) -> int:
    """Export the weights of ``run_dir/last.pt`` (e.g. of an unfinished run); returns its step.

    ``half`` stores floating tensors as float16 (bundled weights: half the size; loading
    into a float32 model upcasts)."""

    model, step = load_last(task, run_dir)
    weights, config = task.export(model)
    if half:
        weights = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
    save_checkpoint(export_path, weights, task.arch, config, extra={"steps": step, "train": to_dict(cfg)})
    return step

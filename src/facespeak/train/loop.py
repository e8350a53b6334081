"""One training loop for every trainable component: resumable, DDP-ready, mixed precision on GPU.

A component plugs in as a :class:`Task` (model factory, datasets, collate, loss, export).
Run under ``torchrun --nproc_per_node N`` for DDP (gloo on CPU, NCCL on CUDA); a plain run is
single-process. Checkpoints (model + optimiser + step + RNG) go to ``run_dir/last.pt`` every
``ckpt_every`` steps, and when the process gets SIGTERM (after the step in progress, then
:class:`TrainingStopped`); they resume exactly. Losses append to ``run_dir/loss.csv``; the set-up
and the throughput (samples/s, s/step, peak GPU memory on CUDA) go to ``run_dir/train.log``.
Options: gradient accumulation (``grad_accum``; DDP synchronises only the last micro-batch),
mixed precision (``precision``: bf16 autocast, or fp16 with a GradScaler, CUDA by default,
fp32 on CPU unless bf16 is asked for), ``compile`` (``nn.Module.compile``: same weights and
checkpoints). A task's
dataset is map-style (batched by :class:`InfiniteShardedSampler`) or an endless stream (an
``IterableDataset`` that splits itself among ranks and has ``position(accum)``, e.g.
:class:`facespeak.data.shards.streaming.ShardStream`; a resumed stream is reseeded, or replayed with
``shards.resume: replay``).
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset

from ..core.checkpoint import save_checkpoint
from ..core.config import to_dict
from ..core.errors import CheckpointError, ConfigError, FacespeakError
from ..core.output_files import AtomicOutput
from .distributed import DistInfo, barrier, cleanup_distributed, init_distributed, reduce_mean
from .sampler import InfiniteShardedSampler

__all__ = ["TrainConfig", "Task", "TrainingStopped", "train", "select_device", "export_last", "load_last",
           "resolve_precision"]

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
    # auto: bf16 on a CUDA device that has it, else fp32 | fp32 | bf16 (autocast, CPU too) |
    # fp16 (CUDA only, with a GradScaler)
    precision: str = "auto"
    compile: bool = False  # torch.compile the model in place (checkpoints unchanged)
    compile_backend: str = "inductor"  # torch.compile backend (inductor needs a C++ compiler on CPU)
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


class TrainingStopped(FacespeakError):
    """A run stopped by a signal (SIGTERM: a scheduler's pre-emption or time limit) after the
    step in progress, with its checkpoint written; rerunning the same command resumes it. The CLI
    exits with 128 + the signal number."""

    def __init__(self, signum: int, step: int, checkpoint: Path) -> None:
        super().__init__(f"training stopped by {signal.Signals(signum).name} at step {step}; checkpoint {checkpoint} "
                         "written, rerun the same command to resume")
        self.signum, self.step, self.checkpoint = signum, step, checkpoint
        self.exit_code = 128 + signum


class _StopSignal:
    """While active, SIGTERM sets ``signum`` instead of killing the process (main thread only;
    the previous handler is restored on exit). The loop reads it between optimiser steps."""

    def __init__(self) -> None:
        self.signum = 0
        self._old: Any = None

    def _set(self, signum: int, _frame: object) -> None:
        self.signum = signum

    def __enter__(self) -> "_StopSignal":
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGTERM, self._set)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def _worker_init(_worker_id: int) -> None:
    # a scheduler signals every process of the job: DataLoader workers leave the stop to the
    # training process (which shuts them down), so the step in progress can finish
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


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


def resolve_precision(precision: str, device: torch.device) -> str:
    """``train.precision`` on ``device`` -> fp32 | bf16 | fp16 (auto: bf16 on CUDA when supported)."""
    if precision == "auto":
        return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if precision not in ("fp32", "bf16", "fp16"):
        raise ConfigError(f"train.precision: expected auto, fp32, bf16 or fp16, got {precision!r}")
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError(f"train.precision fp16 needs a CUDA device (GradScaler), got {device}; use fp32 or bf16")
    return precision


def _autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


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
    e.g. to fit a time slot; a later call resumes. SIGTERM does the same after the step in
    progress and raises :class:`TrainingStopped`. Returns the last logged (rank-averaged)
    losses. Rank 0 writes checkpoints, logs and the export (only once ``cfg.steps`` is reached).
    """
    dist = init_distributed()
    try:
        with _StopSignal() as stop:
            return _train(task, cfg, Path(run_dir), export_path, device, progress, stop_at, dist, stop)
    finally:
        cleanup_distributed(dist)


def _train(task, cfg: TrainConfig, run_dir: Path, export_path, device: str, progress: bool, stop_at: int | None,
           dist: DistInfo, stop: _StopSignal) -> dict[str, float]:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    dev = select_device(device) if not dist.enabled or device != "auto" else dist.device
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
    precision = resolve_precision(cfg.precision, dev)
    torch.manual_seed(cfg.seed)  # same initial weights on every rank and every fresh run
    model = task.build_model().to(dev)
    base_model = model
    if cfg.compile:
        base_model.compile(backend=cfg.compile_backend)  # in place: state_dict keys unchanged
    if dist.enabled:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    opt = torch.optim.AdamW(base_model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    gen = torch.Generator().manual_seed(cfg.seed + 7919 * dist.rank)
    dataset = task.train_dataset()
    stream = isinstance(dataset, IterableDataset)  # e.g. facespeak.data.shards.ShardStream: splits itself by rank
    sampler = (dataset.position(cfg.grad_accum, cfg.batch_size) if stream else
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
                        worker_init_fn=_worker_init if cfg.num_workers else None,
                        generator=torch.Generator().manual_seed(cfg.seed + 7919 * dist.rank + step))
    end = cfg.steps if stop_at is None else min(cfg.steps, stop_at)
    runlog = _RunLog(run_dir / "train.log", dist.is_main)
    n_params = sum(p.numel() for p in base_model.parameters())
    runlog.write(f"{'resume at' if step else 'start'} step {step}/{cfg.steps} ({task.arch}, {n_params / 1e6:.2f} M "
                 f"parameters): device {dev}, precision {precision}, compile "
                 f"{cfg.compile_backend if cfg.compile else 'off'}, {dist.world_size} rank(s) x batch {cfg.batch_size} "
                 f"x accumulation {cfg.grad_accum} = {dist.world_size * cfg.batch_size * cfg.grad_accum} samples "
                 f"per step, {cfg.num_workers} loader worker(s) per rank, {'stream' if stream else 'map-style'} data")
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    parts = _Parts(task, cfg, model, base_model, opt, scaler, precision, dev, gen, sampler, run_dir, dist, runlog, stop)
    stats = _run_steps(parts, loader, step, end, progress)
    if dist.is_main and export_path is not None and end == cfg.steps:
        state, config = task.export(base_model)
        save_checkpoint(export_path, state, task.arch, config, extra={"steps": cfg.steps, "train": to_dict(cfg)})
    barrier(dist)
    return stats


@dataclass
class _Parts:
    """What one training invocation holds (built by :func:`_train`, used by :func:`_run_steps`)."""

    task: Any
    cfg: TrainConfig
    model: nn.Module  # DDP-wrapped when distributed
    base_model: nn.Module
    opt: torch.optim.Optimizer
    scaler: Any
    precision: str
    dev: torch.device
    gen: torch.Generator
    sampler: Any
    run_dir: Path
    dist: DistInfo
    runlog: "_RunLog"
    stop: _StopSignal


class _RunLog:
    """Appends timestamped lines to ``run_dir/train.log`` (rank 0) and logs them."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self.path, self.enabled = path, enabled

    def write(self, line: str) -> None:
        log.info("%s", line)
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")


def _stop_requested(p: _Parts) -> int:
    """The signal that stops the run (0: none); under DDP every rank stops at the same step."""
    if not p.dist.enabled:
        return p.stop.signum
    flag = torch.tensor([float(p.stop.signum)], device=p.dist.device)
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
    return int(flag.item())


def _optimiser_step(p: _Parts, it, step: int, acc: dict[str, float]) -> torch.Tensor:
    """One optimiser step of ``grad_accum`` micro-batches; adds the parts' means to ``acc``."""
    cfg = p.cfg
    for g in p.opt.param_groups:
        g["lr"] = _lr_at(cfg, step)
    for micro in range(cfg.grad_accum):
        batch = {k: (v.to(p.dev) if torch.is_tensor(v) else v) for k, v in next(it).items()}
        # DDP: gradients are all-reduced on the last micro-batch only
        sync = p.dist.enabled and micro < cfg.grad_accum - 1
        with p.model.no_sync() if sync else contextlib.nullcontext():
            with _autocast(p.dev, p.precision):
                loss, parts = p.task.loss(p.model, batch, p.gen)
            loss = loss / cfg.grad_accum
            (p.scaler.scale(loss) if p.scaler else loss).backward()  # outside autocast, as torch.amp advises
        for k, v in parts.items():
            acc[k] = acc.get(k, 0.0) + float(v) / cfg.grad_accum
    if p.scaler:
        p.scaler.unscale_(p.opt)
    gnorm = torch.nn.utils.clip_grad_norm_(p.base_model.parameters(), cfg.grad_clip)
    if p.scaler:
        p.scaler.step(p.opt)
        p.scaler.update()
    else:
        p.opt.step()
    p.opt.zero_grad(set_to_none=True)
    return gnorm


def _throughput(p: _Parts, steps: int, seconds: float) -> str:
    samples = steps * p.cfg.batch_size * p.cfg.grad_accum * p.dist.world_size
    line = f"{samples / seconds:.2f} samples/s, {seconds / steps:.3f} s/step"
    if p.dev.type == "cuda":
        line += f", GPU max memory {torch.cuda.max_memory_allocated(p.dev) / 2**30:.2f} GiB"
    return line


def _run_steps(p: _Parts, loader, step: int, end: int, progress: bool) -> dict[str, float]:
    from tqdm import tqdm

    cfg, dist = p.cfg, p.dist
    it = iter(loader)
    bar = tqdm(total=cfg.steps, initial=step, disable=not (progress and dist.is_main), desc="train", dynamic_ncols=True)
    last: dict[str, float] = {}
    acc: dict[str, float] = {}
    n_acc = 0
    t0 = t_log = time.time()
    p.model.train()
    while step < end:
        gnorm = _optimiser_step(p, it, step, acc)
        step += 1
        n_acc += 1
        bar.update(1)
        if step % cfg.log_every == 0 or step == end:
            last = {k: reduce_mean(v / n_acc, dist) for k, v in acc.items()}
            last["grad_norm"] = float(gnorm)
            last["lr"] = _lr_at(cfg, step - 1)
            if dist.is_main:
                _append_csv(p.run_dir / "loss.csv", step, time.time() - t0, last)
                bar.set_postfix({k: f"{v:.3f}" for k, v in last.items() if k != "lr"})
            p.runlog.write(f"step {step}/{cfg.steps}: {_throughput(p, n_acc, time.time() - t_log)}")
            acc, n_acc, t_log = {}, 0, time.time()
        signum = _stop_requested(p)
        if dist.is_main and (step % cfg.ckpt_every == 0 or step == end or signum):
            _save_state(p.run_dir / "last.pt", p.base_model, p.opt, step, p.gen, p.sampler, p.scaler)
        if signum and step < end:
            p.runlog.write(f"stopped by {signal.Signals(signum).name} at step {step}: checkpoint written")
            bar.close()
            barrier(dist)
            raise TrainingStopped(signum, step, p.run_dir / "last.pt")
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

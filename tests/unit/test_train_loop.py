"""The training loop's run controls on the tiny latent TFG (the real task and model): SIGTERM
checkpoints after the step in progress and a rerun continues the same loss curve, gradient
accumulation equals the bigger batch, precision choices, torch.compile keeps the checkpoint
layout, and train.log records the set-up and the throughput."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from facespeak.core.errors import ConfigError
from facespeak.train.face_frames import FaceFrames
from facespeak.train.loop import TrainingStopped, resolve_precision, train
from facespeak.train.tfg_task import TFGTask, TFGTrainConfig
from tfg_frames import moving_square_frames


def _cfg(steps: int = 6) -> TFGTrainConfig:
    cfg = TFGTrainConfig.tiny()
    cfg.weights.perceptual_ratio = 0.0
    cfg.weights.identity = 0.0
    cfg.train.steps, cfg.train.ckpt_every, cfg.train.log_every = steps, 100, 1
    return cfg


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "loss.csv") as f:
        return list(csv.DictReader(f))


class _SignalledTFG(TFGTask):
    """The tiny TFG task whose ``kill_at``-th loss call sends SIGTERM to this very process (as a
    scheduler would, in the middle of a step)."""

    def __init__(self, cfg, frames, kill_at: int) -> None:
        super().__init__(cfg, frames)
        self.calls, self.kill_at = 0, kill_at

    def loss(self, model, batch, generator):
        self.calls += 1
        if self.calls == self.kill_at:
            os.kill(os.getpid(), signal.SIGTERM)
        return super().loss(model, batch, generator)


def test_sigterm_checkpoints_the_step_and_the_rerun_continues_the_same_curve(tmp_path) -> None:
    frames = moving_square_frames()
    train(TFGTask(_cfg(), frames), _cfg().train, tmp_path / "straight", progress=False)
    cfg = _cfg()
    cfg.train.grad_accum = 2
    straight_acc = tmp_path / "straight_acc"
    train(TFGTask(cfg, frames), cfg.train, straight_acc, progress=False)
    run = tmp_path / "run"
    before = signal.getsignal(signal.SIGTERM)
    # the signal arrives during micro-batch 1 of step 3 (loss calls 5, 6): step 3 completes first
    with pytest.raises(TrainingStopped, match="SIGTERM at step 3") as stopped:
        train(_SignalledTFG(cfg, frames, kill_at=5), cfg.train, run, progress=False)
    assert stopped.value.exit_code == 128 + signal.SIGTERM and stopped.value.step == 3
    assert int(torch.load(run / "last.pt", weights_only=True)["step"]) == 3  # ckpt_every is 100
    assert signal.getsignal(signal.SIGTERM) is before and len(_rows(run)) == 3  # the caller's handler is back
    assert "stopped by SIGTERM at step 3" in (run / "train.log").read_text()
    train(TFGTask(cfg, frames), cfg.train, run, progress=False)  # the same command again
    a, b = _rows(straight_acc), _rows(run)
    assert [r["step"] for r in b] == [str(s) for s in range(1, 7)]
    for key in ("l1", "grad_norm"):
        assert [float(r[key]) for r in a] == pytest.approx([float(r[key]) for r in b], rel=1e-6, abs=1e-7)


def test_accumulation_equals_the_bigger_batch_and_not_a_smaller_one(tmp_path) -> None:
    frames = moving_square_frames()
    runs = {}
    for name, bs, accum in [("big", 4, 1), ("acc", 2, 2), ("small", 2, 1)]:
        cfg = _cfg(2)
        cfg.train.batch_size, cfg.train.grad_accum = bs, accum
        cfg.model.disc_std_group = 2
        train(TFGTask(cfg, frames), cfg.train, tmp_path / name, progress=False)
        runs[name] = torch.load(tmp_path / name / "last.pt", weights_only=True)["model"]

    def gap(a, b):
        return max(float((a[k] - b[k]).abs().max()) for k in a)

    assert gap(runs["big"], runs["acc"]) < 1e-4
    assert gap(runs["big"], runs["small"]) > 100 * gap(runs["big"], runs["acc"])  # the check can fail


def test_train_log_records_setup_and_throughput(tmp_path) -> None:
    cfg = _cfg(4)
    cfg.train.log_every = 2
    train(TFGTask(cfg, moving_square_frames()), cfg.train, tmp_path / "r", progress=False)
    text = (tmp_path / "r" / "train.log").read_text()
    assert re.search(r"start step 0/4 \(facespeak\.tfg\.latent, [\d.]+ M parameters\): device cpu, precision fp32, "
                     r"compile off, 1 rank\(s\) x batch 2 x accumulation 1 = 2 samples per step", text)
    rates = [float(x) for x in re.findall(r"step [24]/4: ([\d.]+) samples/s, [\d.]+ s/step", text)]
    assert len(rates) == 2 and all(r > 0 for r in rates)
    assert "GPU" not in text  # peak GPU memory only on CUDA


def test_precision_choices() -> None:
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        resolve_precision("fp16", cpu)
    with pytest.raises(ConfigError, match="expected auto, fp32, bf16 or fp16"):
        resolve_precision("half", cpu)


def test_bf16_autocast_on_cpu_trains_and_differs_from_fp32(tmp_path) -> None:
    frames = moving_square_frames()
    losses = {}
    for precision in ("fp32", "bf16"):
        cfg = _cfg(2)
        cfg.train.precision = precision
        train(TFGTask(cfg, frames), cfg.train, tmp_path / precision, progress=False)
        losses[precision] = [float(r["l1"]) for r in _rows(tmp_path / precision)]
        assert f"precision {precision}" in (tmp_path / precision / "train.log").read_text()
    assert np.isfinite(losses["bf16"]).all()
    assert losses["bf16"] != losses["fp32"]  # autocast really ran in bf16 ...
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.05)  # ... on the same problem


@pytest.mark.slow  # about 16 s on the 2-core machine (dynamo tracing)
def test_compile_keeps_the_checkpoint_layout_and_the_losses(tmp_path) -> None:
    frames = moving_square_frames()
    eager, compiled = _cfg(2), _cfg(2)
    compiled.train.compile, compiled.train.compile_backend = True, "aot_eager"  # no C++ build in the unit test
    train(TFGTask(eager, frames), eager.train, tmp_path / "eager", progress=False)
    train(TFGTask(compiled, frames), compiled.train, tmp_path / "compiled", progress=False)
    a = torch.load(tmp_path / "eager" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "compiled" / "last.pt", weights_only=True)["model"]
    assert list(a) == list(b)
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-4
    assert "compile aot_eager" in (tmp_path / "compiled" / "train.log").read_text()


@pytest.mark.slow
def test_cli_run_killed_by_sigterm_exits_143_and_resumes_to_the_straight_curve(tmp_path) -> None:
    """``facespeak train tfg`` in its own process, SIGTERM from outside while it trains."""
    cache = tmp_path / "clip.safetensors"
    frames = (moving_square_frames(40).permute(0, 2, 3, 1).add(1).mul(127.5).clamp(0, 255).byte().numpy())
    FaceFrames(frames, 25.0, np.zeros((0, 80), np.float32), 100.0).save(cache)

    def cmd(run_dir: Path) -> list[str]:
        return [sys.executable, "-m", "facespeak.cli.main", "train", "tfg", "--config", "tfg_tiny",
                "--set", f"data.cache={cache}", "--set", "train.steps=40", "--set", "train.ckpt_every=1000",
                "--set", "train.threads=1", "--run-dir", str(run_dir), "--device", "cpu"]

    env = {**os.environ, "OMP_NUM_THREADS": "1", "FACESPEAK_NO_PROGRESS": "1"}
    assert subprocess.run(cmd(tmp_path / "straight"), env=env, capture_output=True, timeout=300).returncode == 0
    proc = subprocess.Popen(cmd(tmp_path / "run"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ((tmp_path / "run" / "loss.csv").exists()
                                          and len(_rows(tmp_path / "run")) >= 5):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    stopped = int(torch.load(tmp_path / "run" / "last.pt", weights_only=True)["step"])
    assert 5 <= stopped < 40 and f"stopped by SIGTERM at step {stopped}" in err
    assert subprocess.run(cmd(tmp_path / "run"), env=env, capture_output=True, timeout=300).returncode == 0
    a, b = _rows(tmp_path / "straight"), _rows(tmp_path / "run")
    assert [r["step"] for r in a] == [r["step"] for r in b]
    assert [float(r["l1"]) for r in a] == pytest.approx([float(r["l1"]) for r in b], rel=1e-6, abs=1e-7)

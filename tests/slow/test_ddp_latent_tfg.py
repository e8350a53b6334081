"""DDP (2 CPU processes, gloo) gives the same latent-TFG training result as 1 process at the
same global batch."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent('''
    import sys, torch
    torch.set_num_threads(1)
    from facespeak.train.loop import train
    from facespeak.train.tfg_task import TFGTask, TFGTrainConfig

    def frames(n=24, size=32):
        g = torch.Generator().manual_seed(0)
        return torch.rand(n, 3, size, size, generator=g) * 2 - 1

    cfg = TFGTrainConfig.tiny()
    cfg.weights.perceptual_ratio = cfg.weights.identity = 0.0
    cfg.train.steps, cfg.train.batch_size, cfg.train.log_every = 3, int(sys.argv[2]), 1
    cfg.model.disc_std_group = 2
    train(TFGTask(cfg, frames()), cfg.train, sys.argv[1], progress=False)
''')


def _run(tmp: Path, nproc: int, per_rank_batch: int) -> dict[str, torch.Tensor]:
    script = tmp / "ddp_train.py"
    script.write_text(SCRIPT)
    run_dir = tmp / f"run{nproc}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if nproc == 1:
        cmd = [sys.executable, str(script), str(run_dir), str(per_rank_batch)]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               str(script), str(run_dir), str(per_rank_batch)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return torch.load(run_dir / "last.pt", weights_only=True)["model"]


def test_ddp_two_processes_match_one(tmp_path: Path) -> None:
    one = _run(tmp_path, 1, 4)
    two = _run(tmp_path, 2, 2)
    assert set(one) == set(two)
    diff = max(float((one[k] - two[k]).abs().max()) for k in one)
    assert diff < 1e-4, diff
    l1 = [[float(r["l1"]) for r in csv.DictReader((tmp_path / d / "loss.csv").open())] for d in ("run1", "run2")]
    assert len(l1[0]) == 3 and l1[0] == pytest.approx(l1[1], rel=1e-4)  # rank-averaged logs agree too
    assert l1[0][0] != l1[0][-1]  # it did train

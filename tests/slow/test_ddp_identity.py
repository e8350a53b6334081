"""The identity encoder's own loop under DDP (2 CPU processes, gloo, ``torchrun``): the ranks
encode halves of each batch, gather the outputs (the compactness and distillation terms couple
the rows) and all-reduce gradients; the averaged gradient of a batch is the one process's
gradient on the whole batch, and 3 training steps end with the same weights and losses (as
``test_ddp_latent_tfg.py`` does for the shared loop). About 20 s: three Python start-ups."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from facespeak.face.identity import INPUT_DIM, N_MOTION_TARGETS, IdentityConfig, IdentityEncoder
    from facespeak.train.distributed import average_gradients, cleanup_distributed, init_distributed
    from facespeak.train.identity_task import (FeatureTable, IdentityTrainConfig, _batch_terms, _dist_info,
                                               train_identity)

    dist = init_distributed(cpu=True)
    rng = np.random.default_rng(0)
    n = 24  # 4 persons x 6 views
    person = np.repeat(["p0", "p1", "p2", "p3"], 6)
    inputs = rng.normal(size=(n, INPUT_DIM)).astype(np.float32) + np.repeat(rng.normal(size=(4, INPUT_DIM)), 6, 0)
    table = FeatureTable(inputs=inputs.astype(np.float32),
                         targets=rng.normal(size=(n, N_MOTION_TARGETS)).astype(np.float32), person=person,
                         split=np.array(["train"] * n), augmented=np.zeros(n, bool), item=np.arange(n))
    cfg = IdentityTrainConfig(steps=3, persons_per_step=4, views_per_person=2)
    model, info = train_identity(table, IdentityConfig.tiny(), cfg)
    # the gradient of one batch itself (Adam's update hardly depends on the gradient's scale)
    torch.manual_seed(1)
    fresh = IdentityEncoder(IdentityConfig.tiny())
    x = torch.from_numpy(table.inputs[::3].copy())  # 8 rows, 4 persons
    labels = torch.arange(4).repeat_interleave(2)
    weight = torch.nn.Parameter(torch.randn(4, fresh.config.dim))
    desc = torch.nn.functional.normalize(x[:, :128], dim=-1)
    terms = _batch_terms(fresh, x, labels, desc, torch.randn(8, N_MOTION_TARGETS, generator=torch.Generator().manual_seed(2)),
                         weight, cfg, _dist_info())
    sum(terms.values()).backward()
    average_gradients([*fresh.parameters(), weight], _dist_info())
    grads = {k: p.grad for k, p in fresh.named_parameters()} | {"class_weight": weight.grad}
    if dist.rank == 0:
        torch.save(grads, sys.argv[1] + ".grad")
        torch.save(model.state_dict(), sys.argv[1])
        open(sys.argv[1] + ".json", "w").write(json.dumps({**info["final_losses"], "ranks": dist.world_size}))
    cleanup_distributed(dist)
''')


def _run(tmp: Path, nproc: int) -> tuple[dict[str, torch.Tensor], str, dict[str, torch.Tensor]]:
    script = tmp / "identity_ddp.py"
    script.write_text(SCRIPT)
    out = tmp / f"identity{nproc}.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launch = [] if nproc == 1 else ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    res = subprocess.run([sys.executable, *launch, str(script), str(out)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return (torch.load(out, weights_only=True), Path(f"{out}.json").read_text(),
            torch.load(f"{out}.grad", weights_only=True))


def test_two_ranks_make_the_one_process_update(tmp_path: Path) -> None:
    import json

    one, losses_one, grad_one = _run(tmp_path, 1)
    two, losses_two, grad_two = _run(tmp_path, 2)
    for k, g in grad_one.items():  # one batch: the averaged gradient is the whole batch's
        assert torch.allclose(g, grad_two[k], rtol=1e-5, atol=1e-7), k
    assert set(one) == set(two)
    diff = max(float((one[k] - two[k]).abs().max()) for k in one)
    assert diff < 1e-5, diff
    a, b = json.loads(losses_one), json.loads(losses_two)
    assert (a.pop("ranks"), b.pop("ranks")) == (1, 2)
    assert a == pytest.approx(b, rel=1e-5, abs=1e-6) and a["distill"] > 0  # the cross-person term is on

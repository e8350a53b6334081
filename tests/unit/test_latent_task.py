"""Latent TFG / SyncNet training tasks through the one training loop: steps, exact resume, export."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from facespeak.core.checkpoint import load_checkpoint
from facespeak.core.errors import ConfigError
from facespeak.train.loop import train
from facespeak.train.syncnet_task import SyncNetTask, SyncNetTrainConfig
from facespeak.train.tfg_task import (FaceFrames, SelfReenactmentDataset, TFGTask, TFGTrainConfig,
                                      evaluate_reenactment, split_index)
from tfg_frames import moving_square_frames


def _cfg(steps: int = 4) -> TFGTrainConfig:
    cfg = TFGTrainConfig.tiny()
    cfg.weights.perceptual_ratio = 0.0  # the Inception stem is exercised in the slow/evidence runs
    cfg.weights.identity = 0.0
    cfg.train.steps, cfg.train.ckpt_every, cfg.train.log_every = steps, 2, 1
    return cfg


def _losses(run_dir) -> list[float]:
    with open(run_dir / "loss.csv") as f:
        return [float(r["l1"]) for r in csv.DictReader(f)]


def test_stage_validation() -> None:
    cfg = _cfg()
    cfg.stage = "tts"
    with pytest.raises(ConfigError, match="facespeak train tts"):
        TFGTask(cfg, frames=moving_square_frames())
    cfg.stage = "nope"
    with pytest.raises(ConfigError):
        TFGTask(cfg, frames=moving_square_frames())


def test_pairs_are_deterministic_and_in_split() -> None:
    f = moving_square_frames()
    ds = SelfReenactmentDataset(f[:10], 50, max_gap=2, seed=3)
    a, b = ds[7], ds[7]
    assert torch.equal(a["source"], b["source"]) and torch.equal(a["driving"], b["driving"])
    assert split_index(100, 0.2) == 80


def test_resume_is_exact_and_export_loads(tmp_path) -> None:
    frames = moving_square_frames()
    straight = tmp_path / "a"
    train(TFGTask(_cfg(), frames), _cfg().train, straight, progress=False)
    resumed = tmp_path / "b"
    train(TFGTask(_cfg(), frames), _cfg().train, resumed, progress=False, stop_at=2)
    train(TFGTask(_cfg(), frames), _cfg().train, resumed, export_path=tmp_path / "w.safetensors", progress=False)
    assert _losses(straight) == pytest.approx(_losses(resumed), rel=1e-6, abs=1e-7)
    state, info = load_checkpoint(tmp_path / "w.safetensors", arch="facespeak.tfg.latent")
    assert info.config["size"] == 32 and not any(k.startswith("disc.") for k in state)


def test_grad_accumulation_matches_bigger_batch(tmp_path) -> None:
    frames = moving_square_frames()
    big, acc = _cfg(2), _cfg(2)
    big.train.batch_size = 4
    acc.train.batch_size, acc.train.grad_accum = 2, 2
    big.model.disc_std_group = acc.model.disc_std_group = 2
    train(TFGTask(big, frames), big.train, tmp_path / "big", progress=False)
    train(TFGTask(acc, frames), acc.train, tmp_path / "acc", progress=False)
    a = torch.load(tmp_path / "big" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "acc" / "last.pt", weights_only=True)["model"]
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-4


def test_evaluation_reports_baseline_and_invariance() -> None:
    torch.manual_seed(0)
    task = TFGTask(_cfg(), moving_square_frames())
    model = task.build_model().tfg
    r = evaluate_reenactment(model, task.test_frames, n_sources=2, identity=False)
    assert r["l1_copy_source"] > 0 and r["pairs"] == 2 * len(task.test_frames)
    assert r["improvement"] == pytest.approx(1 - r["l1_model"] / r["l1_copy_source"])
    assert r["f_id_spread"] >= 0 and r["f_spread"] > 0


def test_syncnet_task_trains(tmp_path) -> None:
    rng = np.random.default_rng(0)
    clip = FaceFrames((rng.random((60, 32, 32, 3)) * 255).astype(np.uint8), 25.0,
                      rng.standard_normal((250, 16)).astype(np.float32), 100.0)
    cfg = SyncNetTrainConfig.tiny()
    cfg.train.batch_size = 4
    task = SyncNetTask(cfg, clip)
    assert cfg.model.mel_frames == 20 and cfg.model.n_mels == 16  # 5 frames x 100 / 25 mel per frame
    item = task.train_dataset()[1]
    assert item["label"] == 0 and item["mouths"].shape == (5, 3, 16, 16) and item["mel"].shape == (16, 20)
    stats = train(task, cfg.train, tmp_path / "s", export_path=tmp_path / "sync.safetensors", progress=False)
    assert np.isfinite(stats["bce"])
    from facespeak.train.syncnet_task import load_syncnet

    net = load_syncnet(tmp_path / "sync.safetensors")
    assert not any(p.requires_grad for p in net.parameters())


@pytest.mark.parametrize("name", ["tfg_tiny", "tfg_small", "tfg_default", "tfg_paper"])
def test_bundled_configs_parse(name: str) -> None:
    from pathlib import Path

    import facespeak
    from facespeak.core.config import load_yaml

    raw = load_yaml(Path(facespeak.__file__).parent / "configs" / f"{name}.yaml")
    cfg = TFGTrainConfig.from_dict(raw)
    assert cfg.model.size == cfg.data.size
    if name == "tfg_paper":
        assert (cfg.model.size, cfg.model.style_dim, cfg.model.motion_dim) == (256, 512, 20)
        assert cfg.weights.gan == 0.1 and cfg.weights.identity == 0.3 and cfg.train.lr == 1e-4


def test_syncnet_config_parses() -> None:
    from pathlib import Path

    import facespeak
    from facespeak.core.config import load_yaml

    cfg = SyncNetTrainConfig.from_dict(load_yaml(Path(facespeak.__file__).parent / "configs" / "tfg_syncnet.yaml"))
    assert cfg.model.frames == 5

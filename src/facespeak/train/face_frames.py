"""Face frames for the latent TFG and SyncNet tasks: one clip's aligned crops, the
self-reenactment pairs and their augmentation.

:func:`prepare_face_frames` decodes a face video once into aligned crops (+ per-frame audio mels
for the SyncNet task) and caches them as safetensors. Frames ``[0, split)`` train,
``[split, N)`` are held out (a temporal split: no held-out frame is a neighbour of a training
frame except at one boundary). Shared by :mod:`facespeak.train.tfg_task` and
:mod:`facespeak.train.syncnet_task` (neither imports the other).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..audio.io import resample
from ..audio.mel import MelExtractor
from ..core.errors import ConfigError, InputError
from ..core.timing import MelSpec
from ..data.talking_clips import align_crops
from ..video.reader import iter_frames, probe_video, read_video

__all__ = ["FrameAugment", "augment_pair", "FaceFramesConfig", "FaceFrames", "prepare_face_frames", "load_or_prepare",
           "split_index", "frames_to_tensor", "SelfReenactmentDataset", "collate_pairs"]

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


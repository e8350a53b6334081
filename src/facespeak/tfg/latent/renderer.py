"""Portrait + per-frame latent motion -> frames (the ``latent`` counterpart of MeshRenderer).

Per portrait: align and crop the face at the model's size (:func:`facespeak.face.align.align_face`),
encode it once (``f``, ``alpha``, ``f_id`` and the multi-scale maps). Per frame: ``f_m = D alpha(t)``
(+ optional ``f_lip(t)`` for the lip layers) -> generator. Frames are a pure function of the
motion frame (no state between frames).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...core.errors import InputError
from ...face.align import align_face
from ...face.analysis import Face
from .model import LatentTFG
from .weights import load_latent_tfg

__all__ = ["LatentRenderConfig", "LatentRenderer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LatentRenderConfig:
    """crop_scale: zoom of the face crop (must match training, see FaceFramesConfig);
    batch: frames per generator call."""

    crop_scale: float = 0.75
    batch: int = 8

    @classmethod
    def tiny(cls) -> "LatentRenderConfig":
        return cls(batch=2)


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def _to_uint8(frames: torch.Tensor) -> np.ndarray:
    return frames.clamp(-1, 1).add(1).mul(127.5).round().byte().permute(0, 2, 3, 1).numpy()


class LatentRenderer:
    """Render frames of one portrait from ``(T_video, M)`` motion magnitudes.

    Args:
        image: ``(H, W, 3) uint8`` RGB photo.
        face: the face to animate (from :func:`facespeak.face.analysis.analyse_faces` on ``image``).
        model: a :class:`LatentTFG`, or a weights directory / file
            (:func:`facespeak.tfg.latent.weights.load_latent_tfg`).

    Attributes:
        canvas: ``(size, size, 3) uint8`` the aligned crop that is animated.
        source_alpha: ``(M,)`` the portrait's own motion; rendering it reproduces the portrait.
        f_id: ``(D_style,)`` motion-removed identity (the TTS condition); f: ``(D_style,)``.
    """

    def __init__(self, image: np.ndarray, face: Face, model: LatentTFG | str | Path,
                 config: LatentRenderConfig | None = None) -> None:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"portrait: expected (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
        if not isinstance(model, LatentTFG):
            model = load_latent_tfg(model)
        self.model, self.config = model.eval(), config or LatentRenderConfig()
        size = model.cfg.size
        aligned = align_face(image, face, size, scale=self.config.crop_scale)
        self.canvas, self.align_matrix = aligned.crop, aligned.matrix
        with torch.no_grad():
            self._source = model.encode(_to_tensor(self.canvas[None]))
        self.source_alpha = self._source.alpha[0].numpy()
        self.f_id, self.f = self._source.f_id[0].numpy(), self._source.f[0].numpy()

    @property
    def frame_size(self) -> tuple[int, int]:
        return (int(self.canvas.shape[0]), int(self.canvas.shape[1]))

    @property
    def motion_dim(self) -> int:
        return self.model.cfg.motion_dim

    def motion_from_frames(self, crops: np.ndarray) -> np.ndarray:
        """``(T_video, size, size, 3) uint8`` aligned crops of a driving video -> ``(T_video, M)``."""
        with torch.no_grad():
            return np.concatenate([self.model.encode(_to_tensor(crops[i:i + self.config.batch])).alpha.numpy()
                                   for i in range(0, len(crops), self.config.batch)])

    def _check(self, motion: np.ndarray, lip: np.ndarray | None) -> None:
        if motion.ndim != 2 or motion.shape[1] != self.motion_dim:
            raise InputError(f"latent motion: expected (T_video, {self.motion_dim}), got {motion.shape}")
        d = self.model.cfg.style_dim
        if lip is not None and lip.shape != (len(motion), d):
            raise InputError(f"f_lip: expected ({len(motion)}, {d}) (T_video, D_style), got {lip.shape}")

    def render(self, motion: np.ndarray, lip: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """Yield ``(size, size, 3) uint8`` frames for ``motion (T_video, M)`` magnitudes and
        optional ``lip (T_video, D_style)`` = ``f_lip`` for the lip layers (None: ``D alpha``)."""
        motion = np.asarray(motion, np.float32)
        self._check(motion, lip)
        for i in range(0, len(motion), self.config.batch):
            a = torch.from_numpy(motion[i:i + self.config.batch])
            n = len(a)
            f_lip = None if lip is None else torch.from_numpy(np.asarray(lip[i:i + n], np.float32))
            with torch.no_grad():
                out = self.model.decode(self._expanded_source(n), self.model.basis(a), f_lip)
            yield from _to_uint8(out)

    def render_codes(self, f_m: np.ndarray, lip: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """Yield ``(size, size, 3) uint8`` frames for motion codes ``f_m (T_video, D_style)`` (as the
        jointly trained motion sampler gives them; the encoder's ``D alpha`` of a driving frame)
        and optional ``lip (T_video, D_style)`` = ``f_lip`` (the audio mapper's) for the lip layers."""
        f_m = np.asarray(f_m, np.float32)
        d = self.model.cfg.style_dim
        if f_m.ndim != 2 or f_m.shape[1] != d:
            raise InputError(f"latent motion codes: expected (T_video, {d}), got {f_m.shape}")
        if lip is not None and lip.shape != f_m.shape:
            raise InputError(f"f_lip: expected {f_m.shape} (T_video, D_style), got {lip.shape}")
        for i in range(0, len(f_m), self.config.batch):
            codes = torch.from_numpy(f_m[i:i + self.config.batch])
            f_lip = None if lip is None else torch.from_numpy(np.asarray(lip[i:i + len(codes)], np.float32))
            with torch.no_grad():
                out = self.model.decode(self._expanded_source(len(codes)), codes, f_lip)
            yield from _to_uint8(out)

    def _expanded_source(self, n: int):
        s = self._source
        return type(s)(*(v.expand(n, *v.shape[1:]) for v in (s.f, s.alpha, s.f_m, s.f_id)),
                       [m.expand(n, -1, -1, -1) for m in s.maps])

    def render_frame(self, motion: np.ndarray, lip: np.ndarray | None = None) -> np.ndarray:
        """One frame for ``motion (M,)`` [and ``lip (D_style,)``] -> ``(size, size, 3) uint8``."""
        return next(self.render(np.asarray(motion)[None], None if lip is None else np.asarray(lip)[None]))

"""``to_items`` for the audio mapper and the motion sampler, from real talking clips in shards.

Per clip (:class:`ClipSpeechMotion`), everything at the video rate ``T_video``:

- speech features, the mapper's inputs (paper Fig. 3): the TTS (bundled or ``tts``) reads the
  clip's transcript conditioned on the clip's own face (``f_id``, as :class:`TTSItems`) and is
  aligned to the clip's real audio by monotonic alignment search, as in TTS training; ``e_t``
  repeated by those durations, ``f~_t`` (``mu_y``) and its energy are pooled to the video rate
  (:func:`facespeak.motion.audio_mapper.video_rate_features`), so the features line up with the
  real lips;
- lip targets: the rule targets (:func:`facespeak.motion.lip_rules.lip_targets`) of the aligned
  phonemes, the mapper's target space (the clip's measured mouth is not used yet);
- motion ``(T_video, 8)`` in :data:`facespeak.data.motion_dataset.MOTION_COLUMNS`: head pose from
  the shard's ``pose``, blinks and brows from its ``mesh`` (the measures of
  :func:`facespeak.data.motion_dataset.track_face_segments`). Translation is that of the face in
  the aligned crop: the alignment (smoothed over 5 frames) has removed most head translation.

:class:`MapperItems` cuts mapper crops and :class:`SamplerItems` motion windows with their
speech condition (lip targets + energy, as :class:`facespeak.data.motion_dataset.SamplerDataset`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...bundle import load_tts
from ...core.timing import AudioTiming
from ...face.analysis import Face
from ...face.identity import MOTION_TARGET_NAMES, motion_targets
from ...motion.audio_mapper import video_rate_features
from ...motion.lip_rules import lip_targets
from ..motion_dataset import motion_columns
from .stage_items import TTSItems, clip_generator, moving_face

__all__ = ["ClipSpeechMotion", "MapperItems", "SamplerItems", "mesh_motion"]

log = logging.getLogger(__name__)


def mesh_motion(pose: np.ndarray, mesh: np.ndarray) -> np.ndarray | None:
    """Shard ``pose (T, 3)`` degrees and ``mesh (T, 478, 3)`` crop px -> motion ``(T, 8)``
    (:func:`facespeak.data.motion_dataset.motion_columns`); frames without a face take the
    nearest tracked frame's values. None when fewer than half of the frames have a face."""
    ok = np.isfinite(mesh.reshape(len(mesh), -1)).all(1) & np.isfinite(pose).all(1)
    if ok.sum() < max(2, len(ok) / 2):
        return None
    names = list(MOTION_TARGET_NAMES)
    rows = np.zeros((len(ok), 9), np.float64)
    for t in np.flatnonzero(ok):
        p = mesh[t].astype(np.float32)
        face = Face(box=(0.0, 0.0, 1.0, 1.0), score=1.0, landmarks=p, pose=tuple(float(v) for v in pose[t]),
                    image_size=(1, 1))
        m = motion_targets(face)
        iod = float(np.linalg.norm(p[33, :2] - p[263, :2]))
        rows[t] = [*pose[t], p[:, 0].mean(), p[:, 1].mean(), iod, m[names.index("right_eye_open")],
                   m[names.index("left_eye_open")], m[names.index("brow_raise")]]
    good = np.flatnonzero(ok)
    nearest = good[np.abs(np.arange(len(ok))[:, None] - good[None]).argmin(1)]
    return motion_columns(rows[nearest])


@dataclass
class ClipSpeechMotion:
    """Sample -> ``{"feats": (T_video, D_in), "lips": (T_video, 4), "motion": (T_video, 8)}``
    float32 (module docstring) or None (no transcript, too long, no face, no usable mesh).
    ``tts``: TTS checkpoint ("" = bundled); ``identity``: identity encoder ("" = bundled)."""

    tts: str = ""
    identity: str = ""
    max_seconds: float = 11.0

    def __post_init__(self) -> None:
        self._models: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_models": None}  # workers load their own

    def models(self) -> tuple[Any, TTSItems]:
        """(TTS in eval mode, the TTS items at its mel analysis), loaded once per process."""
        if self._models is None:
            if self.tts:
                model, _, mel = load_tts(self.tts)
            else:
                # lazy: pipeline loads the whole inference stack; only its bundled path is needed
                from ...pipeline import default_tts_path

                model, _, mel = load_tts(default_tts_path())
            self._models = (model, TTSItems(mel, "f_id", model.cfg.gender_cond, self.max_seconds, self.identity))
        return self._models

    @property
    def d_text(self) -> int:
        return int(self.models()[0].cfg.encoder.channels)

    @property
    def n_mels(self) -> int:
        return int(self.models()[0].cfg.n_mels)

    def __call__(self, sample: dict[str, Any]) -> dict[str, np.ndarray] | None:
        tts, items = self.models()
        motion = mesh_motion(sample["pose"], sample["mesh"])
        speech = items(sample) if motion is not None else []
        if not speech:
            return None
        it = speech[0]
        cond = torch.from_numpy(it["cond"])[None]
        if tts.cfg.gender_cond:
            cond = torch.cat([cond, torch.tensor([[float(it["gender"])]])], dim=1)
        ids, mel = torch.from_numpy(it["ids"])[None], torch.from_numpy(it["mel"])[None]
        with torch.no_grad():
            _, inter = tts.compute_losses(ids, torch.tensor([ids.shape[1]]), mel, torch.tensor([mel.shape[2]]), cond,
                                          generator=clip_generator(sample["key"], 0), return_intermediates=True)
        timing = AudioTiming(items.spec, float(sample["meta"].get("fps", 25.0)))
        n = len(motion)
        durations = inter.path[0].sum(-1).numpy()
        feats = video_rate_features(inter.e_t[0].numpy(), inter.mu_y[0].numpy(), timing, n)
        lips = lip_targets(it["ids"].tolist(), durations, timing, n_frames=n)
        return {"feats": feats.astype(np.float32), "lips": lips.astype(np.float32), "motion": motion}


def _crops(n: int, length: int, stride: int, g: torch.Generator) -> list[int]:
    """Crop starts every ``stride`` frames from a random offset (one crop from 0 when ``n <= length``)."""
    if n <= length:
        return [0]
    first = int(torch.randint(min(stride, n - length + 1), (1,), generator=g))
    return list(range(first, n - length + 1, stride))


def _pad(x: np.ndarray, length: int) -> np.ndarray:
    return np.concatenate([x, np.repeat(x[-1:], length - len(x), 0)]) if len(x) < length else x


@dataclass
class MapperItems:
    """Sample -> mapper crops ``{"feats": (crop, D_in), "lips": (crop, 4), "mask": (crop,)}``
    (:class:`facespeak.data.motion_dataset.MapperDataset`'s format: a short clip is padded with
    its last frame and masked)."""

    clip: ClipSpeechMotion
    crop: int = 64
    stride: int = 32
    seed: int = 0

    def __call__(self, sample: dict[str, Any]) -> list[dict[str, torch.Tensor]]:
        c = self.clip(sample)
        if c is None:
            return []
        n, out = len(c["feats"]), []
        for s in _crops(n, self.crop, self.stride, clip_generator(sample["key"], self.seed)):
            mask = np.zeros(self.crop, np.float32)
            mask[:min(self.crop, n - s)] = 1
            out.append({"feats": torch.from_numpy(_pad(c["feats"][s:s + self.crop], self.crop)),
                        "lips": torch.from_numpy(_pad(c["lips"][s:s + self.crop], self.crop)),
                        "mask": torch.from_numpy(mask)})
        return out


@dataclass
class SamplerItems:
    """Sample -> motion-sampler windows ``{"motion": (window, 8), "cond": (window, 5)}`` with
    cond = lip targets + speech energy (:class:`facespeak.data.motion_dataset.SamplerDataset`'s
    format), here of the same clip; clips shorter than ``window`` give none."""

    clip: ClipSpeechMotion
    window: int = 32
    stride: int = 16
    seed: int = 0

    def __call__(self, sample: dict[str, Any]) -> list[dict[str, torch.Tensor]]:
        if not moving_face(sample):  # a still portrait's motion is none at all
            return []
        c = self.clip(sample)
        if c is None or len(c["motion"]) < self.window:
            return []
        cond = np.concatenate([c["lips"], c["feats"][:, -1:]], axis=1)
        return [{"motion": torch.from_numpy(np.ascontiguousarray(c["motion"][s:s + self.window])),
                 "cond": torch.from_numpy(np.ascontiguousarray(cond[s:s + self.window]))}
                for s in _crops(len(c["motion"]), self.window, self.stride, clip_generator(sample["key"], self.seed))]

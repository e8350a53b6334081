"""Per-stage ``to_items`` functions for :class:`facespeak.data.shards.streaming.ShardStream`:
a decoded shard sample (:func:`facespeak.data.shards.reader.decode_sample`) -> the training
items of one stage. Each is a small picklable object (DataLoader workers) that loads its
models lazily, once per process.

- :class:`TTSItems`: phoneme ids, log-mel at the TTS's mel analysis (16 kHz shard audio
  resampled when it asks for another rate) and the face condition: the identity encoder's
  ``f_id`` (or ``f``) of one aligned face crop, plus the gender estimator's score
  (:func:`facespeak.pipeline.gender_score`, as at inference) when the TTS takes one;
- :class:`SyncItems`: SyncNet windows: ``T_sync`` mouth crops with the mel window at the same
  time (label 1) or shifted by at least ``min_offset`` frames (label 0), Wav2Lip's recipe.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...audio.io import resample
from ...audio.mel import MelExtractor
from ...core.timing import MelSpec
from .streaming import ShardStreamConfig, kept_samples
from ...face.analysis import analyse_faces
from ...face.gender import estimate_gender
from ...face.identity import IdentityExtractor
from ...text import TextConfig, TextFrontend
from ...tfg.latent.syncnet import mouth_region

__all__ = ["TTSItems", "SyncItems", "pick_frame", "clip_mel", "shard_mel_stats"]

log = logging.getLogger(__name__)


def clip_mel(audio: np.ndarray, rate: int, spec: MelSpec) -> np.ndarray:
    """``audio (T_wav,)`` float32 at ``rate`` Hz -> log-mel ``(n_mels, T_mel)`` float32 at ``spec``."""

    wav = resample(np.asarray(audio, np.float32), int(rate), spec.sample_rate)
    with torch.no_grad():
        return MelExtractor(spec)(torch.from_numpy(wav))[0].numpy().astype(np.float32)


def shard_mel_stats(cfg: ShardStreamConfig, spec: MelSpec) -> tuple[float, float]:
    """(mean, std) of the log-mels of the first ``cfg.stats_clips`` clips ``cfg`` trains on
    (index order: the same on every rank); only their audio is decoded."""
    import soundfile as sf

    mels = []
    for sample in itertools.islice(kept_samples(cfg), max(1, cfg.stats_clips)):
        audio, rate = sf.read(io.BytesIO(sample["wav"]), dtype="float32")
        mels.append(clip_mel(audio, rate, spec).ravel())
    m = np.concatenate(mels)
    return float(m.mean()), float(m.std())


def pick_frame(quality: np.ndarray) -> int:
    """The frame nearest the clip's middle whose quality flags are all clear (else the middle)."""
    n = len(quality)
    good = np.flatnonzero(np.asarray(quality) == 0)
    if len(good) == 0:
        return n // 2
    return int(good[np.argmin(np.abs(good - n // 2))])


@dataclass
class TTSItems:
    """Sample -> ``[{"ids": (T_text,) int64, "mel": (n_mels, T_mel) float32, "cond": (D_id,)
    float32, "gender": float}]`` or ``[]`` (no transcript, longer than ``max_seconds``, fewer mel
    frames than ids, or no face found in the chosen crop). ``cond``: "f_id" or "f"; ``gender``:
    estimate the gender score (else 0); ``identity``: encoder checkpoint ("" = bundled)."""

    spec: MelSpec
    cond: str = "f_id"
    gender: bool = False
    max_seconds: float = 11.0
    identity: str = ""

    def __post_init__(self) -> None:
        self._models: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_models": None}  # workers load their own

    def models(self) -> tuple[Any, Any]:
        """(text front end, identity extractor), loaded on first use in this process."""
        if self._models is None:
            if self.identity:
                extractor = IdentityExtractor.from_checkpoint(self.identity)
            else:
                extractor = IdentityExtractor.from_bundled()
            self._models = (TextFrontend(TextConfig()), extractor)
        return self._models

    def face_condition(self, frame: np.ndarray) -> tuple[np.ndarray, float] | None:
        """Aligned crop ``(S, S, 3) uint8`` -> (identity feature (D_id,), gender score), or None."""

        faces = analyse_faces(frame, max_faces=1)
        if not faces:
            return None
        feats = self.models()[1].extract(frame, faces[0])
        score = 0.0
        if self.gender:
            # lazy: loads numba via tts.alignment (about 1 s)
            from ...pipeline import gender_score

            score = gender_score(estimate_gender(frame, faces[0]).p_female)
        return np.asarray(feats.f_id if self.cond == "f_id" else feats.f, np.float32), score

    def __call__(self, sample: dict[str, Any]) -> list[dict[str, Any]]:
        meta = sample["meta"]
        if not meta.get("phonemes") or float(meta.get("duration_s", 0.0)) > self.max_seconds:
            return []
        ids = np.asarray(self.models()[0].encode_phonemes(meta["phonemes"]), np.int64)
        mel = clip_mel(sample["audio"], sample["sample_rate"], self.spec)
        if len(ids) == 0 or mel.shape[1] < len(ids):
            log.debug("skipping %s: %d ids for %d mel frames", sample["key"], len(ids), mel.shape[1])
            return []
        face = self.face_condition(sample["frames"][pick_frame(sample["quality"])])
        if face is None:
            log.debug("skipping %s: no face in its aligned crop", sample["key"])
            return []
        return [{"ids": ids, "mel": mel, "cond": face[0], "gender": face[1], "key": sample["key"]}]


@dataclass
class SyncItems:
    """Sample -> ``windows`` items ``{"mouths": (frames, 3, mouth_size, mouth_size) in [-1, 1],
    "mel": (n_mels, mel_frames), "label": ()}`` (alternately in sync and shifted), ``[]`` for a
    clip too short for a negative. Mel at ``spec`` (16 kHz, hop 160: the shards' rate); window
    starts drawn with a generator seeded by the clip key (the stream shuffles the clips)."""

    frames: int
    mouth_size: int
    mel_frames: int
    min_offset: int
    windows: int = 8
    spec: MelSpec = MelSpec.paper()
    seed: int = 0

    def __call__(self, sample: dict[str, Any]) -> list[dict[str, torch.Tensor]]:
        fps = float(sample["meta"].get("fps", 25.0))
        per_frame = self.spec.frame_rate / fps
        mel = torch.from_numpy(clip_mel(sample["audio"], sample["sample_rate"], self.spec))
        # window starts v with frames v .. v + frames - 1 and mel frames round(v * per_frame) + mel_frames
        n_windows = min(len(sample["frames"]) - self.frames, int((mel.shape[1] - self.mel_frames) / per_frame)) + 1
        if n_windows <= 2 * self.min_offset:
            return []
        crops = torch.from_numpy(np.ascontiguousarray(sample["frames"])).permute(0, 3, 1, 2)  # (T_video, 3, S, S)
        key = int(hashlib.sha1(f"{self.seed}/{sample['key']}".encode()).hexdigest()[:12], 16)
        g = torch.Generator().manual_seed(key)
        out = []
        for i in range(self.windows):
            v = int(torch.randint(n_windows, (1,), generator=g))
            a, positive = v, i % 2 == 0
            while not positive and abs(a - v) < self.min_offset:
                a = int(torch.randint(n_windows, (1,), generator=g))
            m0 = int(round(a * per_frame))
            window = crops[v:v + self.frames].float().div(127.5).sub(1.0)  # only this window in float
            out.append({"mouths": mouth_region(window, self.mouth_size), "mel": mel[:, m0:m0 + self.mel_frames],
                        "label": torch.tensor(1.0 if positive else 0.0)})
        return out

"""Per-stage ``to_items`` functions for :class:`facespeak.data.shards.streaming.ShardStream`:
a decoded shard sample (:func:`facespeak.data.shards.reader.decode_sample`) -> the training
items of one stage. Each is a small picklable object (DataLoader workers) that loads its
models lazily, once per process.

- :class:`TTSItems`: phoneme ids, log-mel at the TTS's mel analysis (16 kHz shard audio
  resampled when it asks for another rate) and the face condition: the identity encoder's
  ``f_id`` (or ``f``) of one aligned face crop, plus the gender estimator's score
  (:func:`facespeak.pipeline.gender_score`, as at inference) when the TTS takes one;
- :class:`SyncItems`: SyncNet windows: ``T_sync`` mouth crops with the mel window at the same
  time (label 1) or shifted by at least ``min_offset`` frames (label 0), Wav2Lip's recipe;
- :class:`TFGPairItems`: (source, driving) frame pairs of one clip for the latent TFG's
  self-reenactment stage (LIA's training pairs), at the TFG's size;
- :class:`IdentityViewItems`: encoder inputs and measured motion of a few frames of a clip
  (the identity encoder's views of one person across expression and pose);
- :class:`JointWindowItems`: windows of talking clips for the joint stage, in the item format of
  :class:`facespeak.data.talking_clips.TalkingClipDataset` (frames, source, phoneme ids, TTS mel,
  SyncNet mel).

Every item generator draws with a ``torch.Generator`` seeded by the clip key (and ``seed``), so
an item does not depend on the order the stream delivers clips in.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
from pathlib import Path
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...audio.io import resample
from ...audio.mel import MelExtractor
from ...core.timing import MelSpec
from ..talking_clips import pad_time
from .reader import shard_paths
from .streaming import ShardStreamConfig, kept_samples
from ...face.analysis import analyse_faces
from ...face.gender import estimate_gender
from ...face.identity import IdentityExtractor, identity_input, motion_targets
from ...text import TextConfig, TextFrontend
from ...tfg.latent.syncnet import mouth_region

__all__ = ["TTSItems", "SyncItems", "TFGPairItems", "JointWindowItems", "IdentityViewItems", "shard_fps", "moving_face", "pick_frame", "clip_mel", "shard_mel_stats", "clip_generator",
           "unit_frames", "usable_frames"]

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


def shard_fps(root: str | Path) -> float:
    """The video rate of a shard folder (its ``index.json`` settings; 25 when not recorded)."""
    shard_paths(root)  # a clear error when there is no index
    settings = json.loads((Path(root) / "index.json").read_text(encoding="utf-8")).get("settings") or {}
    return float(settings.get("fps", 25.0))


def clip_generator(key: str, seed: int) -> torch.Generator:
    """A generator seeded by a clip's key and ``seed`` (the same draws whatever the clip order)."""
    return torch.Generator().manual_seed(int(hashlib.sha1(f"{seed}/{key}".encode()).hexdigest()[:12], 16))


def unit_frames(frames: np.ndarray, size: int) -> torch.Tensor:
    """Aligned crops ``(N, S, S, 3) uint8`` -> ``(N, 3, size, size)`` float in [-1, 1] (area
    resampling when ``size`` differs from ``S``)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    if x.shape[-1] != size:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="area" if x.shape[-1] > size else "bilinear")
    return x


def moving_face(sample: dict[str, Any]) -> bool:
    """False for a still portrait with speech (the ``speech`` layout's samples): the stages that
    learn lip sync or motion (SyncNet, TFG pairs, joint windows, motion sampler) skip it; the TTS
    and the audio mapper use it."""
    return not sample["meta"].get("still", False)


def usable_frames(quality: np.ndarray) -> np.ndarray:
    """Indices of the frames whose face was found (quality bit 1 clear; profile / small / low
    score frames stay: they are real head motion)."""
    return np.flatnonzero((np.asarray(quality) & 1) == 0)


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
    estimate the gender score (else 0); ``identity``: encoder checkpoint ("" = bundled);
    ``face_cache``: a :mod:`facespeak.data.shards.face_cache` folder with every clip's condition
    computed once (clips not in it are skipped), instead of face analysis per streamed clip."""

    spec: MelSpec
    cond: str = "f_id"
    gender: bool = False
    max_seconds: float = 11.0
    identity: str = ""
    face_cache: str = ""

    def __post_init__(self) -> None:
        self._models: Any = None
        self._cache: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_models": None, "_cache": None}  # workers load their own

    def cached_condition(self, key: str) -> tuple[np.ndarray, float] | None:
        """The clip's condition from ``face_cache`` (None: not in it)."""
        if self._cache is None:
            # lazy: face_cache imports this module (it builds the cache with TTSItems)
            from .face_cache import FaceCache

            self._cache = FaceCache(self.face_cache, self)
        return self._cache.get(key)

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

            estimate = estimate_gender(frame, faces[0])
            score = gender_score(estimate.p_female, child=estimate.is_child)  # as at inference
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
        if self.face_cache:
            face = self.cached_condition(sample["key"])
        else:
            face = self.face_condition(sample["frames"][pick_frame(sample["quality"])])
        if face is None:
            log.debug("skipping %s: no face in its aligned crop (or not in the face cache)", sample["key"])
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
        if not moving_face(sample):
            return []
        fps = float(sample["meta"].get("fps", 25.0))
        per_frame = self.spec.frame_rate / fps
        mel = torch.from_numpy(clip_mel(sample["audio"], sample["sample_rate"], self.spec))
        # window starts v with frames v .. v + frames - 1 and mel frames round(v * per_frame) + mel_frames
        n_windows = min(len(sample["frames"]) - self.frames, int((mel.shape[1] - self.mel_frames) / per_frame)) + 1
        if n_windows <= 2 * self.min_offset:
            return []
        crops = torch.from_numpy(np.ascontiguousarray(sample["frames"])).permute(0, 3, 1, 2)  # (T_video, 3, S, S)
        g = clip_generator(sample["key"], self.seed)
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


@dataclass
class TFGPairItems:
    """Sample -> ``pairs`` items ``{"source": (3, size, size), "driving": (3, size, size)}`` in
    [-1, 1]: two frames of the clip (LIA's self-reenactment pairs), drawn among the frames with a
    face; ``max_gap`` > 0 keeps the driving frame within that many frames of the source. ``[]``
    for a clip with fewer than two such frames. Only the chosen frames are converted."""

    size: int
    pairs: int = 8
    max_gap: int = 0
    seed: int = 0

    def __call__(self, sample: dict[str, Any]) -> list[dict[str, torch.Tensor]]:
        ok = usable_frames(sample["quality"])
        if len(ok) < 2 or not moving_face(sample):
            return []
        g = clip_generator(sample["key"], self.seed)
        picks = []
        for _ in range(self.pairs):
            s = int(ok[int(torch.randint(len(ok), (1,), generator=g))])
            near = ok[np.abs(ok - s) <= self.max_gap] if self.max_gap > 0 else ok
            picks.append((s, int(near[int(torch.randint(len(near), (1,), generator=g))])))
        frames = sample["frames"]
        return [{"source": unit_frames(frames[s:s + 1], self.size)[0],
                 "driving": unit_frames(frames[d:d + 1], self.size)[0]} for s, d in picks]


@dataclass
class JointWindowItems:
    """Sample -> ``windows`` joint-stage items (:class:`facespeak.data.talking_clips.TalkingClipDataset`'s
    format, collated by :func:`facespeak.data.talking_clips.collate_clips`): ``frames (W, 3, size,
    size)`` from ``v0``, a ``source`` frame with a face, the whole utterance's ``ids`` (from the
    shard's phonemes) and TTS ``mel`` at ``tts_mel``, ``mel_start`` (the TTS mel frame at ``v0``),
    ``sync_mel`` (``sync_mel`` analysis under the first ``sync_frames`` frames). ``[]`` for a clip
    without a transcript, longer than ``max_seconds``, shorter than ``W`` frames or than its ids."""

    size: int
    window_frames: int
    tts_mel: MelSpec
    sync_mel: MelSpec
    fps: float = 25.0
    sync_frames: int = 5
    windows: int = 1
    max_seconds: float = 11.0
    seed: int = 0

    def __post_init__(self) -> None:
        self._front: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_front": None}

    def _ids(self, phonemes: str) -> np.ndarray:
        if self._front is None:
            self._front = TextFrontend(TextConfig())
        return np.asarray(self._front.encode_phonemes(phonemes), np.int64)

    def __call__(self, sample: dict[str, Any]) -> list[dict[str, Any]]:
        meta, frames, w = sample["meta"], sample["frames"], self.window_frames
        ok = usable_frames(sample["quality"])
        if not meta.get("phonemes") or float(meta.get("duration_s", 0.0)) > self.max_seconds or len(frames) < w \
                or len(ok) == 0 or not moving_face(sample):
            return []
        ids = self._ids(meta["phonemes"])
        mel = clip_mel(sample["audio"], sample["sample_rate"], self.tts_mel)
        mel_rate, sync_rate = self.tts_mel.frame_rate / self.fps, self.sync_mel.frame_rate / self.fps
        mel_window = int(round(w * mel_rate))
        if len(ids) == 0 or mel.shape[1] < max(len(ids), mel_window):
            return []
        sync = clip_mel(sample["audio"], sample["sample_rate"], self.sync_mel)
        sync_window = int(round(self.sync_frames * sync_rate))
        g = clip_generator(sample["key"], self.seed)
        out = []
        for _ in range(self.windows):
            v0 = int(torch.randint(len(frames) - w + 1, (1,), generator=g))
            s = int(ok[int(torch.randint(len(ok), (1,), generator=g))])
            m0 = max(0, min(int(round(v0 * mel_rate)), mel.shape[1] - mel_window))
            sync_win = pad_time(sync, int(round(v0 * sync_rate)), sync_window, float(np.log(self.sync_mel.log_floor)))
            out.append({"frames": unit_frames(frames[v0:v0 + w], self.size),
                        "source": unit_frames(frames[s:s + 1], self.size)[0], "ids": ids, "mel": mel, "mel_start": m0,
                        "sync_mel": torch.from_numpy(sync_win), "log_floor": float(np.log(self.tts_mel.log_floor)),
                        "mel_window": mel_window})
        return out


@dataclass
class IdentityViewItems:
    """Sample -> up to ``frames`` items ``{"input": (INPUT_DIM,) float32, "targets":
    (N_MOTION_TARGETS,) float32, "person": speaker, "key": clip key, "frame": index}``: the
    identity encoder's input (:func:`facespeak.face.identity.identity_input`) and measured motion
    of frames spread over the clip (one per equal part, drawn by the clip key's generator), where
    the face analyser finds a face in the aligned crop."""

    frames: int = 4
    seed: int = 0

    def __call__(self, sample: dict[str, Any]) -> list[dict[str, Any]]:
        ok = usable_frames(sample["quality"])
        if len(ok) == 0:
            return []
        g = clip_generator(sample["key"], self.seed)
        parts = np.array_split(ok, min(self.frames, len(ok)))
        out = []
        for part in parts:
            i = int(part[int(torch.randint(len(part), (1,), generator=g))])
            frame = np.ascontiguousarray(sample["frames"][i])
            faces = analyse_faces(frame, max_faces=1)
            if faces:
                out.append({"input": identity_input(frame, faces[0]).astype(np.float32),
                            "targets": motion_targets(faces[0]).astype(np.float32),
                            "person": str(sample["meta"].get("speaker", "")), "key": sample["key"], "frame": i})
        return out

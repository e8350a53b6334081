"""Score one talking-face video (frames + speech) against its source portrait and text, and
against a reference clip when there is one. Shared by ``facespeak eval MANIFEST``
(:mod:`.manifest`) and the paper protocol (:mod:`.protocol`).

Per video (see docs/evaluation.md for every definition):

1. decode (:func:`facespeak.video.reader.read_video`) and track one face (mesh + pose);
2. video metrics: lip-sync proxy, DIV, jitter, ID-SIM (dlib, vs the portrait), LMD (vs the
   reference's landmarks);
3. speech metrics: WER (Whisper base, VAD on), median F0 and voice-face gender agreement, and
   against reference speech C-SIM (Resemblyzer), F0 RMSE and MCD (DTW);
4. features kept for set-level numbers and plots: Inception features of evenly spaced frames
   (FID), identity-encoder ``f`` / ``f_id`` (Fig. 5), per-frame curves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facespeak.core.errors import InputError

from facespeak.audio.asr import load_whisper_base, transcribe, wer
from facespeak.audio.io import resample
from facespeak.face.gender import estimate_gender
from facespeak.face.identity import IdentityExtractor, face_descriptor
from facespeak.video.reader import read_video
from .features import (
    FaceTrack, evenly_spaced, frame_descriptors, identity_feature_sets, inception_features, track_faces,
)
from .metrics.face import gender_agrees, identity_similarity
from .metrics.speech import f0_rmse, mcd, median_f0, speaker_embedding
from .metrics.video import (
    LipSyncConfig,
    envelope_db,
    landmark_distance,
    landmark_jitter,
    lip_sync_proxy,
    mouth_opening,
    pose_diversity,
    speech_envelope,
)

__all__ = ["AVEvalConfig", "ClipMedia", "Scored", "Scorer", "load_media"]

log = logging.getLogger(__name__)


@dataclass
class AVEvalConfig:
    """What a talking-face evaluation generates and measures (CLI flags map 1:1)."""

    seed: int = 0
    steps: int = 10  # flow-matching ODE steps of our TTS
    temperature: float | None = None  # None = the shipped default (pipeline.SpeechOptions)
    size: str = "256"  # output size of generated videos ("256", "512", "full")
    still: bool = False
    tts_weights: str | None = None
    lip: LipSyncConfig = field(default_factory=LipSyncConfig)
    id_frames: int = 16  # frames per video for ID-SIM (dlib, ~0.1 s each)
    fid_frames: int = 16  # frames per video for FID
    feature_frames: int = 24  # frames per video for the f / f_id map
    wer: bool = True
    phoneme_timings: bool = True  # bilabial timings from the speech our video was made with

    @classmethod
    def tiny(cls) -> "AVEvalConfig":
        return cls(steps=2, id_frames=3, fid_frames=4, feature_frames=4)


@dataclass(eq=False)
class ClipMedia:
    """A decoded video: frames ``(T_video, H, W, 3) uint8``, mono audio ``(T_wav,)`` float32 at
    ``sample_rate`` Hz (or None), ``fps``, and its face track."""

    path: str
    frames: np.ndarray = field(repr=False)
    audio: np.ndarray | None = field(repr=False)
    sample_rate: int | None
    fps: float
    track: FaceTrack = field(repr=False)


def load_media(path: str | Path) -> ClipMedia:
    """Decode ``path`` and track its face in every frame."""

    data = read_video(path)
    if data.info.fps <= 0:
        raise InputError(f"{path}: expected a constant frame rate, the container says {data.info.fps}")
    return ClipMedia(str(path), data.frames, data.audio, data.info.sample_rate, data.info.fps, track_faces(data.frames))


@dataclass(eq=False)
class Scored:
    """One video's numbers (``metrics``, JSON-ready), plot curves and kept features."""

    metrics: dict[str, Any]
    curves: dict[str, Any] = field(repr=False)
    inception: np.ndarray = field(repr=False)  # (N, 2048)
    f: np.ndarray = field(repr=False)  # (N, D_id)
    f_id: np.ndarray = field(repr=False)  # (N, D_id)


def _speech_metrics(scorer: "Scorer", wav: np.ndarray, sr: int, text: str | None, portrait: Any,
                    reference: tuple[np.ndarray, int] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"median_f0_hz": median_f0(wav, sr) if wav.size else float("nan")}
    if portrait is not None:
        est = estimate_gender(portrait.image, portrait.face)
        out.update(face_gender=est.label, face_p_female=est.p_female,
                   gender_agrees=gender_agrees(out["median_f0_hz"], est.label))
    if text and scorer.cfg.wer:
        hyp = transcribe(wav, sr, model=scorer.asr()) if wav.size else ""
        out.update(wer=wer(text, hyp), hypothesis=hyp)
    if reference is not None and wav.size and reference[0].size:
        ref = resample(reference[0], reference[1], sr)
        out.update(c_sim=scorer.c_sim(wav, ref, sr), f0_rmse_hz=f0_rmse(ref, wav, sr), mcd_db=mcd(ref, wav, sr))
    return out


def _video_metrics(cfg: AVEvalConfig, media: ClipMedia, bilabials_s: np.ndarray | None,
                   reference: ClipMedia | None) -> tuple[dict[str, Any], dict[str, Any]]:
    track = media.track
    opening = mouth_opening(track.landmarks)
    audio = media.audio if media.audio is not None else np.zeros(0, np.float32)
    env = speech_envelope(audio, media.sample_rate or 1, media.fps, n_frames=len(media.frames))
    lip = lip_sync_proxy(opening, env, media.fps, cfg.lip, bilabials_s)
    out: dict[str, Any] = {"frames": len(media.frames), "fps": media.fps, "duration_s": len(media.frames) / media.fps,
                           "face_found": float(track.found.mean())}
    out.update({f"lip_{k}": v for k, v in lip.to_dict().items()})
    out.update(pose_diversity(track.pose))
    out["jitter"] = landmark_jitter(track.landmarks)
    if reference is not None:
        out["lmd_mouth"] = landmark_distance(track.landmarks, reference.track.landmarks)
        out["lmd_face"] = landmark_distance(track.landmarks, reference.track.landmarks, points=None)
    curves = {"opening": opening.tolist(), "envelope_db": envelope_db(env, cfg.lip.floor_db).tolist(),
              "pose": track.pose.tolist(), "fps": media.fps}
    return out, curves


class Scorer:
    """Holds the lazily loaded scoring models (Whisper, identity encoder) across videos."""

    def __init__(self, cfg: AVEvalConfig) -> None:
        self.cfg = cfg
        self._asr: Any = None
        self._identity: Any = None

    def asr(self) -> Any:
        if self._asr is None:
            self._asr = load_whisper_base(cpu_threads=1)
        return self._asr

    def identity(self) -> Any:
        if self._identity is None:
            self._identity = IdentityExtractor.from_bundled()
        return self._identity

    @staticmethod
    def c_sim(wav: np.ndarray, ref: np.ndarray, sr: int) -> float:
        """Resemblyzer cosine between two utterances (VAD trimming; untrimmed if no voice found)."""

        def emb(x: np.ndarray) -> np.ndarray:
            try:
                return speaker_embedding(x, sr)
            except InputError:
                return speaker_embedding(x, sr, vad=False)
        return float(np.dot(emb(wav), emb(ref)))

    def score(self, media: ClipMedia, portrait: Any, text: str | None, reference: ClipMedia | None = None,
              reference_audio: tuple[np.ndarray, int] | None = None, bilabials_s: np.ndarray | None = None) -> Scored:
        """All metrics of one video. ``portrait``: the analysed source
        (:class:`facespeak.face.analysis.Portrait`) or None; ``reference_audio`` defaults to the
        reference clip's sound."""

        metrics, curves = _video_metrics(self.cfg, media, bilabials_s, reference)
        if portrait is not None:
            src = face_descriptor(portrait.image, portrait.face)
            metrics.update(identity_similarity(src, frame_descriptors(media.frames, media.track, self.cfg.id_frames)))
        if reference_audio is None and reference is not None and reference.audio is not None:
            reference_audio = (reference.audio, int(reference.sample_rate or 0))
        if media.audio is not None and media.sample_rate:
            metrics.update(_speech_metrics(self, media.audio, media.sample_rate, text, portrait, reference_audio))

        idx = evenly_spaced(media.track, self.cfg.fid_frames) or list(range(min(len(media.frames), self.cfg.fid_frames)))
        inc = inception_features(media.frames[idx]) if len(idx) else np.zeros((0, 2048))
        f, f_id = identity_feature_sets(media.frames, media.track, self.cfg.feature_frames, self.identity())
        return Scored(metrics, curves, inc, f, f_id)

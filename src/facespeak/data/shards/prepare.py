"""One clip -> one WebDataset sample: aligned face frames, 16 kHz audio, text, pose, mesh, flags.

A sample (``__key__`` = the clip's :attr:`ClipRecord.key`) holds these members, each bytes:

- ``mp4``: the aligned face crops ``(T_video, size, size, 3)`` as H.264 (yuv420p, ``fps``, no
  audio); faces tracked per frame and aligned to the TFG template, smoothed over time
  (:func:`facespeak.data.talking_clips.alignment_matrices`);
- ``wav``: ``(T_wav,)`` mono 16-bit PCM at ``sample_rate`` (16 kHz), trimmed or padded to
  exactly ``T_video / fps`` seconds;
- ``txt``: the transcript ("" where the dataset has none);
- ``pose.npy``: ``(T_video, 3) float32`` head yaw, pitch, roll in degrees
  (:mod:`facespeak.face.pose`), NaN where no face was found;
- ``mesh.npy``: ``(T_video, 478, 3) float16`` face mesh in aligned-crop px (z in the same
  scale), NaN where no face was found;
- ``quality.npy``: ``(T_video,) uint8`` per-frame flags, the bits of :data:`QUALITY_BITS`;
- ``json``: dataset, split, speaker, source path, fps, size, sample rate, ``n_frames``,
  ``duration_s``, transcript, ``phonemes`` (IPA, :meth:`facespeak.text.TextFrontend.phonemize`;
  "" without transcript), ``words`` (``[word, start_s, end_s]`` rows where the dataset gives
  them), ``source_fps``, ``source_size`` and a ``quality`` summary (fraction of frames per flag).

A still portrait with its speech (the ``speech`` layout: an image as the record's ``video``,
the utterance as its ``audio``) becomes the same members: the portrait aligned once and repeated
for ``round(duration * fps)`` frames, the audio fitted to them; ``json`` adds ``still: true``
and ``audio_source`` (``source_fps`` 0). The stages that learn lip sync or motion skip such
samples (:func:`facespeak.data.shards.stage_items.moving_face`).
"""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...audio.io import load_audio, resample
from ...core.errors import InputError
from .layouts import IMAGE_SUFFIXES, ClipRecord
from ..talking_clips import alignment_matrices, resample_frame_indices, track_faces, warp_crops
from ...video.reader import read_video
from ...video.writer import VideoConfig, write_video

__all__ = ["ShardConfig", "QUALITY_BITS", "prepare_clip", "encode_sample"]

#: per-frame quality flags: bit value -> meaning
QUALITY_BITS: dict[int, str] = {
    1: "no_face",  # no face found; alignment carried over from a neighbouring frame
    2: "profile",  # |yaw| > facespeak.face.analysis.PROFILE_YAW_DEG
    4: "small_face",  # detector box shorter side < facespeak.face.analysis.MIN_FACE_SIDE px
    8: "low_score",  # detector confidence < LOW_SCORE
}
LOW_SCORE = 0.7
MAX_AV_MISMATCH_S = 0.5  # audio and video durations further apart than this: the clip is refused


@dataclass
class ShardConfig:
    """dataset: layout name (:data:`facespeak.data.shards.layouts.LAYOUTS`); root: dataset folder;
    out: shard folder; size: aligned crop px; fps: output video rate; sample_rate: audio Hz;
    crop_scale / smooth_frames: as :class:`facespeak.data.talking_clips.TalkingClipsConfig`;
    crf: x264 quality of the face video; clips_per_shard: samples per tar; workers: processes
    on this machine; part / parts: this job's share (``--shard part/parts``); max_clips: use
    only the first N clips of the sorted list (0: all); faces: the ``speech`` layout's portraits
    (a JSON file ``{speaker: [image, ...]}``)."""

    dataset: str = "folder"
    root: str = "corpus/talking"
    out: str = "corpus/shards"
    size: int = 256
    fps: float = 25.0
    sample_rate: int = 16000
    crop_scale: float = 0.75
    smooth_frames: int = 5
    crf: int = 18
    clips_per_shard: int = 64
    workers: int = 1
    part: int = 0
    parts: int = 1
    max_clips: int = 0
    faces: str = ""

    def output_settings(self) -> dict[str, Any]:
        """The settings a resumed run must share with the shards already written (those that
        change a sample; ``max_clips`` and ``clips_per_shard`` may change, e.g. a trial grown
        into the full run)."""
        settings = {"dataset": self.dataset, "size": self.size, "fps": self.fps, "sample_rate": self.sample_rate,
                    "crop_scale": self.crop_scale, "smooth_frames": self.smooth_frames, "crf": self.crf}
        return {**settings, "faces": self.faces} if self.faces else settings


def _load_media(rec: ClipRecord, cfg: ShardConfig) -> tuple[np.ndarray, np.ndarray, Any]:
    """(source frames ``(T_src, H, W, 3) uint8``, audio ``(T_wav,)`` at ``cfg.sample_rate``, VideoInfo)."""

    data = read_video(rec.video)
    if len(data.frames) == 0 or not data.info.fps:
        raise InputError(f"{rec.video}: expected video frames, found none")
    if rec.audio is not None:
        audio = load_audio(rec.audio, cfg.sample_rate)
    elif data.audio is not None and data.info.sample_rate and len(data.audio):
        audio = resample(data.audio.astype(np.float32), int(data.info.sample_rate), cfg.sample_rate)
    else:
        raise InputError(f"{rec.video}: expected an audio track (or a separate audio file), found none")
    return data.frames, audio, data.info


def _fit_audio(audio: np.ndarray, n_frames: int, cfg: ShardConfig, name: str) -> np.ndarray:
    """Trim or zero-pad ``(T_wav,)`` to ``n_frames / fps`` s; refuse a larger mismatch than
    :data:`MAX_AV_MISMATCH_S`."""
    n = int(round(n_frames / cfg.fps * cfg.sample_rate))
    gap = abs(len(audio) - n) / cfg.sample_rate
    if gap > MAX_AV_MISMATCH_S:
        raise InputError(f"{name}: audio lasts {len(audio) / cfg.sample_rate:.2f} s but video "
                         f"{n / cfg.sample_rate:.2f} s (more than {MAX_AV_MISMATCH_S} s apart)")
    return np.pad(audio[:n], (0, max(0, n - len(audio))))


def _face_tracks(faces: list[Any], mats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: pose ``(T, 3)``, crop-px mesh ``(T, 478, 3)`` (NaN without a face), flags ``(T,) uint8``."""
    # lazy: loads cv2 (the CLI imports this module at start)
    from ...face.align import crop_landmarks
    # lazy: loads cv2 (the CLI imports this module at start)
    from ...face.analysis import MIN_FACE_SIDE, N_LANDMARKS, PROFILE_YAW_DEG

    t = len(faces)
    pose = np.full((t, 3), np.nan, np.float32)
    mesh = np.full((t, N_LANDMARKS, 3), np.nan, np.float32)
    flags = np.zeros(t, np.uint8)
    for i, (face, mat) in enumerate(zip(faces, mats)):
        if face is None:
            flags[i] = 1
            continue
        pose[i] = face.pose
        mesh[i] = crop_landmarks(face, mat)
        flags[i] = (2 * (abs(face.pose[0]) > PROFILE_YAW_DEG) + 4 * (face.short_side < MIN_FACE_SIDE)
                    + 8 * (face.score < LOW_SCORE))
    return pose, mesh, flags


def _encode_mp4(crops: np.ndarray, cfg: ShardConfig) -> bytes:
    with tempfile.TemporaryDirectory(prefix="facespeak-shard-") as tmp:
        path = Path(tmp) / "faces.mp4"
        write_video(path, crops, config=VideoConfig(fps=cfg.fps, crf=cfg.crf, preset="veryfast"))
        return path.read_bytes()


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _wav(audio: np.ndarray, rate: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1.0, 1.0), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _clip_media(rec: ClipRecord, cfg: ShardConfig) -> tuple[np.ndarray, np.ndarray, list[Any], dict[str, Any]]:
    """A video clip -> frames ``(T_video, H, W, 3)`` at ``cfg.fps``, its audio fitted to them, the
    face of each frame, and the source's description."""
    frames, audio, info = _load_media(rec, cfg)
    frames = frames[resample_frame_indices(len(frames), info.fps, cfg.fps)]
    if len(frames) == 0:
        raise InputError(f"{rec.video}: expected at least one frame at {cfg.fps} fps, found none")
    audio = _fit_audio(audio, len(frames), cfg, str(rec.video))
    return frames, audio, track_faces(frames), {"source_fps": info.fps, "source_size": list(info.size)}


def _still_media(rec: ClipRecord, cfg: ShardConfig) -> tuple[np.ndarray, np.ndarray, list[Any], dict[str, Any]]:
    """A still portrait and its speech (the ``speech`` layout) -> the portrait repeated for as
    many frames as the speech lasts (a view, not copies), the audio, the face found once."""
    # lazy: loads cv2 (the CLI imports this module at start)
    from ...face.image_io import load_image

    image = load_image(rec.video)
    if rec.audio is None:
        raise InputError(f"{rec.video}: a still portrait needs its speech (an audio file), found none")
    audio = load_audio(rec.audio, cfg.sample_rate)
    n = max(1, int(round(len(audio) / cfg.sample_rate * cfg.fps)))
    frames = np.broadcast_to(image, (n, *image.shape))
    source = {"source_fps": 0.0, "source_size": [image.shape[1], image.shape[0]], "still": True,
              "audio_source": str(rec.audio)}
    return frames, _fit_audio(audio, n, cfg, str(rec.audio)), track_faces(frames[:1]) * n, source


def prepare_clip(rec: ClipRecord, cfg: ShardConfig, front: Any) -> dict[str, Any]:
    """Decode, track, align and describe one clip (module docstring), or a still portrait with
    its speech (``meta["still"]``); ``front`` is a :class:`facespeak.text.TextFrontend`. Returns
    the arrays and metadata, not yet encoded (:func:`encode_sample`). A clip that cannot be used
    raises a :class:`FacespeakError`."""
    still = rec.video.suffix.lower() in IMAGE_SUFFIXES
    frames, audio, faces, source = (_still_media if still else _clip_media)(rec, cfg)
    mats = alignment_matrices(faces, cfg.size, cfg.crop_scale, cfg.smooth_frames, str(rec.video))
    crops = warp_crops(frames, mats, cfg.size)
    pose, mesh, flags = _face_tracks(faces, mats)
    text = rec.transcript or ""
    phonemes = front.phonemize(text) if text.strip() else ""
    meta = {"dataset": cfg.dataset, "key": rec.key, "split": rec.split, "speaker": rec.speaker,
            "source": str(rec.video), "fps": cfg.fps, "size": cfg.size, "sample_rate": cfg.sample_rate,
            "n_frames": len(crops), "duration_s": len(crops) / cfg.fps, "transcript": text, "phonemes": phonemes,
            "words": [list(w) for w in rec.words], **source,
            "quality": {name: float(np.mean((flags & bit) > 0)) for bit, name in QUALITY_BITS.items()}}
    return {"key": rec.key, "crops": crops, "audio": audio, "pose": pose, "mesh": mesh, "flags": flags, "meta": meta}


def encode_sample(clip: dict[str, Any], cfg: ShardConfig) -> dict[str, Any]:
    """:func:`prepare_clip`'s result -> a WebDataset sample (``__key__`` + bytes per member)."""
    return {"__key__": clip["key"], "mp4": _encode_mp4(clip["crops"], cfg), "wav": _wav(clip["audio"], cfg.sample_rate),
            "txt": clip["meta"]["transcript"].encode("utf-8"), "pose.npy": _npy(clip["pose"]),
            "mesh.npy": _npy(clip["mesh"].astype(np.float16)), "quality.npy": _npy(clip["flags"]),
            "json": json.dumps(clip["meta"], ensure_ascii=False).encode("utf-8")}

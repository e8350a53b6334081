"""Read a video's frames, frame rate and audio with PyAV (tests; tracking real video)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from .writer import _import_av

__all__ = ["VideoInfo", "VideoData", "probe_video", "iter_frames", "read_video"]


@dataclass(frozen=True)
class VideoInfo:
    """Stream facts. Durations in seconds (from decoded content when ``read_video`` filled them)."""

    video_codec: str
    audio_codec: str | None
    fps: float
    size: tuple[int, int]  # (H, W)
    n_frames: int
    sample_rate: int | None
    video_duration_s: float
    audio_duration_s: float | None


@dataclass(frozen=True, eq=False)
class VideoData:
    """frames ``(T_video, H, W, 3) uint8`` RGB; audio ``(T_wav,) float32`` mono or None."""

    frames: np.ndarray = field(repr=False)
    audio: np.ndarray | None = field(repr=False)
    info: VideoInfo


def _open(path: str | Path):
    av = _import_av()
    p = Path(path)
    if not p.is_file():
        raise InputError(f"video file not found: {p}")
    try:
        return av.open(str(p))
    except av.error.FFmpegError as e:
        raise InputError(f"cannot read {p} as a video: {e}") from e


def probe_video(path: str | Path) -> VideoInfo:
    """Codec names, fps, size and durations from the container headers (no decoding)."""
    with _open(path) as c:
        if not c.streams.video:
            raise InputError(f"{path}: expected a video stream, found none")
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None
        fps = float(v.average_rate or v.guessed_rate or 0.0)
        vdur = float(v.duration * v.time_base) if v.duration else float(v.frames) / fps if fps else 0.0
        adur = float(a.duration * a.time_base) if a is not None and a.duration else None
        return VideoInfo(v.codec_context.name, a.codec_context.name if a is not None else None, fps,
                         (v.height, v.width), int(v.frames), a.sample_rate if a is not None else None, vdur, adur)


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Decoded ``(H, W, 3) uint8`` RGB frames, one at a time (constant memory)."""
    with _open(path) as c:
        if not c.streams.video:
            raise InputError(f"{path}: expected a video stream, found none")
        stream = c.streams.video[0]
        stream.thread_count = 1
        for frame in c.decode(stream):
            yield frame.to_ndarray(format="rgb24")


def _read_audio(path: str | Path) -> np.ndarray | None:
    with _open(path) as c:
        if not c.streams.audio:
            return None
        parts = [f.to_ndarray().astype(np.float32).reshape(f.to_ndarray().shape[0], -1)
                 for f in c.decode(c.streams.audio[0])]
    if not parts:
        return np.zeros(0, np.float32)
    audio = np.concatenate(parts, axis=1)
    return audio.mean(axis=0) if audio.shape[0] > 1 else audio[0]


def read_video(path: str | Path) -> VideoData:
    """Decode everything: frames, mono audio (channels averaged, codec padding removed) and
    durations measured from the decoded content."""
    head = probe_video(path)
    frames = np.stack(list(iter_frames(path)))
    audio = _read_audio(path)
    if audio is not None and head.audio_duration_s and head.sample_rate:
        # AAC decodes whole 1024-sample frames; the container's duration says where the
        # written audio ends (the rest is encoder padding)
        audio = audio[: int(round(head.audio_duration_s * head.sample_rate))]
    fps = head.fps
    info = VideoInfo(head.video_codec, head.audio_codec, fps, head.size, len(frames), head.sample_rate,
                     len(frames) / fps if fps else 0.0,
                     len(audio) / head.sample_rate if audio is not None and head.sample_rate else None)
    return VideoData(frames, audio, info)

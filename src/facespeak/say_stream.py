"""Bounded-memory speech for `facespeak say` (facespeak.pipeline.say): each synthesised chunk's
audio goes to the MP4 writer as soon as it exists, and only what the motion stage needs is kept.

What can stream and what cannot (docs/architecture.md "Streaming"): the motion of the whole
utterance is planned at once, because the same seed must give the same video and the learned
motion is not chunk-local (the motion sampler's windows are laid out from the sequence end, the
pose is low-passed across chunk joins, and the silence gate's levels are relative to the
loudest frame of the whole clip). Motion arrays are small (12 floats per video frame); the
audio, the mels and the rendered frames are what cost memory, and none of them is held: audio
is encoded chunk by chunk (:meth:`facespeak.video.writer.VideoWriter.add_audio`), the loudness
per video frame is measured on the way (:class:`FrameLevels`), and the frames are rendered and
encoded one at a time after the motion plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .audio.levels import relative_db
from .core.cancel import CancelToken, check_cancel
from .core.errors import InputError
from .core.progress import MUX, RENDER, StageClock
from .motion.audio_mapper import upsample_text
from .text.captions import SpokenChunk

__all__ = ["SayResult", "FrameLevels", "MotionInputs", "SpeechStream", "encode_frames", "pooled_features"]


@dataclass
class SayResult:
    """What :func:`facespeak.pipeline.say` wrote."""
    path: Path
    n_frames: int
    fps: float
    duration_s: float
    face_index: int
    n_faces: int
    timings: dict[str, float] = field(default_factory=dict)  # s per stage (core.progress), first_*_s, total_s
    chunks: list[Any] = field(default_factory=list)  # the speech the video shows: SpeechChunks or SpokenChunks
    sample_rate: int = 0


class FrameLevels:
    """Incremental :func:`facespeak.audio.levels.frame_rms`: audio pushed piece by piece ->
    ``(T_video,)`` RMS per video frame, equal bit for bit to ``frame_rms`` of the joined audio
    (each frame's samples are reduced in one piece, as there). Holds less than one frame of audio.
    """
    def __init__(self, sample_rate: int, fps: float) -> None:
        self.sample_rate, self.fps = int(sample_rate), float(fps)
        self.rms: list[float] = []  # finished frames
        self._buf = np.zeros(0)  # float64 samples from bound(len(rms)) on
        self._base = 0  # global index of _buf[0]

    def _bound(self, t: int) -> int:
        """First sample of video frame ``t`` (frame_rms's rounding of ``t * sample_rate / fps``)."""
        return int(np.round(np.arange(t, t + 1) * self.sample_rate / self.fps)[0])

    def push(self, samples: np.ndarray) -> None:
        """Append ``(T,)`` samples; every frame whose interval is now complete is measured."""
        self._buf = np.concatenate([self._buf, np.asarray(samples, dtype=np.float64)])
        while self._bound(len(self.rms) + 1) - self._base <= len(self._buf):
            self._measure(len(self.rms))
        cut = self._bound(len(self.rms)) - self._base
        self._buf, self._base = self._buf[cut:], self._base + cut

    def _measure(self, t: int) -> None:
        seg = self._buf[self._bound(t) - self._base:self._bound(t + 1) - self._base]
        self.rms.append(float(np.sqrt(np.mean(seg**2))) if seg.size else 0.0)

    def finish(self, n_frames: int) -> np.ndarray:
        """The ``(n_frames,)`` envelope: the last partial frame from the samples left, frames
        past the audio's end 0 (as ``frame_rms``). Call once, after the last push."""
        while len(self.rms) < n_frames:
            self._measure(len(self.rms))
        return np.asarray(self.rms[:n_frames], dtype=np.float64)


@dataclass
class MotionInputs:
    """What the motion stage reads of one speech chunk (facespeak.pipeline.plan_motion): ``ids``
    and ``durations`` (T_text,) mel frames per symbol, ``e_t`` (C, T_text), ``mu_y``
    (n_mels, T_mel). Its audio and mel are not kept."""
    text: str
    ids: list[int]
    durations: np.ndarray
    e_t: np.ndarray
    mu_y: np.ndarray


class SpeechStream:
    """Consumes speech chunks (:class:`facespeak.pipeline.SpeechChunk`) in order, joined by
    ``pause_s`` of silence as :meth:`facespeak.pipeline.FaceSpeak.speak` joins them: the audio
    goes to ``writer.add_audio`` at once and into the frame levels; kept per chunk are its
    :class:`MotionInputs` and, for the caller, the chunk itself (``keep_chunks``) or its
    :class:`facespeak.text.captions.SpokenChunk` (text, ids, durations, sample count).
    """
    def __init__(self, writer: Any, sample_rate: int, fps: float, pause_s: float, keep_chunks: bool = True,
                 clock: StageClock | None = None) -> None:
        self.writer, self.sample_rate, self.fps, self.keep_chunks = writer, int(sample_rate), float(fps), keep_chunks
        self.pause = np.zeros(int(pause_s * self.sample_rate), dtype=np.float32)
        self.clock = StageClock.of(clock)
        self.levels = FrameLevels(sample_rate, fps)
        self.motion: list[MotionInputs] = []
        self.chunks: list[Any] = []
        self.n_samples = 0

    def _write(self, wav: np.ndarray) -> None:
        with self.clock.stage(MUX):
            self.writer.add_audio(wav)
        self.levels.push(wav)
        self.n_samples += len(wav)

    def add(self, chunk: Any) -> None:
        if self.motion:
            self._write(self.pause)
        self._write(chunk.wav)
        self.motion.append(MotionInputs(chunk.text, chunk.ids, chunk.durations, chunk.e_t, chunk.mu_y))
        self.chunks.append(chunk if self.keep_chunks else SpokenChunk(chunk.text, chunk.ids, chunk.durations, len(chunk.wav)))

    def consume(self, chunks: Iterable[Any]) -> "SpeechStream":
        """Add every chunk; at least an empty audio track is started (no chunk = no speech)."""
        for chunk in chunks:
            self.add(chunk)
        if not self.motion:
            self._write(np.zeros(0, np.float32))
        return self

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate

    @property
    def n_frames(self) -> int:
        """Video frames of the speech: ``ceil(duration * fps)``, at least 1."""
        return max(1, int(np.ceil(self.n_samples / self.sample_rate * self.fps)))

    def level_db(self) -> np.ndarray:
        """``(T_video,)`` speech level per video frame, dB below the loudest (facespeak.audio.levels)."""
        return relative_db(self.levels.finish(self.n_frames))


class _Pooler:
    """Mel-rate feature columns, pushed in order -> ``(T_video, D)`` float32 means per video
    frame, summed in the order and precision of ``video_rate_features`` (float64, one mel frame
    after another), so equal to it bit for bit; holds one unfinished frame's sum."""
    def __init__(self, per_video: float, n_frames: int, dim: int) -> None:
        self.per_video, self.n_frames, self.j = per_video, n_frames, 0
        self.out = np.zeros((n_frames, dim), np.float32)
        self.carry, self.carry_k, self.carry_n = np.zeros(dim), 0, 0

    def add(self, cols: np.ndarray) -> None:
        """``cols`` (D, T) of the next T mel frames."""
        k = np.minimum(((np.arange(self.j, self.j + cols.shape[1]) + 0.5) / self.per_video).astype(int), self.n_frames - 1)
        self.j += cols.shape[1]
        if not len(k):
            return
        if k[0] != self.carry_k:  # the carried frame is complete
            self._emit(self.carry_k, self.carry, self.carry_n)
            self.carry, self.carry_n = np.zeros_like(self.carry), 0
        sums = np.zeros((k[-1] - k[0] + 1, cols.shape[0]))
        sums[0] = self.carry
        np.add.at(sums, k - k[0], cols.astype(np.float64).T)
        counts = np.bincount(k - k[0], minlength=len(sums))
        counts[0] += self.carry_n
        for i in range(len(sums) - 1):
            self._emit(k[0] + i, sums[i], counts[i])
        self.carry, self.carry_k, self.carry_n = sums[-1], k[-1], int(counts[-1])

    def _emit(self, k: int, total: np.ndarray, count: int) -> None:
        self.out[k] = (total / max(count, 1)).astype(np.float32)

    def finish(self) -> np.ndarray:
        self._emit(self.carry_k, self.carry, self.carry_n)
        return self.out


def pooled_features(parts: Sequence[MotionInputs], pause_frames: float, timing: Any, n_frames: int) -> np.ndarray:
    """:func:`facespeak.motion.audio_mapper.concat_speech_features` chunk by chunk, equal to it
    bit for bit: ``parts`` joined by ``pause_frames`` mel frames (the last frame repeated) ->
    ``(T_video, D_in)`` float32, without building the mel-rate ``(D_in, T_mel)`` matrix of the
    whole utterance (float64: 0.19 MB per second of speech, the largest array of a long `say`).
    ``timing``: :class:`facespeak.core.timing.AudioTiming`."""
    per_video, pause = timing.mel_frames_per_video_frame, int(round(pause_frames))
    pooler, last, total = None, None, 0
    for k, part in enumerate(parts):
        e_up = upsample_text(part.e_t, part.durations, part.mu_y.shape[1])
        cols = np.concatenate([e_up, part.mu_y, np.linalg.norm(part.mu_y, axis=0, keepdims=True)], axis=0)
        pooler = pooler or _Pooler(per_video, n_frames, cols.shape[0])
        if k and pause > 0:
            pooler.add(np.repeat(last, pause, axis=1))
            total += pause
        pooler.add(cols)
        last, total = cols[:, -1:], total + cols.shape[1]
    if pooler is None:

        raise InputError("audio mapper: expected at least one speech chunk, got none")
    t_mel = max(total, int(np.ceil(n_frames * per_video)))
    if t_mel > total:  # past the speech: the last mel frame repeated (video_rate_features)
        pooler.add(np.repeat(last, t_mel - total, axis=1))
    return pooler.finish()


def encode_frames(writer: Any, frames: Iterable[np.ndarray], n_frames: int, clock: StageClock,
                  cancel: CancelToken | None = None, progress: bool = False) -> None:
    """Draw ``frames`` ``(H, W, 3) uint8`` one at a time into ``writer`` (a video.writer.VideoWriter):
    each frame is timed as RENDER (drawing) and MUX (encoding), ``cancel`` is checked before it,
    the first one marks ``first_frame_s`` and RENDER progress is reported per frame; ``progress``
    shows a terminal bar."""
    from tqdm import tqdm

    bar = tqdm(frames, total=n_frames, desc="render", unit="frame", disable=not progress)
    for i, frame in enumerate(clock.timed(RENDER, bar)):  # frames are rendered as they are drawn
        check_cancel(cancel)
        with clock.stage(MUX):
            writer.add_frame(frame)
        clock.mark("first_frame_s")
        clock.report(RENDER, (i + 1) / n_frames)

"""`facespeak say` chunk by chunk (facespeak.pipeline.say; docs/architecture.md "say"): each
synthesised chunk's audio goes to the MP4 writer as soon as it exists, and only what the motion
stage needs is kept.

With learned motion and the mesh renderer (the defaults) there is one algorithm, streamed or
not (decisions.md #34): :func:`say_live` synthesises the text in chunks that grow from a short
first one (:func:`growing_split`), plans each chunk's motion as it arrives
(facespeak.motion.streaming.MotionStream), renders and encodes the frames that became final
into a fragmented MP4 (video.writer's live mode) before the next chunk is synthesised, and the
finished file is a remux of those fragments. `say --stream` only hands the fragments out while
they are written, so the streamed and the one-shot `say` give the same file (same seed -> same
frames, samples and bytes). Rules motion and the latent renderer plan the motion of the whole
utterance after all speech (:class:`SpeechStream` keeps each chunk's :class:`MotionInputs`);
audio is still encoded chunk by chunk and frames one at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .audio.levels import relative_db
from .core.cancel import CancelToken, check_cancel
from .core.errors import InputError
from .core.progress import MOTION, MUX, RENDER, StageClock
from .motion.audio_mapper import upsample_text
from .motion.streaming import MotionStream, StreamMotionConfig
from .text.captions import SpokenChunk
from .text.sentences import ends_phrase, ends_sentence, pause_after, phrase_breaks, split_text
from .tfg.mesh_space import EXPRESSION_NAMES

__all__ = ["SayResult", "FrameLevels", "MotionInputs", "SpeechStream", "encode_frames", "STREAM_CHUNK_CHARS",
           "FIRST_CHUNK_REACH", "growing_split", "TimelinePooler", "fragment_sink", "say_live",
           "plan_rows"]


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
    ``pause_s`` of silence after sentence and clause ends as
    :meth:`facespeak.pipeline.FaceSpeak.speak` joins them: the audio
    goes to ``writer.add_audio`` at once and into the frame levels; kept per chunk are its
    :class:`MotionInputs` and, for the caller, the chunk itself (``keep_chunks``) or its
    :class:`facespeak.text.captions.SpokenChunk` (text, ids, durations, sample count).
    """
    def __init__(self, writer: Any, sample_rate: int, fps: float, pause_s: float, keep_chunks: bool = True,
                 clock: StageClock | None = None, keep_motion: bool = True) -> None:
        self.writer, self.sample_rate, self.fps, self.keep_chunks = writer, int(sample_rate), float(fps), keep_chunks
        self.pause_s = float(pause_s)
        self.clock = StageClock.of(clock)
        self.levels = FrameLevels(sample_rate, fps)
        self.motion: list[MotionInputs] = []  # kept only with keep_motion (the one-shot plan reads them all)
        self.keep_motion = keep_motion
        self.chunks: list[Any] = []
        self.n_samples = 0
        self.n_chunks = 0

    def _write(self, wav: np.ndarray) -> None:
        with self.clock.stage(MUX):
            self.writer.add_audio(wav)
        self.levels.push(wav)
        self.n_samples += len(wav)

    def add(self, chunk: Any) -> int:
        """Write the pause before ``chunk`` (after a sentence or clause end only:
        facespeak.text.sentences.pause_after) and its audio -> the sample where its audio starts."""
        if self.n_chunks:
            self._write(np.zeros(int(pause_after(self.chunks[-1].text, self.pause_s) * self.sample_rate), np.float32))
        start = self.n_samples
        self._write(chunk.wav)
        self.n_chunks += 1
        if self.keep_motion:
            self.motion.append(MotionInputs(chunk.text, chunk.ids, chunk.durations, chunk.e_t, chunk.mu_y))
        self.chunks.append(chunk if self.keep_chunks else SpokenChunk(chunk.text, chunk.ids, chunk.durations, len(chunk.wav)))
        return start

    def consume(self, chunks: Iterable[Any]) -> "SpeechStream":
        """Add every chunk; at least an empty audio track is started (no chunk = no speech)."""
        for chunk in chunks:
            self.add(chunk)
        if not self.n_chunks:
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


# ---------------------------------------------------------------------------------------------
# say (learned motion, mesh renderer): motion planned chunk by chunk, frames encoded into a fragmented MP4
# ---------------------------------------------------------------------------------------------

#: characters (of normalised text) of the first chunks of a `say` (learned motion, mesh renderer);
#: later chunks take the text front end's usual limit (200). At ~0.08 s of speech per character
#: and a speech + vocoder real-time factor of ~0.35 on 2 quiet cores, a 24-character first chunk
#: (~2 s of speech) is spoken within ~0.7 s; each next chunk is synthesised while the ones
#: before it play.
STREAM_CHUNK_CHARS = (24, 48, 96)

#: the first chunk runs on to the last sentence or clause end within this many characters
#: (~0.95 s to its audio on 2 quiet cores), so it is cut between words only when no such end is
#: near (decisions.md #34)
FIRST_CHUNK_REACH = 32


def growing_split(frontend: Any, limits: Sequence[int] = STREAM_CHUNK_CHARS,
                  reach: int = FIRST_CHUNK_REACH) -> Callable[[str], list[str]]:
    """A ``split`` for :meth:`facespeak.pipeline.FaceSpeak.iter_chunks`: the normalised text in
    chunks of at most ``limits[0]``, ``limits[1]``, ... characters, then the front end's
    ``max_chunk_chars``; each breaks at a sentence end, else a clause, else between words
    (facespeak.text.sentences), and together they are the text's words in order. The first
    chunk (kept short for the first audio) is the text up to its last sentence or clause end
    within ``reach`` characters where there is one (a whole short sentence stays whole), else cut
    between words at ``limits[0]``, not after a word that leans on the next ("to", "the", "these":
    the cut moves before it); such a cut gets no pause (facespeak.text.sentences.pause_after).
    After the first, a chunk that would end inside a sentence runs on to the sentence end if that
    is within twice its limit (fewer broken sentences)."""
    def split(text: str) -> list[str]:
        rest, out = frontend.normalize(text), []
        for i, limit in enumerate(limits):
            pieces = split_text(rest, limit)
            if not i and not ends_phrase(pieces[0]):
                pieces = _phrase_prefix(rest, reach) or pieces
            elif i and not ends_sentence(pieces[0]):
                longer = split_text(rest, 2 * limit)
                if ends_sentence(longer[0]):
                    pieces = longer
            if len(pieces) <= 1:
                return out + pieces
            pieces = _no_dangling_word(pieces)
            out.append(pieces[0])
            rest = " ".join(pieces[1:])
        return out + split_text(rest, frontend.config.max_chunk_chars)
    return split


#: words a chunk cut between words does not end on (they lean on the next word: "hesitate to |
#: quote" would be spoken as a phrase end); the cut moves before them
_LEANING_WORDS = frozenset("""a an the to of in on at by for with from into onto about and or but nor as than that if so
    is are was were be been being has have had do does did will would can could shall should may might must not no
    my your his her its our their this these those i we you he she it they who which what whose every each some any
    very such""".split())


def _no_dangling_word(pieces: list[str]) -> list[str]:
    """[chunk, rest...] -> the same words with the chunk's trailing leaning words moved to the
    next piece when the chunk was cut between words (at least one word stays)."""
    if ends_phrase(pieces[0]):
        return pieces
    words, moved = pieces[0].split(), []
    while len(words) > 1 and words[-1].lower() in _LEANING_WORDS:
        moved.insert(0, words.pop())
    return [" ".join(words), " ".join([*moved, pieces[1]]), *pieces[2:]] if moved else pieces


def _phrase_prefix(text: str, reach: int) -> list[str] | None:
    """``text`` (whitespace collapsed) -> [its longest start of at most ``reach`` characters
    that ends a sentence or clause, the rest], ``[text]`` if it is that short, or None."""
    text = " ".join(text.split())
    if len(text) <= reach:
        return [text] if text else None
    ends = phrase_breaks(text, reach)
    return [text[:ends[-1]], text[ends[-1]:].strip()] if ends else None


class TimelinePooler:
    """Mel-rate feature columns placed on the audio's *sample* timeline -> ``(T_video, D)``
    float32 means per video frame (the columns whose centre falls in the frame). Unlike the
    one-shot pooling (mel frames counted end to end, pauses rounded to whole mel frames), the
    features cannot drift from the audio over many chunk pauses. Holds only unfinished frames."""
    def __init__(self, sample_rate: int, fps: float, hop: float, dim: int) -> None:
        self.sr, self.fps, self.hop = float(sample_rate), float(fps), float(hop)
        self.sums, self.counts = np.zeros((0, dim)), np.zeros(0)
        self.base = 0  # first frame not taken
        self.last: np.ndarray | None = None  # (D, 1) the last column added
        self.end = 0.0  # sample where the last column added ends

    def add(self, cols: np.ndarray, start: float) -> None:
        """``cols`` (D, T) mel-rate columns, the first starting at sample ``start``."""
        if not cols.shape[1]:
            return
        k = np.floor((start + (np.arange(cols.shape[1]) + 0.5) * self.hop) * self.fps / self.sr).astype(int) - self.base
        k = np.maximum(k, 0)
        if k[-1] >= len(self.counts):
            grow = k[-1] + 1 - len(self.counts)
            self.sums = np.concatenate([self.sums, np.zeros((grow, self.sums.shape[1]))])
            self.counts = np.concatenate([self.counts, np.zeros(grow)])
        np.add.at(self.sums, k, cols.astype(np.float64).T)
        np.add.at(self.counts, k, 1.0)
        self.last, self.end = cols[:, -1:], start + cols.shape[1] * self.hop

    def complete(self, upto: float) -> int:
        """Frames before sample ``upto`` (no later column can fall in them)."""
        return int(np.floor(upto * self.fps / self.sr + 1e-9))

    def take(self, end: int) -> np.ndarray:
        """Frames ``[base, end)`` (a frame no column fell in repeats the one before it)."""
        n = max(0, end - self.base)
        if n > len(self.counts):
            self.sums = np.concatenate([self.sums, np.zeros((n - len(self.counts), self.sums.shape[1]))])
            self.counts = np.concatenate([self.counts, np.zeros(n - len(self.counts))])
        out = self.sums[:n] / np.maximum(self.counts[:n], 1.0)[:, None]
        for i in np.flatnonzero(self.counts[:n] == 0):
            out[i] = out[i - 1] if i else (self.last[:, 0] if self.last is not None else 0.0)
        self.sums, self.counts, self.base = self.sums[n:], self.counts[n:], self.base + n
        return out.astype(np.float32)


def _chunk_columns(chunk: Any) -> np.ndarray:
    """The mapper's mel-rate input of one chunk: e_t upsampled, mu_y, ||mu_y|| -> (D_in, T_mel)."""
    e_up = upsample_text(chunk.e_t, chunk.durations, chunk.mu_y.shape[1])
    return np.concatenate([e_up, chunk.mu_y, np.linalg.norm(chunk.mu_y, axis=0, keepdims=True)], axis=0)


def plan_rows(lips: np.ndarray, nonlip: np.ndarray | None, head_motion: float) -> np.ndarray:
    """``(T, 4)`` lips + ``(T, 8)`` non-lip motion (None: still) -> ``(T, 12)`` plan rows (expression
    amounts, then the head pose scaled by ``head_motion``): how every learned or rule plan is assembled."""
    amounts = np.zeros((len(lips), len(EXPRESSION_NAMES)))
    amounts[:, :lips.shape[1]] = lips
    pose = np.zeros((len(lips), 5))
    if nonlip is not None:
        pose = nonlip[:, :5] * float(head_motion)
        for k, name in enumerate(("blink_right", "blink_left", "brow_raise")):
            amounts[:, EXPRESSION_NAMES.index(name)] = nonlip[:, 5 + k]
    return np.concatenate([amounts, pose], axis=1)


class _LiveFrames:
    """Renders plan rows and encodes them; the last frame of each batch is a keyframe, which
    makes the live writer close the fragment with the batch's other frames at once (FFmpeg
    closes a fragment only when a keyframe arrives: video.writer). Progress is reported against
    an estimate of the frame count (the real one is known only at the end)."""
    def __init__(self, writer: Any, render: Callable[[np.ndarray], Iterable[np.ndarray]], clock: StageClock,
                 cancel: CancelToken | None, expected_frames: int, progress: bool) -> None:
        from tqdm import tqdm

        self.writer, self.render, self.clock, self.cancel = writer, render, clock, cancel
        self.expected, self.done = max(int(expected_frames), 1), 0
        self.bar = tqdm(total=self.expected, desc="render", unit="frame", disable=not progress)

    def encode(self, rows: np.ndarray) -> None:
        if not len(rows):
            return
        last = self.done + len(rows) - 1
        for frame in self.clock.timed(RENDER, iter(self.render(rows))):
            check_cancel(self.cancel)
            with self.clock.stage(MUX):
                self.writer.add_frame(frame, key=self.done == last)
            self.clock.mark("first_frame_s")
            self.done += 1
            self.bar.update(1)
            self.clock.report(RENDER, min(0.99, self.done / self.expected))


def fragment_sink(clock: StageClock, on_data: Callable[[bytes], None] | None) -> Callable[[bytes], None]:
    """The live writer's ``on_data``: marks ``first_fragment_s`` when the first media fragment
    (``moof``) is written, then hands the bytes on."""
    def sink(data: bytes) -> None:
        if data[4:8] == b"moof":
            clock.mark("first_fragment_s")
        if on_data is not None:
            on_data(data)
    return sink


def say_live(fs: Any, writer: Any, render: Callable[[np.ndarray], Iterable[np.ndarray]], text: str, cond: Any,
             speech: Any, video: Any, timing: Any, clock: StageClock, cancel: CancelToken | None = None,
             progress: bool = False, keep_chunks: bool = True, expected_frames: int = 1) -> SpeechStream:
    """`say` with learned motion, streamed or not: each chunk is synthesised (chunks from
    :func:`growing_split`), its audio encoded, its motion planned (facespeak.motion.streaming.
    MotionStream) and every frame that became final rendered and encoded into ``writer`` (live
    mode: fragments go out as keyframes close them) before the next chunk is synthesised.
    -> the :class:`SpeechStream`."""
    mapper, sampler = fs.motion_models
    sr, fps, hop = fs.mel_spec.sample_rate, timing.video_fps, fs.mel_spec.sample_rate / fs.mel_spec.frame_rate
    spoken = SpeechStream(writer, sr, fps, speech.pause_s, keep_chunks, clock, keep_motion=False)
    planner = MotionStream(mapper, sampler, speech.seed, StreamMotionConfig(
        ease_in_frames=0.4 * fps, still=video.still, gate=video.silence_gate))
    pooler = TimelinePooler(sr, fps, hop, mapper.cfg.d_in)
    frames = _LiveFrames(writer, render, clock, cancel, expected_frames, progress)

    def plan(end: int, rms: np.ndarray) -> None:
        with clock.stage(MOTION):
            lips, nonlip = planner.push(pooler.take(end), rms)
            rows = plan_rows(lips, nonlip, video.head_motion)
        clock.report(MOTION, min(0.99, planner.n_in / frames.expected))
        frames.encode(rows)

    for chunk in fs.iter_chunks(text, cond, speech, cancel, clock, split=growing_split(fs.frontend)):
        before = spoken.n_samples
        start = spoken.add(chunk)
        if start > before and pooler.last is not None:  # the pause repeats the last column
            pooler.add(np.repeat(pooler.last, int(round((start - before) / hop)), axis=1), before)
        pooler.add(_chunk_columns(chunk), start)
        end = min(len(spoken.levels.rms), pooler.complete(min(spoken.n_samples, start + chunk.mu_y.shape[1] * hop)))
        plan(end, np.asarray(spoken.levels.rms[planner.n_in:end]))
    if not spoken.n_chunks:
        raise InputError("say: the text gave no speech")
    n_frames = spoken.n_frames
    tail = int(np.ceil((n_frames * sr / fps - pooler.end) / hop)) + 1  # past the speech: its last column
    pooler.add(np.repeat(pooler.last, max(tail, 0), axis=1), pooler.end)
    plan(n_frames, spoken.levels.finish(n_frames)[planner.n_in:])
    with clock.stage(MOTION):
        lips, nonlip = planner.finish()
        rows = plan_rows(lips, nonlip, video.head_motion)
    frames.encode(rows)
    frames.bar.close()
    clock.report(MOTION, 1.0)
    clock.report(RENDER, 1.0)
    return spoken

"""Write RGB frames and a mono waveform to an MP4 (H.264 yuv420p + AAC) with PyAV.

Every video the project compares is encoded the same way (DESIGN.md §1: lip-sync scores move
with codecs): libx264, yuv420p, constant frame rate (25 fps by default), even dimensions (odd
sizes are padded by edge replication, as yuv420p needs), AAC audio at the waveform's rate.

Frames stream in one at a time (:class:`VideoWriter`), so memory is constant in the video
length; the audio either streams in too (:meth:`VideoWriter.add_audio`, any time before
:meth:`VideoWriter.close`, before or between the frames) or comes whole at ``close``. On
:meth:`VideoWriter.close` the audio and video are made equally long: missing video is filled by
repeating the last frame, surplus audio is trimmed (whole audio only: streamed audio is already
encoded, and the filled video is never shorter than it), missing audio padded with silence, so
both streams last ``n_frames / fps`` seconds. Streamed audio decodes to the same samples as the
same waveform given whole (AAC frames do not depend on how the samples were split). The file is written to a temporary
name beside the target and renamed into place only when complete (no half-written MP4s; the
project's one atomic writer, :class:`facespeak.core.output_files.AtomicOutput`).

Live mode (``VideoConfig(live=True)``, `say --stream`, docs/server.md "Streaming"): the video is
first written as a *fragmented* MP4 (``movflags=frag_keyframe+empty_moov+default_base_moof+delay_moov``;
x264 ``tune=zerolatency``, so every frame leaves the encoder at once; a keyframe (IDR) wherever
:meth:`VideoWriter.add_frame` is given ``key=True``): each keyframe closes the fragment before
it (``moof`` + ``mdat``), which is written out at once and handed to ``on_data`` byte for byte,
so a player (Media Source Extensions) can start while the rest is made. FFmpeg closes a fragment
only when the next keyframe reaches the muxer, and PyAV cannot ask it to flush, so a caller that
must get frames out *now* makes the last of them a keyframe (`say --stream` does, for each
chunk's frames). (``frag_every_frame`` would flush at every packet, but then FFmpeg guesses each
fragment's last sample duration and the timestamps drift.) :meth:`VideoWriter.close` copies the
packets, unchanged, into a normal MP4 (``moov`` first) at ``path``: the finished file decodes
to exactly the frames and samples of the fragments (the fragments may decode up to one AAC frame
of padding more at the very end). ``delay_moov`` holds the header (``moov``) back until the first
fragment is cut, so it carries the edit list that skips the AAC encoder's priming (1,024
samples): without it the audio of the fragments, and of the remux, decoded 46 ms late against the
video and the remux's video track was as long as the padded audio (fps read as 24.4-24.9).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..core.errors import DependencyError, InputError
from ..core.output_files import AtomicOutput

__all__ = ["VideoConfig", "VideoWriter", "write_video"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoConfig:
    """Encoding settings. ``crf``: x264 quality (lower = better, 18 is visually lossless)."""

    fps: float = 25.0
    crf: int = 18
    preset: str = "veryfast"
    audio_bitrate: int = 128_000  # bit/s
    threads: int = 1
    live: bool = False  # fragmented MP4 written as it is made (module doc), remuxed at close

    @classmethod
    def tiny(cls) -> "VideoConfig":
        """Fast encoding for tests."""
        return cls(crf=28, preset="ultrafast")


def _import_av():
    try:
        import av
    except ImportError as e:  # pragma: no cover - depends on the install
        raise DependencyError(f"writing video needs PyAV (pip install av); import failed: {e}") from e
    return av


def _even(n: int) -> int:
    return n + (n % 2)


class VideoWriter:
    """Streaming MP4 writer: ``add_frame`` repeatedly, then ``close(audio)``.

    Args:
        path: output ``.mp4``; missing folders are created (and removed again on failure).
        size: ``(H, W)`` of every frame in px.
        sample_rate: audio rate in Hz (of the waveform given to :meth:`close`); None = no audio.
        config: encoding settings.

        on_data: live mode only: called with every piece of the fragmented MP4 as it is written
            (in order; together they are the whole fragmented file, trailer included).

    Use as a context manager; on an exception the temporary file is removed and ``path`` is
    left untouched.
    """

    def __init__(self, path: str | Path, size: tuple[int, int], sample_rate: int | None,
                 config: VideoConfig | None = None, on_data: Callable[[bytes], None] | None = None) -> None:
        self.path = Path(path)
        self.config = config or VideoConfig()
        self.size = (int(size[0]), int(size[1]))
        if min(self.size) < 2:
            raise InputError(f"video frame size: expected at least 2x2 px, got {self.size}")
        self.sample_rate = sample_rate
        self.n_frames = 0
        self.n_audio: int | None = None  # samples given to add_audio (None: audio comes whole at close)
        self._last: np.ndarray | None = None
        av = _import_av()
        self._out = AtomicOutput(self.path, suffix=".mp4.partial")
        self._tmp = self._out.tmp
        self._frag: AtomicOutput | None = None
        try:
            if self.config.live:  # through Python, so on_data sees every byte (never seeks)
                self._frag = AtomicOutput(self.path, suffix=".frag.partial")
                self._container = av.open(_Sink(self._frag.file, on_data), mode="w", format="mp4",
                                          options={"movflags": "frag_keyframe+empty_moov+default_base_moof+delay_moov",
                                                   "flush_packets": "1"})
            else:  # by name: the exclusively created temporary file (FFmpeg does its own I/O)
                self._container = av.open(str(self._tmp), mode="w", format="mp4")
            self._open_streams()
        except BaseException:
            self._discard()
            raise

    def _open_streams(self) -> None:
        cfg = self.config
        rate = Fraction(cfg.fps).limit_denominator(1001)
        v = self._container.add_stream("libx264", rate=rate)
        v.height, v.width = _even(self.size[0]), _even(self.size[1])
        v.pix_fmt = "yuv420p"
        v.thread_count = cfg.threads
        v.options = {"crf": str(cfg.crf), "preset": cfg.preset} | ({"tune": "zerolatency"} if cfg.live else {})
        self._video = v
        self._audio = None
        if self.sample_rate is not None:
            a = self._container.add_stream("aac", rate=int(self.sample_rate))
            a.layout = "mono"
            a.bit_rate = cfg.audio_bitrate
            self._audio = a

    def add_frame(self, frame: np.ndarray, key: bool = False) -> None:
        """Append one ``(H, W, 3) uint8`` RGB frame; live mode: ``key`` makes it a keyframe (IDR)."""
        av = _import_av()
        if frame.shape != (*self.size, 3) or frame.dtype != np.uint8:
            raise InputError(f"video frame: expected {(*self.size, 3)} uint8 RGB, got {frame.shape} {frame.dtype}")
        h, w = self.size
        if (h % 2) or (w % 2):
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = self.n_frames
        if self.config.live and key:
            vf.pict_type = av.video.frame.PictureType.I  # libx264: an IDR frame (closed GOP)
        try:
            for packet in self._video.encode(vf):
                self._container.mux(packet)
        except OSError as e:  # a full disk, a file size limit (PyAV's errors are OSErrors)
            raise self._out.write_error(e) from None
        self._last = frame if (h % 2 == 0 and w % 2 == 0) else frame[:h, :w]
        self.n_frames += 1

    def add_audio(self, samples: np.ndarray) -> None:
        """Append ``(T,)`` float samples in [-1, 1] at ``sample_rate`` to the audio track (encoded
        and written now); then :meth:`close` takes no audio."""
        if self._audio is None:
            raise InputError("video audio: this writer was created without a sample rate")
        audio = _as_mono(samples)
        start, self.n_audio = self.n_audio or 0, (self.n_audio or 0) + len(audio)
        if len(audio):
            self._encode_audio(audio, start)

    def _encode_audio(self, audio: np.ndarray, pts: int) -> None:
        av = _import_av()
        af = av.AudioFrame.from_ndarray(audio.reshape(1, -1), format="fltp", layout="mono")
        af.sample_rate = int(self.sample_rate)
        af.pts = pts
        try:
            for packet in self._audio.encode(af):
                self._container.mux(packet)
        except OSError as e:
            raise self._out.write_error(e) from None

    def duration_s(self) -> float:
        return self.n_frames / self.config.fps

    def close(self, audio: np.ndarray | None = None) -> Path:
        """Equalise durations, add the audio, finish the file and rename it into place.

        Args:
            audio: ``(T_wav,)`` float waveform in [-1, 1] at ``sample_rate``; required iff the
                writer was created with a sample rate.

        Returns:
            The final path.
        """
        try:
            self._finish(audio)
        except OSError as e:
            self.abort()
            raise self._out.write_error(e) from None
        except BaseException:
            self.abort()
            raise
        if self._frag is not None:
            self._remux()
        self._out.commit()
        log.info("wrote %s: %d frames at %g fps (%.2f s)", self.path, self.n_frames, self.config.fps, self.duration_s())
        return self.path

    def _finish(self, audio: np.ndarray | None) -> None:
        if self.n_frames == 0:
            raise InputError("video: expected at least one frame, got none")
        streamed = self.n_audio is not None
        if streamed and audio is not None:
            raise InputError("video audio: close() got audio, but the audio was already streamed (add_audio)")
        if not streamed and (audio is None) != (self._audio is None):
            raise InputError(f"video audio: writer created with sample_rate={self.sample_rate} but close() got "
                             f"{'no audio' if audio is None else 'audio'}")
        if audio is not None:
            audio = _as_mono(audio)
        n_audio = len(audio) if audio is not None else self.n_audio
        if n_audio is not None:
            needed = int(np.ceil(n_audio / self.sample_rate * self.config.fps - 1e-6))
            assert self._last is not None
            while self.n_frames < needed:  # audio longer: hold the last frame
                self.add_frame(self._last)
        for packet in self._video.encode(None):
            self._container.mux(packet)
        if n_audio is not None:
            n = int(round(self.n_frames / self.config.fps * self.sample_rate))
            if audio is None:  # streamed: only the silence that pads it to the video's length is left
                assert n >= n_audio, "the filled video is never shorter than the streamed audio"
                tail, start = np.zeros(n - n_audio, np.float32), n_audio
            else:
                tail, start = np.pad(audio[:n], (0, max(0, n - len(audio)))), 0
            if len(tail):
                self._encode_audio(tail, start)
            for packet in self._audio.encode(None):
                self._container.mux(packet)
        self._container.close()

    def _remux(self) -> None:
        """Live mode: the finished fragmented file's packets, unchanged, into a normal MP4 (moov first)."""
        av = _import_av()
        assert self._frag is not None and self._frag.file is not None
        self._frag.file.flush()
        try:
            with av.open(str(self._frag.tmp)) as src, \
                    av.open(str(self._tmp), mode="w", format="mp4", options={"movflags": "faststart"}) as dst:
                streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
                for packet in src.demux():
                    if packet.dts is not None:  # not the demuxer's empty end-of-stream packets
                        packet.stream = streams[packet.stream.index]
                        dst.mux(packet)
        except OSError as e:
            self._discard()
            raise self._out.write_error(e) from None
        except BaseException:
            self._discard()
            raise
        self._frag.discard()

    def abort(self) -> None:
        """Drop the partial file (``path`` is not touched)."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - the container may already be broken
            pass
        self._discard()

    def _discard(self) -> None:
        if self._frag is not None:
            self._frag.discard()
        self._out.discard()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


class _Sink:
    """Write-only, unseekable file object for FFmpeg (PyAV): bytes go to ``file`` and ``on_data``."""

    def __init__(self, file: object, on_data: Callable[[bytes], None] | None) -> None:
        self.file, self.on_data = file, on_data

    def write(self, data: bytes) -> int:
        data = bytes(data)
        self.file.write(data)  # type: ignore[attr-defined]
        if self.on_data is not None:
            self.on_data(data)
        return len(data)


def _as_mono(audio: np.ndarray) -> np.ndarray:
    a = np.asarray(audio)
    if a.ndim != 1:
        raise InputError(f"video audio: expected a mono (T_wav,) waveform, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"video audio: expected a float waveform in [-1, 1], got {a.dtype}")
    return np.clip(np.nan_to_num(a.astype(np.float32)), -1.0, 1.0)


def write_video(path: str | Path, frames: Iterable[np.ndarray], audio: np.ndarray | None = None,
                sample_rate: int | None = None, config: VideoConfig | None = None) -> Path:
    """Write frames (an array ``(T_video, H, W, 3) uint8`` or any iterable of ``(H, W, 3)``) and
    an optional mono ``(T_wav,)`` waveform at ``sample_rate`` Hz; see :class:`VideoWriter`."""
    if (audio is None) != (sample_rate is None):
        raise InputError("write_video: give both audio and sample_rate, or neither")
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise InputError("video: expected at least one frame, got none")
    with VideoWriter(path, first.shape[:2], sample_rate, config) as writer:
        writer.add_frame(first)
        for frame in it:
            writer.add_frame(frame)
        return writer.close(audio)

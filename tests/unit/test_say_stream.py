"""Streaming pieces of `facespeak say` (facespeak.say_stream, VideoWriter.add_audio): audio
given piece by piece gives exactly what the same audio given whole gives."""

from __future__ import annotations

import numpy as np
import pytest

from facespeak.audio.levels import frame_rms
from facespeak.core.errors import InputError
from facespeak.say_stream import FrameLevels, SpeechStream
from facespeak.text.captions import SpokenChunk
from facespeak.video.reader import read_video
from facespeak.video.writer import VideoConfig, VideoWriter, write_video

SR = 22050


def _pieces(x: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """``x`` cut at random places, with empty and 1-sample pieces among them."""
    cuts = np.sort(rng.integers(0, len(x), 12))
    cuts = np.concatenate([[0], cuts, cuts[:2], [len(x)]])
    cuts.sort()
    return [x[a:b] for a, b in zip(cuts[:-1], cuts[1:])]


@pytest.mark.parametrize("fps", [25.0, 30000 / 1001])
def test_frame_levels_equal_frame_rms_bit_for_bit(fps):
    rng = np.random.default_rng(1)
    wav = (0.2 * rng.standard_normal(SR * 2 + 777)).astype(np.float32)
    levels = FrameLevels(SR, fps)
    for piece in _pieces(wav, rng):
        levels.push(piece)
    n = int(np.ceil(len(wav) / SR * fps)) + 3  # frames past the end are 0
    ours = levels.finish(n)
    assert np.array_equal(ours, frame_rms(wav, SR, fps, n))
    assert ours[-3:].tolist() == [0.0, 0.0, 0.0] and ours[0] > 0


def _frames(n: int) -> np.ndarray:
    out = np.full((n, 32, 48, 3), 40, np.uint8)
    for t in range(n):
        out[t, :, (3 * t) % 48] = 230
    return out


def test_streamed_audio_decodes_to_the_same_video_as_whole_audio(tmp_path):
    rng = np.random.default_rng(2)
    wav = (0.3 * np.sin(np.arange(int(1.37 * SR)) * 0.05) * rng.uniform(0.5, 1, int(1.37 * SR))).astype(np.float32)
    frames = _frames(20)  # 0.8 s: the audio is longer, so the last frame is held
    whole = read_video(write_video(tmp_path / "whole.mp4", frames, wav, SR, VideoConfig.tiny()))
    with VideoWriter(tmp_path / "streamed.mp4", frames.shape[1:3], SR, VideoConfig.tiny()) as writer:
        pieces = _pieces(wav, rng)
        for k, frame in enumerate(frames):  # audio before and between the frames
            if k < len(pieces):
                writer.add_audio(pieces[k])
            writer.add_frame(frame)
        for piece in pieces[len(frames):]:
            writer.add_audio(piece)
        assert writer.n_audio == len(wav)
        path = writer.close()
    streamed = read_video(path)
    assert streamed.frames.shape == whole.frames.shape == (int(np.ceil(1.37 * 25)), 32, 48, 3)
    assert np.array_equal(streamed.frames, whole.frames)
    assert np.array_equal(streamed.audio, whole.audio) and len(streamed.audio) >= len(wav)


def test_audio_streamed_and_given_whole_is_refused_and_leaves_no_file(tmp_path):
    with VideoWriter(tmp_path / "x.mp4", (32, 48), SR, VideoConfig.tiny()) as writer:
        writer.add_audio(np.zeros(100, np.float32))
        writer.add_frame(_frames(1)[0])
        with pytest.raises(InputError, match="already streamed"):
            writer.close(np.zeros(100, np.float32))
    assert list(tmp_path.iterdir()) == []
    with VideoWriter(tmp_path / "y.mp4", (32, 48), None, VideoConfig.tiny()) as writer:
        with pytest.raises(InputError, match="without a sample rate"):
            writer.add_audio(np.zeros(10, np.float32))


class _Chunk:
    """A synthesised chunk's fields as SpeechStream reads them (facespeak.pipeline.SpeechChunk)."""

    def __init__(self, n: int, rng: np.random.Generator, text: str = "a.") -> None:
        self.text, self.ids, self.durations = text, [1, 2], np.array([3.0, 4.0])
        self.wav = (0.1 * rng.standard_normal(n)).astype(np.float32)
        self.e_t, self.mu_y, self.mel = np.ones((2, 2)), np.ones((3, 7)), np.ones((3, 7))


@pytest.mark.parametrize("keep", [True, False])
def test_speech_stream_joins_chunks_with_pauses_like_speak(tmp_path, keep):
    rng = np.random.default_rng(3)
    # a sentence end, a cut between words (no pause after it), a clause end
    chunks = [_Chunk(n, rng, text) for n, text in ((5000, "a."), (7001, "b c"), (300, "d,"), (900, "e"))]
    pause = np.zeros(int(0.2 * SR), np.float32)
    joined = np.concatenate([chunks[0].wav, pause, chunks[1].wav, chunks[2].wav, pause, chunks[3].wav])
    with VideoWriter(tmp_path / "s.mp4", (32, 48), SR, VideoConfig.tiny()) as writer:
        stream = SpeechStream(writer, SR, 25.0, 0.2, keep_chunks=keep).consume(chunks)
        assert writer.n_audio == stream.n_samples == len(joined)
        writer.add_frame(_frames(1)[0])
        writer.close()
    assert stream.n_frames == int(np.ceil(len(joined) / SR * 25.0))
    assert np.array_equal(stream.levels.finish(stream.n_frames), frame_rms(joined, SR, 25.0, stream.n_frames))
    assert [m.mu_y.shape for m in stream.motion] == [(3, 7)] * 4
    if keep:
        assert stream.chunks == chunks
    else:
        assert stream.chunks == [SpokenChunk(c.text, [1, 2], c.durations, len(c.wav)) for c in chunks]
        assert not any(hasattr(c, "wav") for c in stream.chunks)

"""Video writer/reader: H.264 + AAC round trip, equal durations, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest

from facespeak.core.errors import InputError
from facespeak.core.timing import MelSpec
from facespeak.video.reader import probe_video, read_video
from facespeak.video.writer import VideoConfig, VideoWriter, write_video

SR = MelSpec().sample_rate
FPS = VideoConfig().fps


def _frames(n: int, h: int = 64, w: int = 80) -> np.ndarray:
    """Frames with a moving bright bar so each one differs."""
    out = np.full((n, h, w, 3), 40, np.uint8)
    for t in range(n):
        out[t, :, (3 * t) % w] = 230
    return out


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_round_trip_codecs_fps_frames_and_durations(tmp_path):
    frames = _frames(30)
    path = write_video(tmp_path / "a.mp4", frames, _tone(30 / FPS), SR, VideoConfig.tiny())
    data = read_video(path)
    assert (data.info.video_codec, data.info.audio_codec) == ("h264", "aac")
    assert data.info.fps == pytest.approx(FPS)
    assert data.frames.shape == (30, 64, 80, 3)
    assert abs(data.info.video_duration_s - data.info.audio_duration_s) <= 1.0 / FPS
    # content survives: the bright bar is where it was written (lossy codec, loose tolerance)
    assert np.abs(data.frames.astype(int) - frames).mean() < 12
    assert np.abs(data.audio).max() == pytest.approx(0.3, abs=0.06)


def test_longer_audio_extends_video_and_shorter_audio_is_padded(tmp_path):
    long_path = write_video(tmp_path / "long.mp4", _frames(10), _tone(1.0), SR, VideoConfig.tiny())
    info = read_video(long_path).info
    assert info.n_frames == int(round(1.0 * FPS))
    assert abs(info.video_duration_s - info.audio_duration_s) <= 1.0 / FPS
    short = read_video(write_video(tmp_path / "short.mp4", _frames(25), _tone(0.3), SR, VideoConfig.tiny())).info
    assert short.n_frames == 25
    assert abs(short.video_duration_s - short.audio_duration_s) <= 1.0 / FPS


def test_odd_size_is_padded_to_even_yuv420(tmp_path):
    path = write_video(tmp_path / "odd.mp4", _frames(3, 31, 45), config=VideoConfig.tiny())
    info = probe_video(path)
    assert info.size == (32, 46) and info.audio_codec is None


def test_failed_write_leaves_no_file(tmp_path):
    target = tmp_path / "x.mp4"
    with pytest.raises(InputError, match="expected"):
        with VideoWriter(target, (16, 16), SR, VideoConfig.tiny()) as w:
            w.add_frame(np.zeros((16, 16, 3), np.uint8))
            w.add_frame(np.zeros((8, 8, 3), np.uint8))  # wrong size
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_bad_audio_is_rejected(tmp_path):
    with pytest.raises(InputError, match="mono"):
        write_video(tmp_path / "s.mp4", _frames(2), np.zeros((2, 100), np.float32), SR, VideoConfig.tiny())


def test_durations_match_at_16khz(tmp_path):
    """At 16 kHz an AAC frame (64 ms) is longer than a video frame: padding must not leak."""
    info = read_video(write_video(tmp_path / "b.mp4", _frames(37), _tone(37 / FPS), 16000, VideoConfig.tiny())).info
    assert info.sample_rate == 16000
    assert abs(info.video_duration_s - info.audio_duration_s) <= 1.0 / FPS

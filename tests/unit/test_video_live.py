"""The live (fragmented MP4) mode of video.writer.VideoWriter: the bytes handed out as they are
written are a playable fragmented MP4, a keyframe closes a fragment at once, the finished file is
a normal MP4 with exactly the same frames and samples, and the audio is in sync with the video."""

from __future__ import annotations

import numpy as np
import pytest

from facespeak.video.reader import read_video
from facespeak.video.writer import VideoConfig, VideoWriter

SR = 22050


def _boxes(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i + 8 <= len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        out.append(data[i + 4:i + 8])
        i += n
    return out


def _frame(i: int) -> np.ndarray:
    f = np.zeros((64, 96, 3), np.uint8)
    f[:, i % 80:i % 80 + 12] = 200
    f[i % 60:i % 60 + 4] = (30, 90, 160)
    return f


def test_fragments_decode_to_the_finished_file_and_keyframes_flush_them(tmp_path):
    pieces: list[bytes] = []
    flushed_at: dict[int, int] = {}  # frame count -> media fragments written by then
    cfg = VideoConfig(crf=28, preset="ultrafast", live=True)
    with VideoWriter(tmp_path / "v.mp4", (64, 96), SR, cfg, on_data=pieces.append) as w:
        w.add_audio((0.2 * np.sin(np.arange(2 * SR) * 0.03)).astype(np.float32))  # audio leads, as in `say`
        for i in range(40):
            w.add_frame(_frame(i), key=i in (19, 33))
            flushed_at[i] = sum(p[4:8] == b"moof" for p in pieces)
        w.add_audio((0.2 * np.sin(np.arange(SR // 2) * 0.05)).astype(np.float32))
        path = w.close()
    assert flushed_at[18] == 0 and flushed_at[19] == 1  # the keyframe closed frames 0..18 at once
    assert flushed_at[33] == 2
    stream = b"".join(pieces)
    assert _boxes(stream)[:3] == [b"ftyp", b"moov", b"moof"]
    (tmp_path / "stream.mp4").write_bytes(stream)
    live, final = read_video(tmp_path / "stream.mp4"), read_video(path)
    assert live.frames.shape == final.frames.shape == (63, 64, 96, 3)  # 2.5 s of audio at 25 fps
    assert np.array_equal(live.frames, final.frames)
    # the same samples; the fragments keep the last AAC frame's padding (<= 1,024 samples) the remux trims
    assert np.array_equal(live.audio[:len(final.audio)], final.audio) and len(live.audio) - len(final.audio) <= 1024
    kinds = _boxes(path.read_bytes())
    assert b"moof" not in kinds and kinds.index(b"moov") < kinds.index(b"mdat")  # a normal mp4, moov first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stream.mp4", "v.mp4"]  # no temporary file left


def test_a_failed_live_video_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "out" / "v.mp4", (64, 96), SR, VideoConfig(crf=28, preset="ultrafast", live=True),
                         on_data=lambda b: None) as w:
            w.add_audio(np.zeros(SR, np.float32))
            w.add_frame(_frame(0))
            raise RuntimeError("stop")
    assert not (tmp_path / "out").exists()


def test_live_mode_off_writes_the_same_kind_of_file_as_before(tmp_path):
    seen: list[bytes] = []
    with VideoWriter(tmp_path / "v.mp4", (64, 96), SR, VideoConfig(crf=28, preset="ultrafast"), on_data=seen.append) as w:
        w.add_frame(_frame(0), key=True)  # ignored outside live mode
        path = w.close(np.zeros(SR // 25, np.float32))
    assert not seen and b"moof" not in _boxes(path.read_bytes())


def test_live_audio_is_in_sync_with_the_video_and_the_finished_file_keeps_its_rate(tmp_path):
    # a click at 0.5 s must decode at 0.5 s, in the fragments and in the remux (not 1,024 samples
    # of AAC priming later); the remux's video lasts n_frames / fps
    wav = np.zeros(2 * SR, np.float32)
    wav[SR // 2:SR // 2 + 2000] = 0.5 * np.random.default_rng(0).standard_normal(2000)
    pieces: list[bytes] = []
    with VideoWriter(tmp_path / "v.mp4", (64, 96), SR, VideoConfig(crf=28, preset="ultrafast", live=True),
                     on_data=pieces.append) as w:
        w.add_audio(wav)
        for i in range(50):
            w.add_frame(_frame(i), key=i == 24)
        path = w.close()
    (tmp_path / "stream.mp4").write_bytes(b"".join(pieces))
    final, live = read_video(path), read_video(tmp_path / "stream.mp4")
    assert final.info.fps == 25.0 and final.info.video_duration_s == 2.0 and len(final.audio) == 2 * SR
    for audio in (final.audio, live.audio):
        assert abs(int(np.argmax(np.abs(audio) > 0.05)) - SR // 2) <= 8
    assert np.array_equal(live.audio[:len(final.audio)], final.audio) and len(live.audio) - len(final.audio) <= 1024

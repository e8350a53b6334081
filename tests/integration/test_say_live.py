"""`say --stream` with the bundled models: the fragmented MP4 handed out while it is made decodes
to the same frames and samples as the finished file, video goes out before the speech is all
synthesised, and the same seed gives the same streamed video (that it is also the file of `say`
without --stream: test_say_streamed_equals_one_shot.py)."""

from pathlib import Path

import numpy as np
import pytest

from facespeak.core.errors import InputError
from facespeak.core.progress import SPEECH
from facespeak.pipeline import FaceSpeak, SpeechOptions, VideoOptions, default_tts_path, say
from facespeak.video.reader import read_video

pytestmark = pytest.mark.skipif(not default_tts_path().is_file(), reason="bundled TTS weights not built yet")

PORTRAIT = str(Path(__file__).resolve().parents[2] / "examples" / "portrait.jpg")
TEXT = "Hello there, this is a streaming check. The second sentence follows right after the first one."


@pytest.fixture(scope="module")
def fs():
    return FaceSpeak.from_bundled(threads=1)


def _live_say(fs, out: Path, seed: int):
    events: list[tuple[str, float]] = []  # in order: ("moof", 0) when a fragment is written, (stage, fraction)
    pieces: list[bytes] = []

    def on_data(data: bytes) -> None:
        pieces.append(data)
        if data[4:8] == b"moof":
            events.append(("moof", 0.0))

    res = say(fs, PORTRAIT, TEXT, out, SpeechOptions(seed=seed, steps=2), VideoOptions(stream=True),
              on_progress=lambda stage, f: events.append((stage, f)), keep_chunks=False, on_data=on_data)
    return res, b"".join(pieces), events


def test_streamed_say_fragments_equal_the_finished_file_and_come_before_the_speech_ends(fs, tmp_path):
    res, stream, events = _live_say(fs, tmp_path / "a.mp4", seed=3)
    # a short first chunk, cut at the clause end within reach (say_stream.FIRST_CHUNK_REACH)
    assert [c.text for c in res.chunks][:2] == ["Hello there,", "this is a streaming check."] and len(res.chunks) == 3
    (tmp_path / "stream.mp4").write_bytes(stream)
    live, final = read_video(tmp_path / "stream.mp4"), read_video(res.path)
    assert len(final.frames) == res.n_frames and abs(res.n_frames / 25 - res.duration_s) < 0.05
    assert np.array_equal(live.frames, final.frames)  # the fragments keep <= 1,024 samples of AAC padding at the end
    assert np.array_equal(live.audio[:len(final.audio)], final.audio) and len(live.audio) - len(final.audio) <= 1024
    assert np.abs(np.diff(final.frames.astype(np.int16), axis=0)).max() > 0  # the face moves
    # the first fragment went out before the speech of the later chunks existed
    first = events.index(("moof", 0.0))
    speech_then = max((f for s, f in events[:first] if s == SPEECH), default=0.0)
    assert speech_then < 0.5
    assert res.timings["first_fragment_s"] < 0.5 * res.timings["total_s"]  # loose: 3 chunks, the first is short
    assert res.timings["first_audio_s"] < res.timings["first_fragment_s"]

    again, stream2, _ = _live_say(fs, tmp_path / "b.mp4", seed=3)
    repeat = read_video(again.path)
    assert np.array_equal(repeat.frames, final.frames) and np.array_equal(repeat.audio, final.audio)
    assert stream2 == stream  # the same bytes, fragment for fragment


def test_stream_refuses_rules_motion_and_the_latent_renderer_in_one_line(fs, tmp_path):
    with pytest.raises(InputError, match="stream: expected the mesh renderer and learned motion"):
        say(fs, PORTRAIT, "Hi.", tmp_path / "x.mp4", SpeechOptions(steps=1), VideoOptions(stream=True, motion="rules"))
    assert not list(tmp_path.iterdir())

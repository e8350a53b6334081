"""Stage timings are the pipeline's own (facespeak.core.progress.StageClock), on the real
pipeline with the bundled weights: one `say` and one `speak` call with a recording clock.

Every stage is timed, in pipeline order, the stages never overlap (their sum stays within the
wall time of the call) and cover nearly all of it, first audio comes before the first frame,
the progress reports still reach the caller's callback, and ``SayResult.timings`` is that clock.
"""

import time
from pathlib import Path

import pytest

from facespeak.core.progress import FACE, MOTION, MUX, RENDER, SPEECH, TEXT, VOCODER, StageClock
from facespeak.pipeline import FaceSpeak, SpeechOptions, VideoOptions, default_tts_path, say

pytestmark = pytest.mark.skipif(not default_tts_path().is_file(), reason="bundled TTS weights not built yet")

PORTRAIT = str(Path(__file__).resolve().parents[2] / "examples" / "portrait.jpg")
TEXT_IN = "Papa bought a map. Open the window!"


@pytest.fixture(scope="module")
def fs():
    return FaceSpeak.from_bundled(threads=1)


def test_say_reports_every_stage_in_order_with_durations_that_cover_the_call(fs, tmp_path):
    reports = []
    clock = StageClock(lambda stage, fraction: reports.append((stage, fraction)))
    t0 = time.perf_counter()
    res = say(fs, PORTRAIT, TEXT_IN, tmp_path / "a.mp4", SpeechOptions(steps=2), VideoOptions(size="256"),
              on_progress=clock)
    wall = time.perf_counter() - t0
    # first started: the renderer and the writer are set up before the speech, whose audio is
    # encoded chunk by chunk as it is made (facespeak.say_stream); each chunk's frames after its motion
    assert list(clock.seconds) == [FACE, RENDER, MUX, TEXT, SPEECH, VOCODER, MOTION]
    assert all(s > 0 for s in clock.seconds.values()), clock.seconds
    timed = sum(clock.seconds.values())
    assert 0.8 * wall < timed <= wall  # no overlap; only glue between stages is untimed
    assert 0 < clock.marks["first_audio_s"] < clock.marks["first_frame_s"] < wall
    assert res.timings == {**clock.seconds, **clock.marks, "total_s": pytest.approx(wall, abs=0.05)}
    # the same clock forwarded the progress reports: stages in order, each ending done
    assert list(dict.fromkeys(s for s, _ in reports)) == [FACE, SPEECH, VOCODER, MOTION, RENDER, MUX]
    assert {s: f for s, f in reports} == dict.fromkeys([FACE, SPEECH, VOCODER, MOTION, RENDER, MUX], pytest.approx(1.0))
    # one RENDER report per frame (frames are planned and drawn chunk by chunk), then done
    assert sum(1 for s, _ in reports if s == RENDER) == res.n_frames + 1


def test_speak_times_the_speech_stages_only(fs):
    clock = StageClock()
    t0 = time.perf_counter()
    res = fs.speak(PORTRAIT, TEXT_IN, SpeechOptions(steps=2), on_progress=clock)
    wall = time.perf_counter() - t0
    assert list(clock.seconds) == [FACE, TEXT, SPEECH, VOCODER] and res.duration_s > 0.5
    assert all(s > 0 for s in clock.seconds.values()) and 0.8 * wall < sum(clock.seconds.values()) <= wall

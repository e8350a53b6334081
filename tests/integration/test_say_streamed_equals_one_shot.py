"""One `say` algorithm, streamed or not (decisions.md #34): with learned motion and the mesh
renderer, `say` and `say --stream` give the same file for the same seed (decoded frames and
samples, and the bytes), and the fragments handed out while it is made decode to it too.
The whole-utterance route (rules motion) still writes exactly the video of the one-shot
composition it replaced: ``FaceSpeak.speak`` -> levels -> ``plan_motion`` -> renderer -> mux."""

from pathlib import Path

import numpy as np
import pytest

from facespeak.audio.levels import frame_rms, relative_db
from facespeak.core.timing import AudioTiming
from facespeak.pipeline import (FaceSpeak, SpeechOptions, VideoOptions, _speech_track, default_tts_path, plan_motion,
                                say, speech_captions)
from facespeak.text import phonemes_to_ids
from facespeak.text.captions import SpokenChunk
from facespeak.tfg.mesh_renderer import MeshRenderer, RenderConfig
from facespeak.video.reader import read_video
from facespeak.video.writer import VideoConfig, write_video

pytestmark = pytest.mark.skipif(not default_tts_path().is_file(), reason="bundled TTS weights not built yet")

PORTRAIT = str(Path(__file__).resolve().parents[2] / "examples" / "portrait.jpg")
TEXT = ("The quick brown fox jumps over the lazy dog near the quiet river bank. Streaming video lets the viewer "
        "start watching before the whole clip is ready. Every sentence is synthesised on its own. Then they are joined "
        "with a short pause between them.")


@pytest.fixture(scope="module")
def fs():
    return FaceSpeak.from_bundled(threads=1)


def test_say_and_say_stream_give_the_same_frames_samples_and_bytes(fs, tmp_path):
    speech = SpeechOptions(seed=3, steps=2)
    assert VideoOptions().silence_gate and VideoOptions().motion == "auto"
    plain = say(fs, PORTRAIT, TEXT, tmp_path / "plain.mp4", speech, VideoOptions(size="256"), keep_chunks=False)
    pieces: list[bytes] = []
    streamed = say(fs, PORTRAIT, TEXT, tmp_path / "streamed.mp4", speech, VideoOptions(size="256", stream=True),
                   keep_chunks=False, on_data=pieces.append)
    a, b = read_video(plain.path), read_video(streamed.path)
    assert a.frames.shape == b.frames.shape and len(a.frames) == plain.n_frames == streamed.n_frames
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.audio, b.audio)
    assert plain.path.read_bytes() == streamed.path.read_bytes()
    assert np.abs(np.diff(a.frames.astype(np.int16), axis=0)).max() > 0  # the face moves
    (tmp_path / "fragments.mp4").write_bytes(b"".join(pieces))
    live = read_video(tmp_path / "fragments.mp4")
    assert np.array_equal(live.frames, a.frames)  # the fragments keep <= 1,024 samples of AAC padding at the end
    assert np.array_equal(live.audio[:len(a.audio)], a.audio) and len(live.audio) - len(a.audio) <= 1024
    # both are the chunked algorithm (a short first chunk), and the captions agree
    assert [c.text for c in plain.chunks] == [c.text for c in streamed.chunks] and len(plain.chunks) >= 3
    assert len(plain.chunks[0].text) <= 32 and all(isinstance(c, SpokenChunk) for c in plain.chunks)
    assert speech_captions(fs, TEXT, plain.chunks, speech) == speech_captions(fs, TEXT, streamed.chunks, speech)
    assert plain.timings["first_fragment_s"] < plain.timings["total_s"] / 2


def _one_shot_rules(fs: FaceSpeak, out: Path, speech: SpeechOptions, video: VideoOptions) -> tuple[Path, list]:
    """The unstreamed whole-utterance `say` (rules motion, mesh TFG, crop size): everything held, muxed at the end."""
    res = fs.speak(PORTRAIT, TEXT, speech)
    timing, sr = AudioTiming(fs.mel_spec, fs.fps), res.sample_rate
    n = max(1, int(np.ceil(len(res.wav) / sr * timing.video_fps)))
    pause_frames = speech.pause_s * fs.mel_spec.frame_rate
    ids, durs = _speech_track(res.chunks, pause_frames, phonemes_to_ids(".")[0])
    plan = plan_motion(n, ids, durs, speech.seed, video.still, timing, chunks=res.chunks, pause_frames=pause_frames,
                       motion=video.motion, level_db=relative_db(frame_rms(res.wav, sr, timing.video_fps, n)),
                       head_motion=video.head_motion, models=fs.motion_models)
    renderer = MeshRenderer(res.portrait.image, res.portrait.face, RenderConfig(mode="crop", size=int(video.size)))
    motion = renderer.space.motion_from_plan(plan, res.portrait.face.pose)
    frames = (renderer.render_frame(row) for row in motion)
    return write_video(out, frames, res.wav, sr, VideoConfig(fps=timing.video_fps)), res.chunks


def test_the_whole_utterance_route_equals_the_one_shot_composition(fs, tmp_path):
    speech, video = SpeechOptions(seed=3, steps=2), VideoOptions(size="256", motion="rules")
    ref_path, ref_chunks = _one_shot_rules(fs, tmp_path / "one_shot.mp4", speech, video)
    ref = read_video(ref_path)
    res = say(fs, PORTRAIT, TEXT, tmp_path / "planned.mp4", speech, video, keep_chunks=False)
    got = read_video(res.path)
    assert got.frames.shape == ref.frames.shape and len(got.frames) == res.n_frames
    assert np.array_equal(got.frames, ref.frames) and np.array_equal(got.audio, ref.audio)
    assert len(res.chunks) == 2  # the front end's sentence chunks (about 200 characters)
    assert [len(c.wav) for c in ref_chunks] == [c.n_samples for c in res.chunks]
    assert speech_captions(fs, TEXT, res.chunks, speech) == speech_captions(fs, TEXT, ref_chunks, speech)

"""`say` streams (each chunk's audio encoded as it is synthesised, frames encoded as rendered:
facespeak.say_stream) and still writes exactly the video of the one-shot composition it
replaced: the whole waveform from ``FaceSpeak.speak``, its levels, the motion plan, the
rendered frames and the waveform muxed at the end. Same seed -> same decoded frames and samples."""

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
        "with a short pause between them.")  # two chunks (facespeak.text splits at about 200 characters)


def _one_shot(fs: FaceSpeak, out: Path, speech: SpeechOptions, video: VideoOptions) -> tuple[Path, list]:
    """The unstreamed `say` (mesh TFG, crop size): everything held, muxed at the end."""
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


def test_streamed_say_equals_the_one_shot_video_frame_for_frame_and_sample_for_sample(tmp_path):
    fs = FaceSpeak.from_bundled(threads=1)
    speech, video = SpeechOptions(seed=3, steps=2), VideoOptions(size="256")
    assert video.silence_gate and video.motion == "auto"  # the gate's levels are streamed too
    ref_path, ref_chunks = _one_shot(fs, tmp_path / "one_shot.mp4", speech, video)
    ref = read_video(ref_path)
    res = say(fs, PORTRAIT, TEXT, tmp_path / "streamed.mp4", speech, video, keep_chunks=False)
    got = read_video(res.path)
    assert got.frames.shape == ref.frames.shape and len(got.frames) == res.n_frames
    assert np.array_equal(got.frames, ref.frames)
    assert np.array_equal(got.audio, ref.audio)
    assert np.abs(np.diff(got.frames.astype(np.int16), axis=0)).max() > 0  # the face moves
    # keep_chunks=False returns what captions need, and the captions are the same
    assert len(res.chunks) == 2 and all(isinstance(c, SpokenChunk) for c in res.chunks)
    assert [len(c.wav) for c in ref_chunks] == [c.n_samples for c in res.chunks]
    assert speech_captions(fs, TEXT, res.chunks, speech) == speech_captions(fs, TEXT, ref_chunks, speech)

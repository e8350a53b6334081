"""End to end: `facespeak say` on a real photo with the bundled weights -> a real mp4.

Checks the container (H.264 + AAC, 25 fps), equal audio/video duration, a face in the frames,
the lips moving with speech, and bad input handled like `facespeak tts`.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facespeak.core.errors import InputError
from facespeak.face.analysis import analyse_faces
from facespeak.pipeline import FaceSpeak, SpeechOptions, VideoOptions, default_tts_path, say
from facespeak.tfg.mouth_interior import lip_opening
from facespeak.video.reader import read_video

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import face_photos  # noqa: E402

pytestmark = pytest.mark.skipif(not default_tts_path().is_file(), reason="bundled TTS weights not built yet")


@pytest.fixture(scope="module")
def fs():
    return FaceSpeak.from_bundled()


@pytest.fixture(scope="module")
def portrait_png(tmp_path_factory):
    p = tmp_path_factory.mktemp("img") / "astronaut.png"
    Image.fromarray(face_photos.astronaut()).save(p)
    return p


def test_say_writes_a_real_talking_video(fs, portrait_png, tmp_path):
    out = tmp_path / "talk.mp4"
    res = say(fs, str(portrait_png), "Papa bought a map. Open the window wide!", out, SpeechOptions(seed=1, steps=4))
    v = read_video(out)
    assert (v.info.video_codec, v.info.audio_codec, v.info.fps) == ("h264", "aac", 25.0)
    assert v.info.size == (256, 256) and v.info.n_frames == res.n_frames
    assert abs(v.info.video_duration_s - v.info.audio_duration_s) <= 1 / 25 + 1e-6
    assert abs(v.info.audio_duration_s - res.duration_s) < 0.1
    idx = np.linspace(0, len(v.frames) - 1, 8).astype(int)
    openings = []
    for i in idx:
        faces = analyse_faces(v.frames[i])
        assert faces, f"no face in frame {i}"
        openings.append(lip_opening(faces[0].landmarks))
    assert max(openings) > 2 * min(openings) + 1e-3  # the mouth really moves
    assert np.abs(v.audio).max() > 0.05  # audible speech


def test_say_lips_rest_in_silence(fs, portrait_png, tmp_path):
    """Frames where the written audio is silent show closed lips (the silence gate), measured
    on the mp4 with the evaluation's own lip-sync proxy."""
    from facespeak.eval.metrics.video import lip_sync_proxy, mouth_opening, speech_envelope

    out = tmp_path / "pause.mp4"
    say(fs, str(portrait_png), "Look at that. Then, after a pause, speak again.", out, SpeechOptions(seed=2, steps=4))
    v = read_video(out)
    marks = []
    for frame in v.frames:
        faces = analyse_faces(frame)
        assert faces
        marks.append(faces[0].landmarks)
    opening = mouth_opening(np.asarray(marks))
    env = speech_envelope(v.audio, v.info.sample_rate, v.info.fps, n_frames=len(v.frames))
    proxy = lip_sync_proxy(opening, env, v.info.fps)
    assert proxy.silent_frames >= 5
    assert proxy.silence_closure >= 0.9
    assert proxy.peak_corr > 0.3 and abs(proxy.lag_frames) <= 1


def test_bad_head_motion_is_refused():
    with pytest.raises(InputError, match="head motion"):
        VideoOptions(head_motion=-1.0).validate()


def test_say_full_and_still_modes(fs, portrait_png, tmp_path):
    out = tmp_path / "full.mp4"
    say(fs, str(portrait_png), "Hello.", out, SpeechOptions(steps=2), VideoOptions(size="full", still=True))
    v = read_video(out)
    assert v.info.size == (512, 512)
    src = face_photos.astronaut().astype(np.int16)
    # far from the face the photo is unchanged (up to video coding noise)
    assert np.abs(v.frames[len(v.frames) // 2][400:, 400:].astype(np.int16) - src[400:, 400:]).mean() < 6


def test_say_same_seed_same_video(fs, portrait_png, tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    for p in (a, b):
        say(fs, str(portrait_png), "Same words.", p, SpeechOptions(seed=7, steps=2))
    va, vb = read_video(a), read_video(b)
    assert np.array_equal(va.audio, vb.audio) and np.array_equal(va.frames, vb.frames)


def test_say_cli_bad_input(tmp_path):
    cli = [sys.executable, "-m", "facespeak.cli.main", "say"]
    Image.fromarray(face_photos.no_face()).save(tmp_path / "coffee.jpg")
    r = subprocess.run(cli + ["--image", str(tmp_path / "coffee.jpg"), "--text", "Hi.", "--out", str(tmp_path / "o.mp4")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 3 and r.stderr.count("error:") == 1 and "no face" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(cli + ["--image", str(tmp_path / "coffee.jpg"), "--text", "Hi.", "--out", str(tmp_path / "o.avi")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and ".mp4" in r.stderr and not (tmp_path / "o.avi").exists()


def test_say_with_the_latent_tfg(fs, portrait_png, tmp_path):
    """--tfg latent: a (tiny, untrained) latent TFG renders the video, driven by the motion plan."""
    import torch

    from facespeak.core.checkpoint import save_checkpoint
    from facespeak.core.config import to_dict
    from facespeak.tfg.latent import LatentTFG, LatentTFGConfig
    from facespeak.tfg.latent.weights import ARCH, WEIGHTS_FILE

    torch.manual_seed(0)
    cfg = LatentTFGConfig.tiny()
    save_checkpoint(tmp_path / WEIGHTS_FILE, LatentTFG(cfg).state_dict(), ARCH, to_dict(cfg))
    out = tmp_path / "latent.mp4"
    res = say(fs, str(portrait_png), "Hello.", out, SpeechOptions(steps=2),
              VideoOptions(tfg="latent", tfg_weights=str(tmp_path)))
    v = read_video(out)
    assert v.info.size == (cfg.size, cfg.size) and v.info.n_frames == res.n_frames
    assert (v.info.video_codec, v.info.audio_codec) == ("h264", "aac")
    assert abs(v.info.video_duration_s - v.info.audio_duration_s) <= 1 / 25 + 1e-6
    with pytest.raises(InputError, match="--weights"):
        VideoOptions(tfg="latent").validate()

"""The paper's system end to end: train the joint stage (tfg_joint_tiny) a few steps, export it,
and run `facespeak say --tfg latent --weights DIR` on the export: the jointly trained TTS speaks,
its audio mapper and motion sampler drive the latent TFG, and a real mp4 comes out."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facespeak.core.errors import CheckpointError, InputError
from facespeak.pipeline import FaceSpeak, SpeechOptions, VideoOptions, default_tts_path, say
from facespeak.video.reader import read_video

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import face_photos  # noqa: E402
from test_talking_clips import write_clip  # noqa: E402

pytestmark = pytest.mark.skipif(not default_tts_path().is_file(), reason="bundled TTS weights not built yet")

CLI = [sys.executable, "-m", "facespeak.cli.main"]


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    r = subprocess.run(CLI + args, capture_output=True, text=True, timeout=600, cwd=tmp,
                       env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    return r


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """`facespeak train tfg --config tfg_joint_tiny` for 2 steps on three synthetic talking clips."""
    tmp = tmp_path_factory.mktemp("joint")
    write_clip(tmp / "clips" / "a" / "1.mp4", 16, "Hello there.", seed=1)
    write_clip(tmp / "clips" / "a" / "2.mp4", 14, "Good morning to you.", seed=2)
    write_clip(tmp / "clips" / "b" / "1.mp4", 12, "Thanks.", seed=3)
    weights = tmp / "weights"
    r = _run(["train", "tfg", "--config", "tfg_joint_tiny", "--run-dir", str(tmp / "run"),
              "--out", str(weights / "latent_tfg.safetensors"), "--set", f"joint.clips.root={tmp / 'clips'}",
              "--set", f"joint.clips.cache={tmp / 'clips.safetensors'}", "--set", "joint.clips.window_frames=6",
              "--set", "train.steps=2"], tmp)
    names = sorted(p.name for p in weights.iterdir())
    assert names == ["latent_tfg.audio_mapper.safetensors", "latent_tfg.motion_sampler.safetensors",
                     "latent_tfg.safetensors", "latent_tfg.tts.safetensors"], (names, r.stdout)
    return weights


@pytest.fixture(scope="module")
def portrait_png(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("img") / "astronaut.png"
    Image.fromarray(face_photos.astronaut()).save(p)
    return p


def test_say_runs_the_joint_export_end_to_end(export, portrait_png, tmp_path) -> None:
    out = tmp_path / "joint.mp4"
    r = _run(["say", "--image", str(portrait_png), "--text", "Papa bought a map.", "--out", str(out),
              "--tfg", "latent", "--weights", str(export), "--steps", "2", "--seed", "3"], tmp_path)
    assert "wrote" in r.stdout
    v = read_video(out)
    assert (v.info.video_codec, v.info.audio_codec, v.info.fps) == ("h264", "aac", 25.0)
    assert v.info.size == (32, 32)  # the joint TFG's crop, not the mesh renderer's 256 px
    assert v.info.n_frames == int(np.ceil(v.info.audio_duration_s * 25 - 1e-6)) and v.info.n_frames >= 5
    assert abs(v.info.video_duration_s - v.info.audio_duration_s) <= 1 / 25 + 1e-6
    assert np.abs(v.audio).max() > 0 and v.frames.std() > 0


def test_the_joint_tts_speaks_and_the_sampler_moves(export, portrait_png, tmp_path) -> None:
    fs = FaceSpeak.from_bundled()
    res = say(fs, str(portrait_png), "Good morning.", tmp_path / "a.mp4", SpeechOptions(steps=2, seed=5),
              VideoOptions(tfg="latent", tfg_weights=str(export)))
    # e_t has the joint TTS's 16 encoder channels (the bundled TTS has 192)
    assert res.chunks and all(c.e_t.shape[0] == 16 for c in res.chunks)
    assert res.sample_rate == fs.mel_spec.sample_rate and res.n_frames == int(np.ceil(res.duration_s * 25 - 1e-6))
    from facespeak.core.progress import FACE, MOTION, RENDER

    assert {FACE, MOTION, RENDER, "first_frame_s"} <= set(res.timings)
    still = say(fs, str(portrait_png), "Good morning.", tmp_path / "b.mp4", SpeechOptions(steps=2, seed=5),
                VideoOptions(tfg="latent", tfg_weights=str(export), still=True))
    a, b = read_video(res.path), read_video(still.path)
    assert np.array_equal(a.audio, b.audio)  # same seed, same speech
    assert not np.array_equal(a.frames, b.frames)  # sampled f_m differs from the portrait's own
    with pytest.raises(InputError, match="motion 'rules'"):
        say(fs, str(portrait_png), "Hi.", tmp_path / "c.mp4", SpeechOptions(steps=1),
            VideoOptions(tfg="latent", tfg_weights=str(export), motion="rules"))


def test_incomplete_or_old_exports_are_refused(export, tmp_path) -> None:
    from facespeak.core.checkpoint import save_checkpoint
    from facespeak.latent_pipeline import load_joint_export

    part = tmp_path / "part"
    shutil.copytree(export, part)
    (part / "latent_tfg.audio_mapper.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing latent_tfg.audio_mapper.safetensors"):
        load_joint_export(part)
    import torch

    save_checkpoint(part / "latent_tfg.motion_sampler.safetensors", {"w": torch.zeros(1)},
                    "facespeak.tfg.latent.motion_sampler", {"d_style": 32})
    with pytest.raises(CheckpointError, match="before the one motion stack"):
        load_joint_export(part)
    mesh = tmp_path / "mesh"  # a mesh-space mapper in a latent export
    shutil.copytree(export, mesh)
    from facespeak.core.config import to_dict
    from facespeak.motion.audio_mapper import AudioMapper, AudioMapperConfig

    save_checkpoint(mesh / "latent_tfg.audio_mapper.safetensors", AudioMapper(AudioMapperConfig.tiny()).state_dict(),
                    "facespeak.audio_mapper", to_dict(AudioMapperConfig.tiny()))
    with pytest.raises(CheckpointError, match="latent motion space: mapper outputs 4 \\(expected 32\\)"):
        load_joint_export(mesh)

"""The paper's 16 kHz / hop 160 audio through ``say``: a tiny TTS and a tiny vocoder trained a few
steps on that mel analysis (real flite speech, the real training loop), written as a model
bundle directory (facespeak.bundle), loaded by ``FaceSpeak.from_bundled(bundle=...)`` and run
end to end to an mp4. The voice is noise after 4 steps; the test checks the plumbing: rates,
sample counts, frame counts and the container, which a 22.05 kHz constant anywhere would break.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facespeak.bundle import LAYOUT, Bundle, load_bundle, load_tts, save_bundle
from facespeak.core.checkpoint import read_info
from facespeak.core.timing import MelSpec
from facespeak.face.identity import IdentityExtractor, bundled_identity_path
from facespeak.pipeline import FaceSpeak, SpeechOptions, VideoOptions, say
from facespeak.video.reader import read_video

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import face_photos  # noqa: E402

pytestmark = [pytest.mark.skipif(shutil.which("flite") is None, reason="flite (Debian) not installed"),
              pytest.mark.skipif(not bundled_identity_path().is_file(), reason="bundled identity weights not built")]

PAPER = MelSpec.paper()
TEXTS = ["The quick brown fox jumps.", "She sells sea shells by the shore.", "A bird in the hand.",
         "Time flies like an arrow."]


def _corpus(root: Path) -> Path:
    (root / "wavs").mkdir()
    rows = []
    for i, text in enumerate(TEXTS):
        wav = root / "wavs" / f"u{i}.wav"
        subprocess.run(["flite", "-voice", ["slt", "rms"][i % 2], "-t", text, "-o", str(wav)], check=True)
        rows.append({"id": f"u{i}", "text": text, "speaker": ["slt", "rms"][i % 2], "wav": f"wavs/u{i}.wav",
                     "split": "train", "duration": 2.0})
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root / "manifest.jsonl"


def _train_tts(root: Path, cond_dim: int) -> Path:
    from facespeak.data.tts_dataset import FaceBank, prepare_tts_features
    from facespeak.train import train
    from facespeak.train.tts_task import TTSTask, TTSTrainConfig

    prepare_tts_features(root, root / "feats.safetensors", spec=PAPER, progress=False)
    g = torch.Generator().manual_seed(0)
    bank = FaceBank(torch.randn(4, cond_dim, generator=g), torch.randn(4, cond_dim, generator=g),
                    torch.tensor([0, 0, 1, 1]), torch.tensor([0, 0, 1, 1]), ["rms", "slt"], ["p0", "p1"])
    bank.save(root / "bank.safetensors")
    cfg = TTSTrainConfig.tiny()
    cfg.data.features, cfg.data.face_bank = str(root / "feats.safetensors"), str(root / "bank.safetensors")
    train(TTSTask(cfg), cfg.train, root / "tts_run", export_path=root / "tts.safetensors", device="cpu", progress=False)
    return root / "tts.safetensors"


def _train_vocoder(root: Path, manifest: Path) -> Path:
    from facespeak.train import train
    from facespeak.train.vocoder_task import VocoderTask, VocoderTrainConfig
    from facespeak.vocoder.istft_vocoder import IstftVocoderConfig

    cfg = VocoderTrainConfig.tiny()
    # the tiny preset (configs/vocoder_tiny.yaml) with the paper's STFT: hop 160, window 640
    cfg.model = replace(IstftVocoderConfig.tiny(), hop_length=PAPER.hop_length, win_length=PAPER.win_length,
                        n_fft=PAPER.n_fft, n_mels=PAPER.n_mels)
    cfg.data.manifest = str(manifest)
    train(VocoderTask(cfg, PAPER), cfg.train, root / "voc_run", export_path=root / "voc.safetensors", device="cpu",
          progress=False)
    return root / "voc.safetensors"


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    from facespeak.vocoder.bundled import load_vocoder_checkpoint

    root = tmp_path_factory.mktemp("paper16k")
    manifest = _corpus(root)
    identity = IdentityExtractor.from_bundled()
    tts, tts_config, _ = load_tts(_train_tts(root, identity.model.config.dim))
    vocoder = load_vocoder_checkpoint(_train_vocoder(root, manifest))
    return save_bundle(Bundle(tts, tts_config, PAPER, vocoder, identity, fps=25.0), root / "bundle")


def test_the_bundle_records_the_16k_mel_analysis(bundle_dir: Path) -> None:
    for part in ("tts", "vocoder"):
        assert read_info(bundle_dir / LAYOUT[part]).config["_mel"]["sample_rate"] == 16000
    b = load_bundle(bundle_dir)
    assert b.mel_spec == PAPER and b.sample_rate == 16000 and b.timing.mel_frames_per_video_frame == 4.0


def test_say_runs_the_16k_bundle_end_to_end(bundle_dir: Path, tmp_path: Path) -> None:
    fs = FaceSpeak.from_bundled(bundle=bundle_dir)
    assert fs.mel_spec == PAPER and fs.motion_models is None
    portrait = tmp_path / "face.png"
    Image.fromarray(face_photos.astronaut()).save(portrait)
    out = tmp_path / "talk.mp4"
    speech = SpeechOptions(seed=2, steps=2, pause_s=0.2)
    res = say(fs, str(portrait), "A bird in the hand. Time flies.", out, speech, VideoOptions())
    assert res.sample_rate == 16000 and res.fps == 25.0
    # every chunk: T_mel frames of hop 160 -> T_mel * 160 samples at 16 kHz
    for ch in res.chunks:
        assert ch.mel.shape[0] == 80 and len(ch.wav) == ch.mel.shape[1] * PAPER.hop_length
    n_samples = sum(len(c.wav) for c in res.chunks) + int(speech.pause_s * 16000) * (len(res.chunks) - 1)
    assert res.duration_s == pytest.approx(n_samples / 16000)
    assert res.n_frames == int(np.ceil(res.duration_s * 25.0))
    v = read_video(out)
    assert (v.info.video_codec, v.info.audio_codec, v.info.fps) == ("h264", "aac", 25.0)
    assert v.info.sample_rate == 16000 and v.info.n_frames == res.n_frames
    assert abs(v.info.audio_duration_s - res.duration_s) < 0.1
    assert abs(v.info.video_duration_s - v.info.audio_duration_s) <= 1 / 25 + 1e-6


def test_the_16k_tts_with_the_22k_vocoder_is_refused(bundle_dir: Path) -> None:
    from facespeak.core.errors import CheckpointError

    with pytest.raises(CheckpointError, match="makes mels .*16000.* takes .*22050"):
        FaceSpeak.from_bundled(bundle=bundle_dir, vocoder="fast")


def test_cli_tts_takes_a_bundle_directory(bundle_dir: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    import soundfile as sf

    portrait = tmp_path / "face.png"
    Image.fromarray(face_photos.astronaut()).save(portrait)
    out = tmp_path / "speech.wav"
    cmd = [sys.executable, "-m", "facespeak.cli.main", "-q", "tts", "--image", str(portrait), "--text", "Time flies.",
           "--steps", "2", "--out", str(out)]
    run = subprocess.run([*cmd, "--bundle", str(bundle_dir)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert sf.info(str(out)).samplerate == 16000  # the bundle's own vocoder, not the default one
    bad = subprocess.run([*cmd, "--bundle", str(tmp_path / "missing")], capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "expected a directory" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1

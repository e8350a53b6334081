"""Train the tiny TTS a few steps on real (flite) speech through the real loop, resume, export, synthesise."""

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch

from facespeak.core.checkpoint import load_checkpoint
from facespeak.core.config import from_dict
from facespeak.data.tts_dataset import FaceBank, TTSFeatures, prepare_tts_features
from facespeak.train import train
from facespeak.train.loop import export_last
from facespeak.train.tts_task import TTSTask, TTSTrainConfig
from facespeak.tts import FaceTTS, TTSConfig

pytestmark = pytest.mark.skipif(shutil.which("flite") is None, reason="flite (Debian) not installed; scripts/setup.sh installs it")

TEXTS = ["The quick brown fox jumps.", "She sells sea shells by the shore.", "A bird in the hand.", "Time flies like an arrow."]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    (root / "wavs").mkdir()
    rows = []
    for i, t in enumerate(TEXTS):
        voice = ["slt", "rms"][i % 2]
        wav = root / "wavs" / f"u{i}.wav"
        subprocess.run(["flite", "-voice", voice, "-t", t, "-o", str(wav)], check=True)
        rows.append({"id": f"u{i}", "text": t, "speaker": voice, "wav": f"wavs/u{i}.wav", "split": "train", "duration": 2.0})
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    feats = prepare_tts_features(root, root / "feats.safetensors", progress=False)
    g = torch.Generator().manual_seed(0)
    bank = FaceBank(torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g), torch.tensor([0, 0, 0, 1, 1, 1]),
                    torch.tensor([0, 0, 0, 1, 1, 1]), ["rms", "slt"], ["p0", "p1"])
    bank.save(root / "bank.safetensors")
    return root, feats


def _cfg(root, steps):
    cfg = TTSTrainConfig.tiny()
    cfg.data.features = str(root / "feats.safetensors")
    cfg.data.face_bank = str(root / "bank.safetensors")
    cfg.train.steps = steps
    cfg.model.encoder.dropout = cfg.model.duration.dropout = cfg.model.decoder.dropout = 0.0
    return cfg


def test_features_file_round_trips_the_mels(tiny_data):
    from facespeak.audio.io import load_audio
    from facespeak.audio.mel import MelExtractor

    root, path = tiny_data
    f = TTSFeatures(path)
    assert len(f) == 4 and f.speakers == ["rms", "slt"]
    for i in range(4):
        ids, mel, spk = f.item(i)
        assert mel.shape[0] == 80 and mel.shape[1] > len(ids) > 10
        fresh = MelExtractor()(torch.from_numpy(load_audio(root / "wavs" / f"u{i}.wav", 22050)))[0].numpy()
        assert fresh.shape == mel.shape
        assert np.abs(fresh - mel).max() < 0.02  # float16 storage, same layout


def test_train_resume_exact_export_and_synthesise(tiny_data, tmp_path):
    root, _ = tiny_data
    straight = tmp_path / "straight"
    train(TTSTask(_cfg(root, 4)), _cfg(root, 4).train, straight, export_path=tmp_path / "a.safetensors", progress=False)
    resumed = tmp_path / "resumed"
    train(TTSTask(_cfg(root, 4)), _cfg(root, 4).train, resumed, progress=False, stop_at=2)  # "interrupted"
    assert not (tmp_path / "b.safetensors").exists()
    assert export_last(TTSTask(_cfg(root, 4)), _cfg(root, 4).train, resumed, tmp_path / "mid.safetensors") == 2
    mid, _ = load_checkpoint(tmp_path / "mid.safetensors", arch="facespeak.tts")
    train(TTSTask(_cfg(root, 4)), _cfg(root, 4).train, resumed, export_path=tmp_path / "b.safetensors", progress=False)
    a, info = load_checkpoint(tmp_path / "a.safetensors", arch="facespeak.tts")
    b, _ = load_checkpoint(tmp_path / "b.safetensors", arch="facespeak.tts")
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed run differs from the straight run"
    assert not all(torch.equal(a[k], mid[k]) for k in a)  # the step-2 export is an earlier state
    log = (straight / "loss.csv").read_text().splitlines()
    assert log[0].startswith("step,seconds") and len(log) == 5
    cfg = from_dict(TTSConfig, {k: v for k, v in info.config.items() if not k.startswith("_")})
    assert cfg.n_vocab > 100 and cfg.cond_dim == 8
    model = FaceTTS(cfg)
    model.load_state_dict(a)
    model.eval()
    ids = torch.tensor([[5, 9, 12, 7, 3]])
    out = model.synthesise(ids, torch.tensor([5]), torch.randn(1, 8), n_steps=2, generator=torch.Generator().manual_seed(0))
    assert out.mel.shape[1] == 80 and torch.isfinite(out.mel).all()
    assert np.isfinite(out.durations.numpy()).all() and int(out.mel_lengths[0]) >= 5


def test_gender_condition_warm_start_grows_the_input_layer(tiny_data, tmp_path):
    """A face-only model warm-starts a gender-conditioned one: old columns kept, the new one
    starts at zero (same speaker embedding at gender 0), and the bank's gender reaches cond."""
    root, _ = tiny_data
    train(TTSTask(_cfg(root, 1)), _cfg(root, 1).train, tmp_path / "a", export_path=tmp_path / "a.safetensors", progress=False)
    bank = FaceBank.load(root / "bank.safetensors").with_person_gender({"p0": {"gender": "male"}, "p1": {"gender": "female"}})
    bank.save(tmp_path / "gbank.safetensors")
    assert FaceBank.load(tmp_path / "gbank.safetensors").gender.tolist() == [1.0] * 3 + [-1.0] * 3
    cfg = _cfg(root, 1)
    cfg.data.face_bank = str(tmp_path / "gbank.safetensors")
    cfg.model.gender_cond = True
    cfg.init_from = str(tmp_path / "a.safetensors")
    task = TTSTask(cfg)
    model = task.build_model()
    old, _ = load_checkpoint(tmp_path / "a.safetensors", arch="facespeak.tts")
    w = model.state_dict()["cond.1.weight"]
    assert w.shape[1] == old["cond.1.weight"].shape[1] + 1
    assert torch.equal(w[:, :-1], old["cond.1.weight"]) and torch.all(w[:, -1] == 0)
    cond = task.condition(torch.tensor([0, 1, 0, 1]), torch.Generator().manual_seed(0))
    assert cond.shape == (4, 9)
    g = cond[:, -1]
    assert torch.all(g[[0, 2]] >= 0.5) and torch.all(g[[1, 3]] <= -0.5)  # rms <- p0 (male), slt <- p1 (female)
    task.cfg.data.face_dropout = 1.0  # every face part dropped, the gender score kept
    dropped = task.condition(torch.tensor([0, 1]), torch.Generator().manual_seed(0))
    assert torch.all(dropped[:, :8] == 0) and torch.all(dropped[:, 8].abs() >= 0.5)
    with pytest.raises(ValueError, match="9 columns"):
        model.speaker_embedding(cond[:, :8])
    model.cond[1].weight.data[:, -1] = 1.0
    assert not torch.allclose(model.speaker_embedding(cond), model.speaker_embedding(cond * torch.tensor([1.0] * 8 + [-1.0])))


def test_gender_condition_needs_a_bank_with_genders(tiny_data):
    from facespeak.core.errors import ConfigError

    root, _ = tiny_data
    cfg = _cfg(root, 1)
    cfg.model.gender_cond = True
    with pytest.raises(ConfigError, match="face bank with genders"):
        TTSTask(cfg)

"""Vocoder training task through the real loop: loss falls, checkpoints resume, export loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from facespeak.core.checkpoint import read_info
from facespeak.core.errors import CheckpointError, ConfigError
from facespeak.core.timing import MelSpec
from facespeak.train.loop import TrainConfig, train
from facespeak.train.vocoder_task import VocoderTask, VocoderTrainConfig, collate_wavs, random_crops
from facespeak.vocoder.bundled import bundled_vocoder_path, load_vocoder, load_vocoder_checkpoint
from facespeak.vocoder.istft_vocoder import IstftVocoder


def _voiced(seconds: float, f0: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A speech-like test signal: a gliding harmonic tone with a syllable-rate envelope."""
    t = np.arange(int(seconds * rate)) / rate
    pitch = f0 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6))
    return (0.1 * tone * envelope + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    rate = MelSpec().sample_rate
    rows = []
    for i in range(6):
        wav = root / "wavs" / f"u{i}.wav"
        wav.parent.mkdir(exist_ok=True)
        sf.write(wav, _voiced(0.6 + 0.1 * i, 100 + 20 * i, rate, rng), rate)
        rows.append({"wav": f"wavs/u{i}.wav", "split": "train" if i < 5 else "eval_sentence"})
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root / "manifest.jsonl"


def _tiny(corpus: Path, **train_overrides) -> VocoderTrainConfig:
    cfg = VocoderTrainConfig.tiny()
    cfg.data.manifest = str(corpus)
    cfg.train = TrainConfig(**{**vars(TrainConfig.tiny()), **train_overrides})
    return cfg


def test_dataset_reads_only_its_split_and_crops_stay_inside(corpus: Path) -> None:
    task = VocoderTask(_tiny(corpus))
    data = task.train_dataset()
    assert len(data) == 5 and data[0].dtype == torch.float32
    batch = collate_wavs([data[0], data[4]])
    assert batch["wav"].shape == (2, int(batch["lengths"].max()))
    marked = torch.arange(batch["wav"].shape[1]).float().repeat(2, 1)
    crops = random_crops(marked, batch["lengths"], 4096, torch.Generator().manual_seed(0))
    assert crops.shape == (2, 4096)
    assert torch.all(crops[:, -1] < batch["lengths"]) and torch.all(crops.diff(dim=1) == 1)


def test_loss_is_finite_and_falls_over_a_few_steps(corpus: Path) -> None:
    torch.manual_seed(0)
    task = VocoderTask(_tiny(corpus))
    model = task.build_model()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    batch = task.collate([task.train_dataset()[i] for i in range(4)])
    losses = []
    for _ in range(12):
        loss, parts = task.loss(model, batch, torch.Generator().manual_seed(5))  # same crops
        assert torch.isfinite(loss) and set(parts) == {"mel_l1", "stft"}
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_loop_trains_resumes_and_exports_a_loadable_checkpoint(corpus: Path, tmp_path: Path) -> None:
    cfg = _tiny(corpus, steps=4, ckpt_every=2)
    task = VocoderTask(cfg)
    run = tmp_path / "run"
    train(task, cfg.train, run, export_path=tmp_path / "early.safetensors", progress=False, stop_at=2)
    assert (run / "last.pt").is_file() and not (tmp_path / "early.safetensors").exists()
    train(task, cfg.train, run, export_path=tmp_path / "voc.safetensors", progress=False)
    lines = (run / "loss.csv").read_text().splitlines()
    assert lines[0].startswith("step,") and [int(r.split(",")[0]) for r in lines[1:]] == [1, 2, 3, 4]
    info = read_info(tmp_path / "voc.safetensors")
    assert info.arch == "facespeak.vocoder.istft" and info.extra["steps"] == 4
    loaded = load_vocoder_checkpoint(tmp_path / "voc.safetensors")
    assert isinstance(loaded, IstftVocoder) and not loaded.training
    state = torch.load(run / "last.pt", weights_only=True)["model"]
    reference = task.build_model()
    reference.load_state_dict(state)
    mel = torch.randn(1, 80, 9)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(mel), reference.eval()(mel))


def test_config_errors_are_reported(corpus: Path, tmp_path: Path) -> None:
    cfg = _tiny(corpus)
    cfg.data.split = "nonexistent"
    with pytest.raises(ConfigError, match="nonexistent"):
        VocoderTask(cfg).train_dataset()
    cfg = _tiny(corpus)
    cfg.model.hop_length = 128
    with pytest.raises(ConfigError, match="hop_length"):
        VocoderTask(cfg)
    with pytest.raises(ConfigError, match="unknown"):
        VocoderTrainConfig.from_dict({"modle": {}})
    with pytest.raises(CheckpointError, match="unknown vocoder"):
        load_vocoder("slow")


@pytest.mark.skipif(not bundled_vocoder_path("fast").is_file(), reason="fast vocoder weights not bundled")
def test_bundled_fast_vocoder_loads_small_and_inverts_a_mel() -> None:
    from facespeak.audio.mel import MelExtractor

    assert bundled_vocoder_path("fast").stat().st_size < 10e6
    model = load_vocoder("fast")
    assert isinstance(model, IstftVocoder) and not model.training
    rate = MelSpec().sample_rate
    noise = 0.01 * np.random.default_rng(4).standard_normal(rate).astype(np.float32)
    wav = torch.from_numpy(_voiced(1.0, 120, rate, np.random.default_rng(3)) + noise)
    mel = MelExtractor()(wav)
    torch.manual_seed(0)
    untrained = IstftVocoder(model.cfg).eval()
    with torch.inference_mode():
        out = model(mel)
        errors = [(MelExtractor()(m(mel)) - mel).abs().mean().item() for m in (model, untrained)]
    assert out.shape == (1, mel.shape[-1] * 256)
    assert errors[0] < 0.8 and errors[0] < 0.5 * errors[1]  # a trained model, not random weights


def test_noise_augmentation_hits_the_requested_snr_on_the_requested_share(corpus: Path) -> None:
    cfg = _tiny(corpus)
    cfg.data.noise_prob, cfg.data.noise_snr_db = 0.5, (20.0, 20.0)
    task = VocoderTask(cfg)
    clean = 0.1 * torch.randn(400, 2048, generator=torch.Generator().manual_seed(0))
    noisy = task._add_noise(clean, torch.Generator().manual_seed(1))
    residual = (noisy - clean).pow(2).mean(dim=1).sqrt() / clean.pow(2).mean(dim=1).sqrt()
    touched = residual > 0
    assert 0.4 < touched.float().mean() < 0.6
    torch.testing.assert_close(residual[touched], torch.full_like(residual[touched], 0.1), atol=0.01, rtol=0)
    cfg.data.noise_prob = 0.0
    assert torch.equal(VocoderTask(cfg)._add_noise(clean, torch.Generator()), clean)


def _adversarial(corpus: Path, tmp_path: Path, **train_overrides) -> VocoderTrainConfig:
    cfg = _tiny(corpus, **train_overrides)
    cfg.adversarial.enabled = True
    torch.manual_seed(3)
    init = tmp_path / "init.safetensors"
    from facespeak.core.checkpoint import save_checkpoint

    save_checkpoint(init, IstftVocoder(cfg.model).state_dict(), "facespeak.vocoder.istft",
                    vars(cfg.model))
    cfg.init_from = str(init)
    return cfg


def test_adversarial_loss_gives_each_player_only_its_own_gradient(corpus: Path, tmp_path: Path) -> None:
    task = VocoderTask(_adversarial(corpus, tmp_path))
    model = task.build_model()
    batch = task.collate([task.train_dataset()[i] for i in range(2)])
    loss, parts = task.loss(model, batch, torch.Generator().manual_seed(1))
    assert set(parts) == {"mel_l1", "stft", "g_adv", "fm", "d"} and torch.isfinite(loss)
    # the discriminators' gradient must equal that of L_D alone; the generator's must not see L_D
    model.zero_grad()
    loss.backward()
    d_grad = [p.grad.clone() for p in model.discriminators.parameters()]
    g_grad = [p.grad.clone() for p in model.generator.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in d_grad + g_grad)
    model.zero_grad()
    gen = torch.Generator().manual_seed(1)
    target = task._segments(batch, gen)
    mel = task.extractor(target)
    from facespeak.vocoder.discriminators import discriminator_loss

    with torch.no_grad():
        fake = model.generator(mel)
    discriminator_loss(model.discriminators(target), model.discriminators(fake)).backward()
    for a, b in zip(d_grad, [p.grad for p in model.discriminators.parameters()]):
        torch.testing.assert_close(a, b)
    assert all(p.grad is None for p in model.generator.parameters())


def test_adversarial_stage_warm_starts_trains_resumes_and_exports_the_generator(corpus: Path, tmp_path: Path) -> None:
    cfg = _adversarial(corpus, tmp_path, steps=4, ckpt_every=2)
    task = VocoderTask(cfg)
    start = task.build_model()
    init = load_vocoder_checkpoint(cfg.init_from)
    for (name, a), b in zip(start.generator.state_dict().items(), init.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    run = tmp_path / "run"
    train(task, cfg.train, run, progress=False, stop_at=2)
    train(task, cfg.train, run, export_path=tmp_path / "gan.safetensors", progress=False)
    header = (run / "loss.csv").read_text().splitlines()[0]
    assert all(k in header for k in ("g_adv", "fm", "d", "mel_l1"))
    exported = load_vocoder_checkpoint(tmp_path / "gan.safetensors")
    assert isinstance(exported, IstftVocoder)
    trained = torch.load(run / "last.pt", weights_only=True)["model"]
    assert any(k.startswith("discriminators.") for k in trained)
    for name, value in exported.state_dict().items():
        torch.testing.assert_close(value, trained[f"generator.{name}"], msg=name)
    assert not torch.equal(exported.state_dict()["input_conv.weight"], init.state_dict()["input_conv.weight"])

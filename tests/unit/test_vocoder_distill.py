"""Distillation step: losses and a short real run (universal teacher, tiny student)."""

from __future__ import annotations

import pytest
import torch

from facespeak.audio.io import load_audio
from facespeak.audio.mel import MelExtractor
from facespeak.audio.reference_speech import librivox_clips
from facespeak.core.errors import DependencyError
from facespeak.vocoder.bundled import load_universal_hifigan, universal_mel_spec
from facespeak.vocoder.distill import (
    DistillConfig,
    Distiller,
    MultiResolutionStftLoss,
    random_segments,
    teacher_waveform,
)
from facespeak.vocoder.hifigan import HifiGanConfig, HifiGanGenerator


def test_stft_loss_is_zero_for_identical_and_grows_with_distortion() -> None:
    loss = MultiResolutionStftLoss(DistillConfig.tiny().stft_resolutions)
    g = torch.Generator().manual_seed(0)
    target = 0.3 * torch.randn(2, 4096, generator=g)
    assert loss(target, target).item() < 1e-5
    small = loss(target + 0.01 * torch.randn(2, 4096, generator=g), target).item()
    large = loss(target + 0.1 * torch.randn(2, 4096, generator=g), target).item()
    assert 0 < small < large


def test_random_segments_stay_aligned() -> None:
    hop = 256
    frames = torch.arange(50, dtype=torch.float32)
    mel = frames.repeat(2, 80, 1)  # value = frame index
    wav = (torch.arange(50 * hop) // hop).float().repeat(2, 1)  # value = frame index
    m, w = random_segments(mel, wav, 8, hop, torch.Generator().manual_seed(1))
    assert m.shape == (2, 80, 8) and w.shape == (2, 8 * hop)
    for i in range(2):
        assert torch.equal(w[i, ::hop], m[i, 0])


def test_distillation_loss_decreases_on_real_speech() -> None:
    try:
        clip = librivox_clips()[1]
    except DependencyError as exc:
        pytest.skip(str(exc))
    spec = universal_mel_spec()
    wav = torch.from_numpy(load_audio(clip.path, spec.sample_rate))
    mel = MelExtractor(spec)(wav)[..., 100:148]  # ~0.56 s of speech
    teacher = load_universal_hifigan()
    target = teacher_waveform(teacher, mel)
    torch.manual_seed(0)
    student = HifiGanGenerator(HifiGanConfig.tiny())
    distiller = Distiller(teacher, student, spec, DistillConfig.tiny())
    history = [distiller.step(mel, target) for _ in range(20)]
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in history)
    first, last = history[0], history[-1]
    assert last["loss"] < 0.5 * first["loss"]
    assert last["mel_l1"] < first["mel_l1"] and last["stft"] < first["stft"]
    # the teacher was not touched
    assert not any(p.grad is not None for p in teacher.parameters())

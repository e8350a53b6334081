"""HiFi-GAN log-mel features: filterbank, exact recipe, shapes, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facespeak.audio.mel import (
    MelExtractor,
    hz_to_mel_slaney,
    mel_to_hz_slaney,
    slaney_mel_filterbank,
)
from facespeak.core.errors import AudioError
from facespeak.core.timing import MelSpec


@pytest.mark.parametrize(
    "sr,n_fft,n_mels,fmin,fmax",
    [(22050, 1024, 80, 0.0, 8000.0), (16000, 1024, 80, 0.0, 8000.0),
     (16000, 512, 40, 55.0, None), (44100, 2048, 128, 20.0, 16000.0)],
)
def test_filterbank_matches_librosa(sr, n_fft, n_mels, fmin, fmax) -> None:
    librosa = pytest.importorskip("librosa")
    ours = slaney_mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert ours.shape == theirs.shape == (n_mels, n_fft // 2 + 1)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-8)


def test_slaney_scale_is_linear_below_1khz_and_invertible() -> None:
    assert np.isclose(hz_to_mel_slaney(1000.0), 15.0)
    assert np.isclose(hz_to_mel_slaney(500.0), 7.5)
    hz = np.array([0.0, 123.0, 999.0, 1000.0, 4321.0, 11025.0])
    np.testing.assert_allclose(mel_to_hz_slaney(hz_to_mel_slaney(hz)), hz, rtol=1e-12, atol=1e-9)


def _numpy_reference_mel(wav: np.ndarray, spec: MelSpec) -> np.ndarray:
    """Independent implementation of HiFi-GAN's mel_spectrogram with numpy's FFT."""
    pad = (spec.n_fft - spec.hop_length) // 2
    x = np.pad(wav.astype(np.float64), (pad, spec.n_fft - spec.hop_length - pad), mode="reflect")
    n_frames = 1 + (len(x) - spec.n_fft) // spec.hop_length
    window = np.zeros(spec.n_fft)
    offset = (spec.n_fft - spec.win_length) // 2
    window[offset : offset + spec.win_length] = 0.5 - 0.5 * np.cos(
        2 * np.pi * np.arange(spec.win_length) / spec.win_length  # periodic Hann
    )
    frames = np.stack([x[i * spec.hop_length : i * spec.hop_length + spec.n_fft] for i in range(n_frames)])
    spectrum = np.fft.rfft(frames * window, axis=1).T
    magnitude = np.sqrt(spectrum.real**2 + spectrum.imag**2 + 1e-9)
    basis = slaney_mel_filterbank(spec.sample_rate, spec.n_fft, spec.n_mels, spec.fmin, spec.fmax)
    return np.log(np.maximum(basis.astype(np.float64) @ magnitude, spec.log_floor))


@pytest.mark.parametrize("spec", [MelSpec(), MelSpec.paper()])
def test_extractor_matches_independent_reference(spec: MelSpec) -> None:
    rng = np.random.default_rng(1)
    wav = (0.3 * rng.standard_normal(spec.sample_rate // 2)).astype(np.float32)
    ours = MelExtractor(spec)(torch.from_numpy(wav))[0].double().numpy()
    ref = _numpy_reference_mel(wav, spec)
    assert ours.shape == ref.shape == (spec.n_mels, len(wav) // spec.hop_length)
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_sine_at_a_filter_centre_peaks_in_that_mel_bin() -> None:
    spec = MelSpec()
    extractor = MelExtractor(spec)
    centres_mel = np.linspace(hz_to_mel_slaney(spec.fmin), hz_to_mel_slaney(spec.fmax), spec.n_mels + 2)
    t = torch.arange(spec.sample_rate, dtype=torch.float64) / spec.sample_rate
    for k in (5, 20, 40, 60, 78):
        freq = float(mel_to_hz_slaney(centres_mel[k + 1]))  # filter k peaks at corner k + 1
        mel = extractor(0.5 * torch.sin(2 * np.pi * freq * t).float())[0]
        peaks = mel[:, 2:-2].argmax(dim=0)
        assert torch.all(peaks == k), (k, freq, peaks.unique())


@pytest.mark.parametrize("spec", [MelSpec(), MelSpec.paper(), MelSpec(n_fft=1024, hop_length=255)])
def test_frame_count_is_samples_over_hop(spec: MelSpec) -> None:
    extractor = MelExtractor(spec)
    for n in (spec.n_fft, spec.hop_length * 10, spec.hop_length * 10 + 1, spec.hop_length * 11 - 1, 12345):
        mel = extractor(torch.zeros(2, n))
        assert mel.shape == (2, spec.n_mels, n // spec.hop_length) == (2, spec.n_mels, extractor.num_frames(n))
    assert sum(extractor.padding) == spec.n_fft - spec.hop_length


def test_silence_hits_the_log_floor() -> None:
    mel = MelExtractor()(torch.zeros(4096))
    assert torch.allclose(mel, torch.full_like(mel, np.log(1e-5)))


def test_batch_equals_single() -> None:
    extractor = MelExtractor()
    batch = 0.2 * torch.randn(3, 5000, generator=torch.Generator().manual_seed(0))
    together = extractor(batch)
    for i in range(3):
        torch.testing.assert_close(extractor(batch[i]), together[i : i + 1], atol=1e-5, rtol=1e-5)


def test_too_short_or_wrong_rank_raises() -> None:
    extractor = MelExtractor()
    with pytest.raises(AudioError, match="samples"):
        extractor(torch.zeros(100))
    with pytest.raises(AudioError, match="shape"):
        extractor(torch.zeros(1, 1, 4096))


def test_is_differentiable() -> None:
    wav = (0.1 * torch.randn(1, 4096)).requires_grad_()
    MelExtractor()(wav).mean().backward()
    assert wav.grad is not None and torch.isfinite(wav.grad).all() and wav.grad.abs().sum() > 0

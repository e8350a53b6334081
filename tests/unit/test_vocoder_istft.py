"""The frame-rate ConvNeXt + inverse-STFT vocoder: exact iSTFT, shapes, invariances, ONNX parity."""

from __future__ import annotations

import pytest
import torch

from facespeak.audio.mel import MelExtractor
from facespeak.core.errors import ConfigError, InputError
from facespeak.core.timing import MelSpec
from facespeak.vocoder.istft_vocoder import InverseStft, IstftVocoder, IstftVocoderConfig


@pytest.mark.parametrize("n_fft,hop,win", [(1024, 256, 1024), (512, 128, 400)])
def test_inverse_stft_inverts_mel_extractor_framing_exactly(n_fft: int, hop: int, win: int) -> None:
    spec = MelSpec(n_fft=n_fft, hop_length=hop, win_length=win)
    extractor = MelExtractor(spec)
    wav = 0.3 * torch.randn(2, hop * 37, generator=torch.Generator().manual_seed(0))
    left, right = extractor.padding
    padded = torch.nn.functional.pad(wav.unsqueeze(1), (left, right), mode="reflect").squeeze(1)
    window = torch.zeros(n_fft)
    window[(n_fft - win) // 2 : (n_fft - win) // 2 + win] = torch.hann_window(win)
    stft = torch.stft(padded, n_fft, hop, window=window, center=False, return_complex=True)
    assert stft.shape[-1] == 37  # one frame per hop, as MelExtractor
    out = InverseStft(n_fft, hop, win)(torch.cat([stft.real, stft.imag], dim=1))
    assert out.shape == wav.shape
    torch.testing.assert_close(out, wav, atol=1e-5, rtol=0)


@pytest.mark.parametrize("frames", [1, 2, 7, 64])
def test_output_has_t_mel_times_hop_samples(frames: int) -> None:
    torch.manual_seed(0)
    model = IstftVocoder(IstftVocoderConfig.tiny()).eval()
    assert 10_000 < sum(p.numel() for p in model.parameters()) < 100_000
    with torch.inference_mode():
        wav = model(torch.randn(3, 80, frames))
    assert wav.shape == (3, frames * model.hop_length) and torch.isfinite(wav).all()


def test_batch_equals_single_and_output_is_causal_free_of_padding_leaks() -> None:
    torch.manual_seed(1)
    model = IstftVocoder(IstftVocoderConfig.tiny()).eval()
    mel = torch.randn(2, 80, 30)
    with torch.inference_mode():
        batched = model(mel)
        single = torch.cat([model(mel[i : i + 1]) for i in range(2)])
        # the receptive field is finite: changing the last frames leaves the start unchanged
        edited = mel.clone()
        edited[:, :, -3:] += 5.0
        changed = model(edited)
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-4)
    hop = model.hop_length
    torch.testing.assert_close(changed[:, : 10 * hop], batched[:, : 10 * hop], atol=1e-6, rtol=0)
    assert not torch.allclose(changed[:, -hop:], batched[:, -hop:])


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(2)
    model = IstftVocoder(IstftVocoderConfig.tiny())
    model(torch.randn(2, 80, 12)).pow(2).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_bad_config_and_input_raise_project_errors() -> None:
    with pytest.raises(ConfigError, match="hop_length"):
        IstftVocoderConfig(hop_length=2048)
    with pytest.raises(ConfigError, match="unknown"):
        IstftVocoderConfig.from_dict({"dims": 3})
    with pytest.raises(InputError, match="80"):
        IstftVocoder(IstftVocoderConfig.tiny())(torch.zeros(1, 40, 5))
    cfg = IstftVocoderConfig.tiny()
    assert IstftVocoderConfig.from_dict(cfg.to_dict()) == cfg


def test_onnx_export_matches_eager(tmp_path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from facespeak.vocoder.onnx_export import OnnxVocoder, export_onnx

    torch.manual_seed(3)
    model = IstftVocoder(IstftVocoderConfig.tiny()).eval()
    runner = OnnxVocoder(export_onnx(model, tmp_path / "istft.onnx"), num_threads=1)
    assert runner.cfg == model.cfg and runner.hop_length == 256
    for batch, frames in [(1, 5), (2, 41)]:
        mel = torch.randn(batch, 80, frames)
        with torch.inference_mode():
            expected = model(mel)
        out = runner(mel)
        assert out.shape == (batch, frames * 256)
        torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-3)

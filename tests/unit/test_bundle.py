"""facespeak.bundle: one typed bundle, one loader; round trips and the compatibility checks.

The models here are randomly initialised tiny ones (the loader's plumbing needs no training);
tests/integration/test_bundle_16k.py trains a tiny 16 kHz TTS and vocoder and runs ``say``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from facespeak.bundle import LAYOUT, MANIFEST, Bundle, load_bundle, save_bundle
from facespeak.core.checkpoint import read_info
from facespeak.core.config import to_dict
from facespeak.core.errors import CheckpointError
from facespeak.core.timing import MelSpec
from facespeak.face.identity import IdentityConfig, IdentityEncoder, IdentityExtractor
from facespeak.tts import FaceTTS, TTSConfig
from facespeak.vocoder.istft_vocoder import IstftVocoder, IstftVocoderConfig

PAPER = MelSpec.paper()


def _vocoder(spec: MelSpec) -> IstftVocoder:
    return IstftVocoder(replace(IstftVocoderConfig.tiny(), hop_length=spec.hop_length, win_length=spec.win_length,
                                n_fft=spec.n_fft, n_mels=spec.n_mels)).eval()


def _bundle(spec: MelSpec = PAPER, fps: float = 25.0) -> Bundle:
    torch.manual_seed(0)
    cfg = replace(TTSConfig.tiny(), n_mels=spec.n_mels, cond_dim=IdentityConfig.tiny().dim)
    tts = FaceTTS(cfg).eval()
    identity = IdentityExtractor(IdentityEncoder(IdentityConfig.tiny()))
    return Bundle(tts, {**to_dict(cfg), "_text_symbols": "x"}, spec, _vocoder(spec), identity, fps=fps)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_save_then_load_gives_the_same_models_rates_and_fps(tmp_path: Path) -> None:
    from facespeak.tfg.latent import LatentTFG, LatentTFGConfig
    from facespeak.tts.timbre import TimbreMap

    original = _bundle(fps=30.0)
    original.latent_tfg = LatentTFG(LatentTFGConfig.tiny()).eval()
    dim = IdentityConfig.tiny().dim
    original.timbre = TimbreMap(torch.randn(2, dim).double().numpy(), torch.randn(2, 3, dim).double().numpy(),
                                torch.rand(2, 3).double().numpy() + 0.5, 250.0, (6, 7))
    save_bundle(original, tmp_path)
    assert json.loads((tmp_path / MANIFEST).read_text())["fps"] == 30.0
    for name in ("tts", "vocoder", "identity"):
        assert read_info(tmp_path / LAYOUT[name]).format_version == 1  # written through core.checkpoint
    loaded = load_bundle(tmp_path)
    assert loaded.mel_spec == PAPER and loaded.sample_rate == 16000 and loaded.fps == 30.0
    assert loaded.timing.mel_frames_per_video_frame == pytest.approx(100 / 30)
    assert loaded.tts_config["_text_symbols"] == "x" and loaded.tts_config["_mel"]["hop_length"] == 160
    assert _same_weights(loaded.tts, original.tts) and _same_weights(loaded.vocoder, original.vocoder)
    assert _same_weights(loaded.identity.model, original.identity.model)
    assert _same_weights(loaded.latent_tfg, original.latent_tfg) and loaded.motion_models is None
    assert loaded.timbre.persons == (6, 7) and loaded.timbre.max_cents == 250.0
    assert abs(loaded.timbre.directions - original.timbre.directions).max() < 1e-6  # float32 storage
    mel = torch.randn(1, 80, 7)
    assert loaded.vocoder(mel).shape == (1, 7 * 160)  # hop 160 at 16 kHz


def test_a_vocoder_for_another_mel_analysis_is_refused_in_one_line(tmp_path: Path) -> None:
    save_bundle(_bundle(), tmp_path)
    other = tmp_path / "other"
    save_bundle(_bundle(MelSpec()), other)  # a 22.05 kHz / hop 256 vocoder
    with pytest.raises(CheckpointError, match="makes mels .*16000.* takes .*22050") as err:
        load_bundle(tmp_path, vocoder=other / LAYOUT["vocoder"])
    assert "\n" not in str(err.value)


def test_an_old_tts_file_without_its_mel_analysis_means_the_22k_default(tmp_path: Path) -> None:
    from facespeak.bundle import load_tts
    from facespeak.core.checkpoint import save_checkpoint

    b = _bundle(MelSpec())
    save_checkpoint(tmp_path / "old.safetensors", b.tts.state_dict(), "facespeak.tts", to_dict(b.tts.cfg))
    _, config, mel = load_tts(tmp_path / "old.safetensors")
    assert mel == MelSpec() and "_mel" not in config


def test_missing_parts_and_half_motion_are_named(tmp_path: Path) -> None:
    save_bundle(_bundle(), tmp_path)
    (tmp_path / LAYOUT["identity"]).unlink()
    with pytest.raises(CheckpointError, match="missing identity.safetensors"):
        load_bundle(tmp_path)
    save_bundle(_bundle(), tmp_path)
    (tmp_path / LAYOUT["mapper"]).write_bytes(b"")
    with pytest.raises(CheckpointError, match="missing motion_sampler.safetensors"):
        load_bundle(tmp_path)
    (tmp_path / LAYOUT["mapper"]).unlink()
    (tmp_path / MANIFEST).write_text('{"fps": -1}')
    with pytest.raises(CheckpointError, match="expected an fps"):
        load_bundle(tmp_path)
    with pytest.raises(CheckpointError, match="expected a directory"):
        load_bundle(tmp_path / "nothing")
    (tmp_path / MANIFEST).write_text('{"fps": 25}')
    with pytest.raises(CheckpointError, match="unknown vocoder 'slow'"):
        load_bundle(tmp_path, vocoder="slow")


def test_motion_models_must_fit_the_tts(tmp_path: Path) -> None:
    from facespeak.motion.audio_mapper import AudioMapper, AudioMapperConfig
    from facespeak.motion.sampler import MotionSampler, MotionSamplerConfig

    b = _bundle()
    sampler = MotionSampler(MotionSamplerConfig.tiny())
    d_text = b.tts.cfg.encoder.channels
    b.mapper, b.sampler = AudioMapper(replace(AudioMapperConfig.tiny(), d_text=d_text + 1, n_mels=80)), sampler
    save_bundle(b, tmp_path)
    with pytest.raises(CheckpointError, match="audio mapper reads"):
        load_bundle(tmp_path)
    b.mapper = AudioMapper(replace(AudioMapperConfig.tiny(), d_text=d_text, n_mels=80))
    save_bundle(b, tmp_path)
    loaded = load_bundle(tmp_path)
    assert loaded.motion_models is not None and _same_weights(loaded.mapper, b.mapper)


def test_vocoder_names_and_the_default(tmp_path: Path, monkeypatch) -> None:
    from facespeak.bundle import BundleFiles, load_vocoder_file
    from facespeak.options import DEFAULT_VOCODER, VOCODER_NAMES
    from facespeak.vocoder.onnx_export import OnnxVocoder

    assert DEFAULT_VOCODER == "universal-int8" and set(VOCODER_NAMES) == {"universal-int8", "universal", "fast"}
    assert BundleFiles.bundled().vocoder == "universal-int8"
    fast = load_bundle(vocoder="fast").vocoder
    assert isinstance(fast, IstftVocoder)
    monkeypatch.setenv("FACESPEAK_CACHE", str(tmp_path / "cache"))
    int8, spec = load_vocoder_file("universal-int8")
    assert isinstance(int8, OnnxVocoder) and spec == MelSpec()
    assert int8(torch.zeros(1, 80, 5)).shape == (1, 5 * 256)
    b = _bundle(MelSpec())
    b.vocoder = int8
    with pytest.raises(CheckpointError, match="int8 vocoder"):
        save_bundle(b, tmp_path / "bundle")

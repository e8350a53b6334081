"""HiFi-GAN generator: configs, shapes, batching, gradients, and the real universal weights."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from facespeak.core.errors import CheckpointError, ConfigError, InputError
from facespeak.vocoder.bundled import (
    find_universal_hifigan,
    load_reference_state_dict,
    load_universal_hifigan,
    universal_mel_spec,
)
from facespeak.vocoder.hifigan import (
    HifiGanConfig,
    HifiGanGenerator,
    convert_reference_state_dict,
    fold_weight_norm,
    map_reference_key,
)


def _n_params(cfg: HifiGanConfig) -> int:
    with torch.device("meta"):  # no memory, no init cost
        return sum(p.numel() for p in HifiGanGenerator(cfg).parameters())


@pytest.fixture(scope="module")
def raw_universal() -> dict[str, torch.Tensor]:
    return load_reference_state_dict()


def test_preset_sizes_match_the_paper() -> None:
    # HiFi-GAN paper Table 1: V1 13.92 M, V2 0.92 M, V3 1.46 M parameters.
    assert abs(_n_params(HifiGanConfig.v1()) / 1e6 - 13.92) < 0.01
    assert abs(_n_params(HifiGanConfig.v2()) / 1e6 - 0.92) < 0.01
    assert abs(_n_params(HifiGanConfig.v3()) / 1e6 - 1.46) < 0.01
    assert 10_000 < _n_params(HifiGanConfig.tiny()) < 100_000
    for cfg in (HifiGanConfig.v1(), HifiGanConfig.v2(), HifiGanConfig.v3(), HifiGanConfig.tiny(),
                HifiGanConfig.student(64)):
        assert cfg.hop_length == 256


def test_output_length_range_and_batching() -> None:
    gen = HifiGanGenerator(HifiGanConfig.tiny()).eval()
    mel = torch.randn(3, 80, 11, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        wav = gen(mel)
        assert wav.shape == (3, 11 * 256)
        assert wav.abs().max() <= 1.0
        for i in range(3):
            torch.testing.assert_close(gen(mel[i : i + 1]), wav[i : i + 1], atol=1e-6, rtol=1e-5)


def test_gradients_reach_every_parameter() -> None:
    gen = HifiGanGenerator(HifiGanConfig.tiny())
    gen(torch.randn(2, 80, 6)).pow(2).mean().backward()
    missing = [n for n, p in gen.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing


def test_bad_mel_shape_raises() -> None:
    with pytest.raises(InputError, match="80"):
        HifiGanGenerator(HifiGanConfig.tiny())(torch.zeros(1, 64, 10))


def test_config_validation_and_roundtrip() -> None:
    with pytest.raises(ConfigError):
        HifiGanConfig(upsample_rates=[8, 8], upsample_kernel_sizes=[16])
    with pytest.raises(ConfigError):
        HifiGanConfig(resblock="3")
    with pytest.raises(ConfigError):
        HifiGanConfig.from_dict({"n_mels": 80, "bogus": 1})
    cfg = HifiGanConfig.v3()
    assert HifiGanConfig.from_dict(cfg.to_dict()) == cfg


def test_weight_norm_folding_matches_torch() -> None:
    conv = torch.nn.utils.parametrizations.weight_norm(torch.nn.ConvTranspose1d(6, 4, 5))
    g = conv.parametrizations.weight.original0
    v = conv.parametrizations.weight.original1
    torch.testing.assert_close(fold_weight_norm(g, v), conv.weight)


def test_key_mapping_examples() -> None:
    cfg = HifiGanConfig.v1()
    assert map_reference_key("conv_pre", cfg) == "input_conv"
    assert map_reference_key("ups.3", cfg) == "stages.3.upsample"
    assert map_reference_key("resblocks.4.convs1.2", cfg) == "stages.1.branches.1.dilated.2"
    assert map_reference_key("resblocks.11.convs2.0", cfg) == "stages.3.branches.2.plain.0"
    with pytest.raises(CheckpointError):
        map_reference_key("mpd.discriminators.0", cfg)


# --- the real universal weights -------------------------------------------------------------


def test_every_real_key_maps_and_every_parameter_is_filled(raw_universal) -> None:
    files = find_universal_hifigan()
    cfg = HifiGanConfig.from_dict(json.loads(files.config.read_text()))
    assert cfg == HifiGanConfig.v1()
    raw = raw_universal
    assert len(raw) == 234 and any(k.endswith("weight_g") for k in raw)
    converted = convert_reference_state_dict(raw, cfg)
    with torch.device("meta"):
        expected = HifiGanGenerator(cfg).state_dict()
    assert set(converted) == set(expected)
    for key, tensor in expected.items():
        assert converted[key].shape == tensor.shape, key
    # every weight-norm pair became exactly one weight; biases carried over one to one
    assert len(converted) == len(raw) - sum(k.endswith("weight_g") for k in raw)


def test_parametrization_style_keys_convert_identically(raw_universal) -> None:
    raw = raw_universal
    renamed = {
        k.replace("weight_g", "parametrizations.weight.original0").replace(
            "weight_v", "parametrizations.weight.original1"
        ): v
        for k, v in raw.items()
    }
    a = convert_reference_state_dict(raw, HifiGanConfig.v1())
    b = convert_reference_state_dict(renamed, HifiGanConfig.v1())
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_universal_matches_the_reference_implementation(raw_universal) -> None:
    """Our module with folded weights equals the package's own weight-normed Generator."""
    files = find_universal_hifigan()
    spec = importlib.util.spec_from_file_location("_ref_hifigan_models", files.config.parent.parent / "models.py")
    ref_models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref_models)

    class _Hparams(dict):
        def __getattr__(self, name):  # the reference reads config entries as attributes
            return self[name]

    reference = ref_models.Generator(_Hparams(json.loads(files.config.read_text())))
    reference.load_state_dict(raw_universal)
    reference.eval()
    ours = load_universal_hifigan()
    assert not ours.training and not any(p.requires_grad for p in ours.parameters())
    mel = torch.randn(1, 80, 24, generator=torch.Generator().manual_seed(3)) - 5.0
    with torch.inference_mode():
        torch.testing.assert_close(ours(mel), reference(mel).squeeze(1), atol=1e-4, rtol=1e-4)


def test_universal_mel_spec_is_the_project_default() -> None:
    from facespeak.core.timing import MelSpec

    assert universal_mel_spec() == MelSpec()

"""LIA checkpoint import: a state dict with exactly LIA's names and shapes maps completely."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from facespeak.core.errors import CheckpointError
from facespeak.tfg.latent import LatentTFG
from facespeak.tfg.latent.lia_import import map_lia_state
from facespeak.tfg.latent.weights import convert_lia, load_latent_tfg

# LIA's channel table (networks/encoder.py, networks/styledecoder.py, channel_multiplier 1)
_CH = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32}


def _styled(prefix: str, c_in: int, c_out: int, d: int, up: bool) -> dict[str, tuple[int, ...]]:
    out = {f"{prefix}.conv.weight": (1, c_out, c_in, 3, 3), f"{prefix}.conv.modulation.weight": (c_in, d),
           f"{prefix}.conv.modulation.bias": (c_in,), f"{prefix}.noise.weight": (1,),
           f"{prefix}.activate.bias": (1, c_out, 1, 1)}
    if up:
        out[f"{prefix}.conv.blur.kernel"] = (4, 4)
    return out


def lia_layout(size: int = 256, d: int = 512, m: int = 20) -> dict[str, tuple[int, ...]]:
    """Names and shapes of LIA's ``Generator(size, d, m)`` state dict, from its public code."""
    log = int(math.log2(size))
    s: dict[str, tuple[int, ...]] = {"enc.net_app.convs.0.0.weight": (_CH[size], 3, 1, 1),
                                     "enc.net_app.convs.0.1.bias": (1, _CH[size], 1, 1)}
    for j, i in enumerate(range(log, 2, -1), start=1):
        ci, co, p = _CH[2**i], _CH[2 ** (i - 1)], f"enc.net_app.convs.{j}"
        s.update({f"{p}.conv1.0.weight": (ci, ci, 3, 3), f"{p}.conv1.1.bias": (1, ci, 1, 1),
                  f"{p}.conv2.0.kernel": (4, 4), f"{p}.conv2.1.weight": (co, ci, 3, 3),
                  f"{p}.conv2.2.bias": (1, co, 1, 1), f"{p}.skip.0.kernel": (4, 4), f"{p}.skip.1.weight": (co, ci, 1, 1)})
    s[f"enc.net_app.convs.{log - 1}.weight"] = (d, _CH[4], 4, 4)
    for k in range(4):
        s.update({f"enc.fc.{k}.weight": (d, d), f"enc.fc.{k}.bias": (d,)})
    s.update({"enc.fc.4.weight": (m, d), "enc.fc.4.bias": (m,), "dec.direction.weight": (d, m),
              "dec.input.input": (1, 512, 4, 4), "dec.to_rgb1.conv.0.weight": (3, 512, 1, 1),
              "dec.to_rgb1.conv.1.bias": (1, 3, 1, 1), "dec.to_rgb1.bias": (1, 3, 1, 1)})
    s.update(_styled("dec.conv1", 512, 512, d, up=False))
    c_in = 512
    for k, i in enumerate(range(3, log + 1)):
        c = _CH[2**i]
        s.update(_styled(f"dec.convs.{2 * k}", c_in, c, d, up=True))
        s.update(_styled(f"dec.convs.{2 * k + 1}", c, c, d, up=False))
        s.update({f"dec.to_rgbs.{k}.upsample.kernel": (4, 4), f"dec.to_rgbs.{k}.conv.0.weight": (3, c, 1, 1),
                  f"dec.to_rgbs.{k}.conv.1.bias": (1, 3, 1, 1), f"dec.to_rgbs.{k}.bias": (1, 3, 1, 1),
                  f"dec.to_flows.{k}.upsample.kernel": (4, 4), f"dec.to_flows.{k}.conv.weight": (1, 3, c, 1, 1),
                  f"dec.to_flows.{k}.conv.modulation.weight": (c, d), f"dec.to_flows.{k}.conv.modulation.bias": (c,),
                  f"dec.to_flows.{k}.bias": (1, 3, 1, 1)})
        c_in = c
    return s


def lia_state(size: int = 256, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    k = torch.tensor([1.0, 3, 3, 1])
    blur = k[:, None] * k[None] / 64
    out = {}
    for name, shape in lia_layout(size).items():
        if name.endswith("kernel"):
            up = ".upsample." in name or ".blur." in name
            out[name] = blur * (4 if up else 1)
        else:
            out[name] = torch.randn(shape, generator=g) * 0.1
    return out


@pytest.fixture(scope="module")
def vox() -> dict[str, torch.Tensor]:
    return lia_state()


def test_every_lia_tensor_is_mapped_onto_every_model_tensor(vox: dict[str, torch.Tensor]) -> None:
    state, cfg = map_lia_state(vox)
    assert (cfg.size, cfg.style_dim, cfg.motion_dim, cfg.mlp_layers) == (256, 512, 20, 4)
    own = LatentTFG(cfg).state_dict()
    assert set(state) == set(own)
    assert all(own[k].shape == v.shape for k, v in state.items())
    dropped = {k for k in vox if k.endswith(".kernel") or k.startswith("dec.to_rgb1.")}
    assert len(state) == len(vox) - len(dropped)
    # values are carried, not re-initialised
    torch.testing.assert_close(state["basis.weight"], vox["dec.direction.weight"])
    torch.testing.assert_close(state["generator.up_convs.2.conv.weight"], vox["dec.convs.4.conv.weight"])
    torch.testing.assert_close(state["generator.convs.2.act.bias"], vox["dec.convs.5.activate.bias"])
    torch.testing.assert_close(state["encoder.blocks.0.conv2.conv.weight"], vox["enc.net_app.convs.1.conv2.1.weight"])


def test_unknown_or_wrong_tensors_are_refused(vox: dict[str, torch.Tensor]) -> None:
    with pytest.raises(CheckpointError, match="no counterpart"):
        map_lia_state({**vox, "dec.extra.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="blur"):
        map_lia_state({**vox, "dec.to_rgbs.0.upsample.kernel": torch.ones(4, 4)})


def test_convert_file_then_render_one_frame(vox: dict[str, torch.Tensor], tmp_path) -> None:
    src = tmp_path / "vox.pt"
    torch.save({"gen": vox, "args": {"size": 256}}, src)
    path, cfg, n = convert_lia(src, tmp_path / "lia")
    assert path.name == "latent_tfg.safetensors" and cfg.base_latent == "f"
    model = load_latent_tfg(tmp_path / "lia")
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    with torch.no_grad():
        out = model(x, x)
    assert out.shape == (1, 3, 256, 256) and torch.isfinite(out).all()
    with pytest.raises(CheckpointError):
        convert_lia(tmp_path / "missing.pt", tmp_path / "x")


def test_cli_convert(tmp_path, capsys) -> None:
    from facespeak.cli.main import main

    src = tmp_path / "vox64.pt"
    torch.save({"gen": lia_state(size=64)}, src)  # LIA's layout at 64 px (same names, fewer blocks)
    assert main(["convert", "lia", str(src), str(tmp_path / "out")]) == 0
    assert "64 px" in capsys.readouterr().out
    torch.save({"something": np.zeros(2).tolist()}, tmp_path / "bad.pt")
    assert main(["convert", "lia", str(tmp_path / "bad.pt"), str(tmp_path / "o2")]) != 0

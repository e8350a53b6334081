"""Map the public LIA checkpoint (``vox.pt``: ``{"gen": state_dict, ...}``) onto :class:`LatentTFG`.

LIA's generator (Wang et al. ICLR 2022, github.com/wyhsirius/LIA, ``networks/``) names its
tensors ``enc.net_app.*`` (appearance encoder), ``enc.fc.*`` (motion MLP, no activations),
``dec.direction.weight`` (the QR'd basis), ``dec.input/conv1/convs/to_rgbs/to_flows`` (the
synthesis network). Its decoder interleaves the up-sampling and plain convs in one list
(``dec.convs.{2k}`` / ``dec.convs.{2k+1}``); ``dec.to_rgb1`` is built but never used in its
forward; the ``.kernel`` buffers are the fixed [1, 3, 3, 1] blur filters (checked, not
copied). Everything else is a one-to-one rename (the building blocks keep LIA's
parametrisation, see :mod:`.layers`).
"""

from __future__ import annotations

import re

import torch

from ...core.errors import CheckpointError
from .config import LatentTFGConfig
from .layers import BLUR_TAPS

__all__ = ["lia_config", "map_lia_state", "UNUSED_LIA_KEYS"]

UNUSED_LIA_KEYS = ("dec.to_rgb1.",)  # built by LIA, never called in its forward

_ENC_BLOCK = re.compile(r"^enc\.net_app\.convs\.(\d+)\.(.+)$")
_DEC_CONV = re.compile(r"^dec\.convs\.(\d+)\.(.+)$")

_CONV_LAYER = {"0.weight": "conv.weight", "1.bias": "act.bias"}  # ConvLayer without downsampling
_DOWN_LAYER = {"1.weight": "conv.weight", "2.bias": "act.bias"}  # with blur first
_STYLED = {"conv.weight": "conv.weight", "conv.modulation.weight": "conv.modulation.weight",
           "conv.modulation.bias": "conv.modulation.bias", "noise.weight": "noise_strength",
           "activate.bias": "act.bias"}


def lia_config(gen: dict[str, torch.Tensor]) -> LatentTFGConfig:
    """Infer sizes from a LIA generator state dict (LIA's channel table, 4 MLP layers)."""
    try:
        d_style, m = gen["dec.direction.weight"].shape
        c_size = gen["enc.net_app.convs.0.0.weight"].shape[0]
        n_blocks = len({k.split(".")[3] for k in gen if k.startswith("enc.net_app.convs.")}) - 2
        mlp = len({k.split(".")[2] for k in gen if k.startswith("enc.fc.")}) - 1
    except KeyError as e:
        raise CheckpointError(f"LIA checkpoint: expected generator key {e.args[0]!r}, not found") from None
    size = 2 ** (n_blocks + 2)
    return LatentTFGConfig(size=size, style_dim=int(d_style), motion_dim=int(m), channel_base=c_size * size,
                           channel_max=int(gen["dec.input.input"].shape[1]), mlp_layers=mlp, mlp_activation=False,
                           base_latent="f")


def _rename_encoder(rest: str, idx: int, n_blocks: int) -> str | None:
    if idx == 0:
        return "encoder.stem." + _CONV_LAYER[rest] if rest in _CONV_LAYER else None
    if idx == n_blocks + 1:
        return "encoder.head.weight" if rest == "weight" else None
    part, _, tail = rest.partition(".")
    if part == "conv1" and tail in _CONV_LAYER:
        return f"encoder.blocks.{idx - 1}.conv1.{_CONV_LAYER[tail]}"
    if part == "conv2" and tail in _DOWN_LAYER:
        return f"encoder.blocks.{idx - 1}.conv2.{_DOWN_LAYER[tail]}"
    if part == "skip" and tail == "1.weight":
        return f"encoder.blocks.{idx - 1}.skip.conv.weight"
    return None


def _rename_decoder(key: str) -> str | None:
    m = _DEC_CONV.match(key)
    if m:
        i, rest = int(m.group(1)), m.group(2)
        kind = "up_convs" if i % 2 == 0 else "convs"
        return f"generator.{kind}.{i // 2}.{_STYLED[rest]}" if rest in _STYLED else None
    if key == "dec.input.input":
        return "generator.input"
    if key.startswith("dec.conv1."):
        rest = key[len("dec.conv1."):]
        return f"generator.conv1.{_STYLED[rest]}" if rest in _STYLED else None
    m = re.match(r"^dec\.to_rgbs\.(\d+)\.(.+)$", key)
    if m:
        rest = {"conv.0.weight": "conv.conv.weight", "conv.1.bias": "conv.act.bias", "bias": "bias"}.get(m.group(2))
        return f"generator.to_rgbs.{m.group(1)}.{rest}" if rest else None
    m = re.match(r"^dec\.to_flows\.(\d+)\.(.+)$", key)
    if m and m.group(2) in ("conv.weight", "conv.modulation.weight", "conv.modulation.bias", "bias"):
        return f"generator.to_flows.{m.group(1)}.{m.group(2)}"
    return None


def _check_blur(key: str, value: torch.Tensor) -> None:
    k = torch.tensor(BLUR_TAPS)
    k2 = k[:, None] * k[None, :]
    k2 = k2 / k2.sum()
    if not any(torch.allclose(value.float(), k2 * g, atol=1e-6) for g in (1.0, 4.0)):
        raise CheckpointError(f"LIA checkpoint: {key} is not the [1, 3, 3, 1] blur filter this model uses")


def map_lia_state(gen: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], LatentTFGConfig]:
    """LIA generator state dict -> (:class:`LatentTFG` state dict, config).

    Every LIA tensor must be mapped, be a verified blur buffer, or be in
    :data:`UNUSED_LIA_KEYS`; anything else raises :class:`CheckpointError`."""
    cfg = lia_config(gen)
    n_blocks = cfg.log_size - 2
    out: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in gen.items():
        if key.endswith(".kernel"):
            _check_blur(key, value)
            continue
        if key.startswith(UNUSED_LIA_KEYS):
            continue
        new = None
        if key == "dec.direction.weight":
            new = "basis.weight"
        elif key.startswith("enc.fc."):
            layer, _, p = key[len("enc.fc."):].partition(".")
            new = f"motion.net.{layer}.{p}"
        elif (m := _ENC_BLOCK.match(key)) is not None:
            new = _rename_encoder(m.group(2), int(m.group(1)), n_blocks)
        elif key.startswith("dec."):
            new = _rename_decoder(key)
        if new is None:
            unknown.append(key)
            continue
        out[new] = value
    if unknown:
        raise CheckpointError(f"LIA checkpoint: {len(unknown)} tensor(s) with no counterpart, e.g. {unknown[:3]}")
    return out, cfg

"""HiFi-GAN generator (Kong, Kim & Bae, NeurIPS 2020), inference- and distillation-ready.

Architecture (paper Sec. 2.1): a 7-tap input conv maps ``n_mels`` to ``upsample_initial_channel``
channels; each upsampling stage is LeakyReLU(0.1) -> transposed conv (stride ``u``, channels
halved) -> multi-receptive-field fusion (MRF: the mean of residual blocks with different
kernels/dilations); then LeakyReLU (slope 0.01, as in the reference code), a 7-tap conv to one
channel and tanh. ``prod(upsample_rates)`` equals the mel hop.

Weights are plain conv weights: weight normalisation of the reference checkpoints is folded in
at load time (:func:`convert_reference_state_dict`), which is exact for inference.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import torch
from torch import nn
from torch.nn import functional as F

from facespeak.core.errors import CheckpointError, ConfigError, InputError

__all__ = [
    "HifiGanConfig",
    "HifiGanGenerator",
    "convert_reference_state_dict",
    "map_reference_key",
    "fold_weight_norm",
]

LRELU_SLOPE = 0.1
FINAL_LRELU_SLOPE = 0.01  # the reference generator calls F.leaky_relu with its default slope


@dataclass
class HifiGanConfig:
    """Generator hyper-parameters (names follow the HiFi-GAN config.json where one exists).

    ``resblock`` is ``"1"`` (pairs of dilated + undilated convs per dilation, V1/V2) or ``"2"``
    (one dilated conv per dilation, V3).
    """

    n_mels: int = 80
    upsample_rates: list[int] = field(default_factory=lambda: [8, 8, 2, 2])
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: [16, 16, 4, 4])
    upsample_initial_channel: int = 512
    resblock: str = "1"
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: [3, 7, 11])
    resblock_dilation_sizes: list[list[int]] = field(
        default_factory=lambda: [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    )

    def __post_init__(self) -> None:
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ConfigError(
                f"expected one kernel size per upsample rate, got rates {self.upsample_rates} "
                f"and kernels {self.upsample_kernel_sizes}"
            )
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ConfigError(
                f"expected one dilation list per resblock kernel, got {self.resblock_kernel_sizes}"
                f" and {self.resblock_dilation_sizes}"
            )
        if self.resblock not in ("1", "2"):
            raise ConfigError(f"expected resblock '1' or '2', got {self.resblock!r}")
        if self.upsample_initial_channel % (2 ** len(self.upsample_rates)) != 0:
            raise ConfigError(
                f"expected upsample_initial_channel divisible by 2**{len(self.upsample_rates)}, "
                f"got {self.upsample_initial_channel}"
            )
        for u, k in zip(self.upsample_rates, self.upsample_kernel_sizes):
            if k < u or (k - u) % 2:
                raise ConfigError(f"expected upsample kernel >= rate with even difference, got k={k} u={u}")

    @property
    def hop_length(self) -> int:
        """Output samples per mel frame: ``prod(upsample_rates)``."""
        return math.prod(self.upsample_rates)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "HifiGanConfig":
        """Build from our dict or a reference HiFi-GAN ``config.json`` (unknown keys are ignored
        only for the reference format, recognised by ``num_mels``)."""
        d = dict(d)
        if "num_mels" in d:
            d = {k: d[k] for k in _REFERENCE_KEYS if k in d} | {"n_mels": d["num_mels"]}
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown HifiGanConfig keys {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def v1(cls) -> "HifiGanConfig":
        """V1 (13.9 M parameters, the universal vocoder)."""
        return cls()

    @classmethod
    def v2(cls) -> "HifiGanConfig":
        """V2 (0.9 M parameters): V1 with 128 initial channels."""
        return cls(upsample_initial_channel=128)

    @classmethod
    def v3(cls) -> "HifiGanConfig":
        """V3 (1.5 M parameters): three stages (8, 8, 4) and the lighter resblock 2."""
        return cls(
            upsample_rates=[8, 8, 4],
            upsample_kernel_sizes=[16, 16, 8],
            upsample_initial_channel=256,
            resblock="2",
            resblock_kernel_sizes=[3, 5, 7],
            resblock_dilation_sizes=[[1, 2], [2, 6], [3, 12]],
        )

    @classmethod
    def student(cls, channels: int = 64) -> "HifiGanConfig":
        """A small distillation student: V3 layout with ``channels`` initial channels."""
        cfg = cls.v3()
        cfg.upsample_initial_channel = channels
        return cfg

    @classmethod
    def tiny(cls) -> "HifiGanConfig":
        """Tens of thousands of parameters, hop 256, for tests."""
        return cls(
            upsample_rates=[8, 8, 4],
            upsample_kernel_sizes=[16, 16, 8],
            upsample_initial_channel=32,
            resblock="2",
            resblock_kernel_sizes=[3, 5],
            resblock_dilation_sizes=[[1, 3], [1, 3]],
        )


_REFERENCE_KEYS = (
    "upsample_rates",
    "upsample_kernel_sizes",
    "upsample_initial_channel",
    "resblock",
    "resblock_kernel_sizes",
    "resblock_dilation_sizes",
)


def _same_padding(kernel: int, dilation: int) -> int:
    return (kernel * dilation - dilation) // 2


class ResBlockDilatedPairs(nn.Module):
    """Resblock "1": for each dilation d, x += conv_k(lrelu(conv_{k,d}(lrelu(x))))."""

    def __init__(self, channels: int, kernel: int, dilations: list[int]) -> None:
        super().__init__()
        self.dilated = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=d, padding=_same_padding(kernel, d))
            for d in dilations
        )
        self.plain = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, padding=_same_padding(kernel, 1))
            for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dilated, plain in zip(self.dilated, self.plain):
            h = dilated(F.leaky_relu(x, LRELU_SLOPE))
            x = x + plain(F.leaky_relu(h, LRELU_SLOPE))
        return x


class ResBlockDilated(nn.Module):
    """Resblock "2": for each dilation d, x += conv_{k,d}(lrelu(x))."""

    def __init__(self, channels: int, kernel: int, dilations: list[int]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=d, padding=_same_padding(kernel, d))
            for d in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x


class UpsampleStage(nn.Module):
    """LeakyReLU -> transposed conv (x``rate`` in time, channels halved) -> MRF mean."""

    def __init__(self, cfg: HifiGanConfig, index: int) -> None:
        super().__init__()
        c_in = cfg.upsample_initial_channel // 2**index
        c_out = c_in // 2
        rate, kernel = cfg.upsample_rates[index], cfg.upsample_kernel_sizes[index]
        self.upsample = nn.ConvTranspose1d(c_in, c_out, kernel, rate, padding=(kernel - rate) // 2)
        block = ResBlockDilatedPairs if cfg.resblock == "1" else ResBlockDilated
        self.branches = nn.ModuleList(
            block(c_out, k, list(d))
            for k, d in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.upsample(F.leaky_relu(x, LRELU_SLOPE))
        total = self.branches[0](x)
        for branch in self.branches[1:]:
            total = total + branch(x)
        return total / len(self.branches)


class HifiGanGenerator(nn.Module):
    """Mel -> waveform.

    ``forward(mel)``: ``mel`` is ``(B, n_mels, T_mel)`` natural-log mel magnitudes (see
    :class:`facespeak.audio.mel.MelExtractor`); returns ``(B, T_mel * hop_length)`` audio in
    ``[-1, 1]`` at the sample rate the weights were trained for.
    """

    def __init__(self, cfg: HifiGanConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or HifiGanConfig()
        c0 = self.cfg.upsample_initial_channel
        self.input_conv = nn.Conv1d(self.cfg.n_mels, c0, 7, padding=3)
        self.stages = nn.ModuleList(
            UpsampleStage(self.cfg, i) for i in range(len(self.cfg.upsample_rates))
        )
        self.output_conv = nn.Conv1d(c0 // 2 ** len(self.stages), 1, 7, padding=3)
        self._init_weights()

    def _init_weights(self) -> None:
        # Reference init: N(0, 0.01) for every conv after the input conv (keeps the initial
        # residual branches near identity).
        for name, module in self.named_modules():
            if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)) and name != "input_conv":
                nn.init.normal_(module.weight, 0.0, 0.01)

    @property
    def hop_length(self) -> int:
        return self.cfg.hop_length

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing() and (mel.dim() != 3 or mel.shape[1] != self.cfg.n_mels):
            raise InputError(
                f"expected mel of shape (B, {self.cfg.n_mels}, T_mel), got {tuple(mel.shape)}"
            )
        x = self.input_conv(mel)
        for stage in self.stages:
            x = stage(x)
        x = self.output_conv(F.leaky_relu(x, FINAL_LRELU_SLOPE))
        return torch.tanh(x).squeeze(1)


# --- reference checkpoint conversion -------------------------------------------------------

_RESBLOCK_KEY = re.compile(r"^resblocks\.(\d+)\.(convs1|convs2|convs)\.(\d+)$")
_UPS_KEY = re.compile(r"^ups\.(\d+)$")
_WN_SUFFIXES = {
    "weight_g": "g",
    "weight_v": "v",
    "parametrizations.weight.original0": "g",
    "parametrizations.weight.original1": "v",
    "weight": "w",
    "bias": "b",
}


def map_reference_key(module_path: str, cfg: HifiGanConfig) -> str:
    """Reference module path (``ups.1``, ``resblocks.4.convs1.2``, ...) -> ours.

    Reference resblocks are a flat list, ``len(resblock_kernel_sizes)`` per stage.
    Raises ``CheckpointError`` for a path that has no counterpart.
    """
    if module_path == "conv_pre":
        return "input_conv"
    if module_path == "conv_post":
        return "output_conv"
    if m := _UPS_KEY.match(module_path):
        return f"stages.{m[1]}.upsample"
    if m := _RESBLOCK_KEY.match(module_path):
        per_stage = len(cfg.resblock_kernel_sizes)
        stage, branch = divmod(int(m[1]), per_stage)
        kind = {"convs1": "dilated", "convs2": "plain", "convs": "convs"}[m[2]]
        return f"stages.{stage}.branches.{branch}.{kind}.{m[3]}"
    raise CheckpointError(f"unexpected HiFi-GAN checkpoint entry '{module_path}'")


def fold_weight_norm(g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Weight norm (dim 0): ``w = g * v / ||v||``, the norm over all axes but the first."""
    norm = v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1)))
    return g * v / norm


def _split_key(key: str) -> tuple[str, str]:
    for suffix, kind in _WN_SUFFIXES.items():
        if key.endswith("." + suffix):
            return key[: -len(suffix) - 1], kind
    raise CheckpointError(f"unexpected HiFi-GAN parameter '{key}'")


def convert_reference_state_dict(
    state: Mapping[str, torch.Tensor], cfg: HifiGanConfig
) -> dict[str, torch.Tensor]:
    """Reference HiFi-GAN generator state dict (weight-normed or not) -> our plain state dict.

    Every source key must map; the result is not checked against a module here (use
    ``load_state_dict(strict=True)``).
    """
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in state.items():
        module_path, kind = _split_key(key)
        groups.setdefault(map_reference_key(module_path, cfg), {})[kind] = tensor
    out: dict[str, torch.Tensor] = {}
    for path, parts in groups.items():
        if "g" in parts or "v" in parts:
            if not ("g" in parts and "v" in parts) or "w" in parts:
                raise CheckpointError(f"incomplete weight-norm pair for '{path}': {sorted(parts)}")
            out[f"{path}.weight"] = fold_weight_norm(parts["g"].float(), parts["v"].float())
        elif "w" in parts:
            out[f"{path}.weight"] = parts["w"].float()
        if "b" in parts:
            out[f"{path}.bias"] = parts["b"].float()
    return out

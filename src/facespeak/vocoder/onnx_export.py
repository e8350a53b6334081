"""ONNX export of a :class:`HifiGanGenerator` and an ONNX Runtime runner with the same call.

ONNX Runtime is ~1.3x faster than eager torch for the universal V1 on a 2-core CPU (see
``docs/vocoder.md``). Export needs the ``onnx`` package (pinned ``onnx==1.18.0``: newer ones
pull protobuf 5+, which breaks mediapipe); running needs only ``onnxruntime``.
The exported graph has dynamic batch and time axes; the generator config is stored in the
model's metadata (``facespeak.hifigan_config`` for HiFi-GAN, ``facespeak.istft_vocoder_config``
for :class:`IstftVocoder`) so a runner knows ``hop_length``. Both vocoder families export.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from pathlib import Path

import numpy as np
import torch

from facespeak.core.errors import CheckpointError, DependencyError, InputError

from .hifigan import HifiGanConfig, HifiGanGenerator
from .istft_vocoder import IstftVocoder, IstftVocoderConfig
from .windows import vocode_windows

__all__ = ["export_onnx", "OnnxVocoder", "ARENA_WINDOW"]

log = logging.getLogger(__name__)

_META_KEY = "facespeak.hifigan_config"
_ISTFT_META_KEY = "facespeak.istft_vocoder_config"

#: an :class:`OnnxVocoder` runs at most this many mel frames per call (~3 s at 22.05 kHz / hop
#: 256), in windows with context (facespeak.vocoder.windows): ONNX Runtime's arena grows to the
#: largest input it has run and keeps it (+180-280 MB on long chunks), so the window, not the
#: chunk, bounds the vocoder's memory; with static int8 ranges the samples are bit-identical
ARENA_WINDOW = 256


def export_onnx(generator: HifiGanGenerator | IstftVocoder, path: str | Path, opset: int = 17) -> Path:
    """Write ``generator`` (eval copy, fp32, CPU) as ONNX: input ``mel`` ``(B, n_mels, T_mel)``,
    output ``wav`` ``(B, T_wav)``; returns the path."""
    try:
        import onnx
    except ImportError as exc:
        raise DependencyError("ONNX export needs the onnx package; pip install onnx==1.18.0") from exc
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(generator).float().cpu().eval()
    example = torch.zeros(1, generator.cfg.n_mels, 32)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["mel"],
            output_names=["wav"],
            dynamic_axes={"mel": {0: "B", 2: "T_mel"}, "wav": {0: "B", 1: "T_wav"}},
            opset_version=opset,
            dynamo=False,
        )
    proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    key = _ISTFT_META_KEY if isinstance(generator, IstftVocoder) else _META_KEY
    entry.key, entry.value = key, json.dumps(generator.cfg.to_dict())
    onnx.save(proto, str(path))
    log.info("exported %s to %s", type(generator).__name__, path)
    return path


class OnnxVocoder:
    """Runs an exported generator with ONNX Runtime on CPU.

    ``vocoder(mel)``: ``mel`` ``(B, n_mels, T_mel)`` (torch or numpy, float) -> ``(B, T_wav)``
    float32 torch tensor in ``[-1, 1]``, ``T_wav = T_mel * hop_length`` (same as the module).
    ``window``: mel frames per ONNX Runtime call (:data:`ARENA_WINDOW`; None: one call); a
    one-shot process may raise it (`facespeak tts`: fewer context frames vocoded twice).
    """

    def __init__(self, path: str | Path, num_threads: int | None = None, window: int | None = ARENA_WINDOW) -> None:
        self.window = window
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise DependencyError("OnnxVocoder needs onnxruntime; pip install onnxruntime") from exc
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"expected an ONNX vocoder file at '{path}', none found")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if num_threads:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
        # idle workers sleep instead of spinning: same output, ~25 % less CPU for the int8 V1 on a
        # shared 2-core box, and no spinning threads competing with the acoustic model between
        # vocoder calls (docs/benchmarks.md, "Speed of `tts`", session 13)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - ORT raises its own exception classes
            raise CheckpointError(f"cannot load ONNX vocoder '{path}': {exc}") from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        self.cfg: HifiGanConfig | IstftVocoderConfig
        if _META_KEY in meta:
            self.cfg = HifiGanConfig.from_dict(json.loads(meta[_META_KEY]))
        elif _ISTFT_META_KEY in meta:
            self.cfg = IstftVocoderConfig.from_dict(json.loads(meta[_ISTFT_META_KEY]))
        else:
            raise CheckpointError(f"'{path}' was not written by facespeak's export_onnx (no config)")

    @property
    def hop_length(self) -> int:
        if isinstance(self.cfg, IstftVocoderConfig):
            return self.cfg.hop_length
        return math.prod(self.cfg.upsample_rates)

    def __call__(self, mel: torch.Tensor | np.ndarray) -> torch.Tensor:
        return vocode_windows(self._run, mel, self.window)

    def _run(self, mel: torch.Tensor | np.ndarray) -> torch.Tensor:
        array = mel.detach().cpu().numpy() if isinstance(mel, torch.Tensor) else np.asarray(mel)
        if array.ndim != 3 or array.shape[1] != self.cfg.n_mels:
            raise InputError(
                f"expected mel of shape (B, {self.cfg.n_mels}, T_mel), got {tuple(array.shape)}"
            )
        (wav,) = self.session.run(["wav"], {"mel": np.ascontiguousarray(array, dtype=np.float32)})
        return torch.from_numpy(wav)

"""The universal HiFi-GAN V1 with int8 weights and activations where int8 does not hurt it.

Static post-training quantization with ONNX Runtime (QDQ format: per-output-channel int8
weights, uint8 activations with min-max ranges) of every convolution except the ones whose
rounding is audible: the first convolution, the last one and the whole last upsampling stage
(32 channels at the full sample rate, where the waveform's fine structure is made). On two
cores this runs the universal vocoder about 2x faster than fp32 ONNX Runtime at nearly the
same quality (docs/vocoder.md, "int8 universal"); quantizing the last stage as well is 3.3x
faster but drops DistillMOS by two points.

The activation ranges are measured once on real speech by :func:`calibrate_ranges` and shipped
as a small JSON file (``assets/vocoder/universal_int8.json``, written by
``scripts/calibrate_int8_vocoder.py``), so every install builds the same model without any
calibration audio: :func:`build_int8_vocoder` exports the fp32 generator, quantizes it with the
shipped ranges and renames the result into place. Like :mod:`.onnx_export`, this module reads
and writes files (ONNX Runtime's quantizer works on files).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from facespeak.core.errors import CheckpointError, DependencyError

from .hifigan import HifiGanGenerator
from .onnx_export import export_onnx

__all__ = ["KEEP_FP32", "RANGES_FORMAT", "QuantRanges", "calibrate_ranges", "quantize_with_ranges",
           "build_int8_vocoder"]

log = logging.getLogger(__name__)

KEEP_FP32 = ("/input_conv/", "/output_conv/", "/stages.3/")
"""Name fragments of the ONNX convolutions left in fp32 (see the module docstring)."""

RANGES_FORMAT = 1
_QUANTIZED_OPS = ["Conv", "ConvTranspose"]


@dataclass(frozen=True)
class QuantRanges:
    """Activation ranges ``{tensor name: (lowest, highest)}`` of an exported generator, the
    convolution-name fragments kept in fp32, and where the ranges were measured."""

    ranges: dict[str, tuple[float, float]]
    keep_fp32: tuple[str, ...] = KEEP_FP32
    source: str = ""

    def to_json(self) -> str:
        return json.dumps({"format": RANGES_FORMAT, "source": self.source, "keep_fp32": list(self.keep_fp32),
                           "ranges": {k: [float(lo), float(hi)] for k, (lo, hi) in sorted(self.ranges.items())}},
                          indent=1)

    @classmethod
    def from_json(cls, text: str, where: str = "ranges") -> "QuantRanges":
        try:
            data = json.loads(text)
            if data.get("format") != RANGES_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {RANGES_FORMAT}")
            ranges = {str(k): (float(v[0]), float(v[1])) for k, v in data["ranges"].items()}
            return cls(ranges, tuple(str(p) for p in data["keep_fp32"]), str(data.get("source", "")))
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise CheckpointError(f"{where}: expected int8 activation ranges written by facespeak ({e})") from None


def _quantization():
    try:
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.calibrate import TensorData, TensorsData, create_calibrator, save_tensors_data
    except ImportError as exc:  # ml_dtypes or onnx missing
        raise DependencyError(f"the int8 vocoder needs onnxruntime's quantization tools ({exc}); "
                              "install requirements/lock.txt") from exc
    return CalibrationMethod, QuantFormat, QuantType, quantize_static, TensorData, TensorsData, create_calibrator, \
        save_tensors_data


def calibrate_ranges(fp32_onnx: str | Path, mels: Sequence[np.ndarray], keep_fp32: tuple[str, ...] = KEEP_FP32,
                     source: str = "") -> QuantRanges:
    """Min-max ranges of every tensor the quantizer needs, over ``mels`` (each ``(1, n_mels, T_mel)``
    float32 log-mels; any lengths) run through the exported generator ``fp32_onnx``."""
    CalibrationMethod, *_, TensorData, _TensorsData, create_calibrator, _ = _quantization()
    with tempfile.TemporaryDirectory(prefix="facespeak-calib-") as tmp:
        calibrator = create_calibrator(Path(fp32_onnx), _QUANTIZED_OPS, augmented_model_path=f"{tmp}/augmented.onnx",
                                       calibrate_method=CalibrationMethod.MinMax)
        name = calibrator.infer_session.get_inputs()[0].name
        for mel in mels:  # one at a time: the collector cannot stack different lengths
            calibrator.collect_data(_Reader([{name: np.ascontiguousarray(mel, dtype=np.float32)}]))
        data = calibrator.compute_data()
    ranges = {k: (float(np.asarray(v.range_value[0])), float(np.asarray(v.range_value[1]))) for k, v in data.items()}
    return QuantRanges(ranges, keep_fp32, source)


class _Reader:
    """A calibration data reader over a list of input dicts (ONNX Runtime's protocol)."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._it = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def quantize_with_ranges(fp32_onnx: str | Path, out: str | Path, ranges: QuantRanges) -> Path:
    """Write the int8 model of ``fp32_onnx`` to ``out`` using the shipped ``ranges`` (no data)."""
    import onnx

    CalibrationMethod, QuantFormat, QuantType, quantize_static, TensorData, TensorsData, _, save_tensors_data = \
        _quantization()
    graph = onnx.load(str(fp32_onnx), load_external_data=False).graph
    nodes = [n for n in graph.node if n.op_type in _QUANTIZED_OPS]
    keep = [n.name for n in nodes if any(p in f"{n.name}/" for p in ranges.keep_fp32)]
    weights = {t.name for t in graph.initializer}
    needed = {x for n in nodes if n.name not in keep for x in [n.input[0], *n.output] if x not in weights}
    missing = sorted(needed - ranges.ranges.keys())
    if missing:
        raise CheckpointError(f"int8 ranges do not cover the exported vocoder ({len(missing)} tensors without a "
                              f"range, e.g. {missing[0]}); re-run scripts/calibrate_int8_vocoder.py")
    tensors = TensorsData(CalibrationMethod.MinMax, {
        k: TensorData(lowest=np.float32(lo), highest=np.float32(hi)) for k, (lo, hi) in ranges.ranges.items()})
    with tempfile.TemporaryDirectory(prefix="facespeak-quant-") as tmp:
        cache = Path(tmp) / "ranges.json"
        save_tensors_data(tensors, cache)
        quantize_static(str(fp32_onnx), str(out), None, quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=_QUANTIZED_OPS, nodes_to_exclude=keep,
                        calibrate_method=CalibrationMethod.MinMax, calibration_cache_path=str(cache))
    log.info("quantized %s -> %s (%d of %d convolutions int8)", fp32_onnx, out, len(nodes) - len(keep), len(nodes))
    return Path(out)


def build_int8_vocoder(generator: HifiGanGenerator, ranges: QuantRanges, target: str | Path) -> Path:
    """Export ``generator``, quantize it with ``ranges`` and rename the result to ``target``
    (atomic: concurrent builders never see a partial file). An existing ``target`` is reused."""
    target = Path(target)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".int8-", dir=target.parent) as tmp:
        fp32 = export_onnx(generator, Path(tmp) / "fp32.onnx")
        quantized = quantize_with_ranges(fp32, Path(tmp) / "int8.onnx", ranges)
        os.replace(quantized, target)
    return target

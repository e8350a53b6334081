"""int8 quantization of a HiFi-GAN generator with shipped activation ranges (facespeak.vocoder.int8)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from facespeak.core.errors import CheckpointError
from facespeak.vocoder.hifigan import HifiGanConfig, HifiGanGenerator
from facespeak.vocoder.int8 import QuantRanges, build_int8_vocoder, calibrate_ranges, quantize_with_ranges
from facespeak.vocoder.onnx_export import OnnxVocoder, export_onnx


def _generator() -> HifiGanGenerator:
    torch.manual_seed(0)
    return HifiGanGenerator(HifiGanConfig.tiny()).eval()


def _mels(n: int, frames: int = 40) -> list[np.ndarray]:
    """Log-mel-like inputs: smooth random spectra around -4 (ln units), one per item."""
    rng = np.random.default_rng(1)
    base = -4 + np.cumsum(rng.normal(0, 0.3, size=(n, 80, 1)), axis=1) * 0.2
    return [(base[i] + rng.normal(0, 0.5, size=(80, frames + 7 * i)))[None].astype(np.float32) for i in range(n)]


@pytest.fixture(scope="module")
def fp32_and_ranges(tmp_path_factory):
    root = tmp_path_factory.mktemp("int8")
    fp32 = export_onnx(_generator(), root / "fp32.onnx")
    return fp32, calibrate_ranges(fp32, _mels(3), keep_fp32=("/input_conv/", "/output_conv/"), source="test")


def test_int8_output_follows_the_fp32_model(fp32_and_ranges, tmp_path) -> None:
    fp32, ranges = fp32_and_ranges
    assert ranges.ranges and all(lo <= hi for lo, hi in ranges.ranges.values())
    out = quantize_with_ranges(fp32, tmp_path / "int8.onnx", ranges)
    q, ref = OnnxVocoder(out, num_threads=1), OnnxVocoder(fp32, num_threads=1)
    mel = _mels(4)[3]  # not a calibration input
    a, b = q(mel).numpy(), ref(mel).numpy()
    assert a.shape == b.shape == (1, mel.shape[-1] * 256)
    snr = 10 * np.log10(np.sum(b**2) / np.sum((a - b) ** 2))
    assert snr > 15, snr  # rounding noise, not a different signal
    assert not np.array_equal(a, b)  # it really is quantized
    assert isinstance(q.cfg, HifiGanConfig) and q.hop_length == 256  # the config travels in the metadata


def test_ranges_round_trip_and_bad_files(fp32_and_ranges) -> None:
    _, ranges = fp32_and_ranges
    again = QuantRanges.from_json(ranges.to_json())
    assert again.keep_fp32 == ranges.keep_fp32 and again.source == "test"
    assert again.ranges.keys() == ranges.ranges.keys()
    assert all(np.allclose(again.ranges[k], ranges.ranges[k]) for k in ranges.ranges)
    with pytest.raises(CheckpointError, match="int8 activation ranges"):
        QuantRanges.from_json("{not json", "x.json")
    with pytest.raises(CheckpointError, match="format"):
        QuantRanges.from_json(json.dumps({"format": 99, "ranges": {}, "keep_fp32": []}))


def test_ranges_that_miss_a_tensor_are_refused(fp32_and_ranges, tmp_path) -> None:
    fp32, ranges = fp32_and_ranges
    partial = dict(ranges.ranges)
    partial.pop(sorted(partial)[len(partial) // 2])
    with pytest.raises(CheckpointError, match="do not cover"):
        quantize_with_ranges(fp32, tmp_path / "int8.onnx", QuantRanges(partial, ranges.keep_fp32))


def test_build_is_atomic_and_reuses_the_file(fp32_and_ranges, tmp_path) -> None:
    _, ranges = fp32_and_ranges
    target = tmp_path / "cache" / "v.onnx"
    assert build_int8_vocoder(_generator(), ranges, target) == target
    assert sorted(p.name for p in target.parent.iterdir()) == ["v.onnx"]  # no temporary files left
    stamp = target.stat().st_mtime_ns
    build_int8_vocoder(_generator(), ranges, target)
    assert target.stat().st_mtime_ns == stamp


def test_windowed_vocoding_of_a_long_mel_is_bit_identical(fp32_and_ranges, tmp_path) -> None:
    """An ONNX vocoder runs long mels in windows (bounded ONNX Runtime arena; the default of
    OnnxVocoder): with static int8 ranges that must not change a sample."""
    from facespeak.vocoder.onnx_export import ARENA_WINDOW

    fp32, ranges = fp32_and_ranges
    path = quantize_with_ranges(fp32, tmp_path / "int8.onnx", ranges)
    windowed, one_call = OnnxVocoder(path, num_threads=1), OnnxVocoder(path, num_threads=1, window=None)
    assert windowed.window == ARENA_WINDOW
    frames = 3 * ARENA_WINDOW + 37  # four windows, the last one short
    mel = torch.from_numpy(_mels(1, frames=frames)[0])
    calls = []
    run = windowed._run
    windowed._run = lambda m: calls.append(m.shape[-1]) or run(m)
    whole, parts = one_call(mel), windowed(mel)
    assert calls == [ARENA_WINDOW + 24, ARENA_WINDOW + 48, ARENA_WINDOW + 48, 37 + 24]
    assert parts.shape == whole.shape == (1, frames * 256)
    assert torch.equal(parts, whole)

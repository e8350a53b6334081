"""ONNX export of the generator and the ONNX Runtime runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facespeak.core.errors import CheckpointError, InputError
from facespeak.vocoder.hifigan import HifiGanConfig, HifiGanGenerator
from facespeak.vocoder.onnx_export import OnnxVocoder, export_onnx


pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[HifiGanGenerator, Path]:
    torch.manual_seed(0)
    gen = HifiGanGenerator(HifiGanConfig.tiny()).eval()
    return gen, export_onnx(gen, tmp_path_factory.mktemp("onnx") / "voc.onnx")


@pytest.mark.parametrize("batch,frames", [(1, 7), (2, 40), (3, 1)])
def test_onnx_matches_torch_for_any_batch_and_length(exported, batch: int, frames: int) -> None:
    gen, path = exported
    runner = OnnxVocoder(path, num_threads=1)
    assert runner.cfg == gen.cfg and runner.hop_length == 256
    mel = torch.randn(batch, 80, frames, generator=torch.Generator().manual_seed(frames))
    out = runner(mel)
    assert isinstance(out, torch.Tensor) and out.shape == (batch, frames * 256)
    with torch.inference_mode():
        torch.testing.assert_close(out, gen(mel), atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(runner(mel.numpy().astype(np.float64)), out)


def test_runner_rejects_bad_input_and_foreign_files(exported, tmp_path: Path) -> None:
    _, path = exported
    with pytest.raises(InputError, match="80"):
        OnnxVocoder(path)(torch.zeros(1, 40, 5))
    with pytest.raises(CheckpointError, match="none found"):
        OnnxVocoder(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(CheckpointError):
        OnnxVocoder(tmp_path / "junk.onnx")


def test_export_does_not_modify_the_source_module(exported) -> None:
    gen, _ = exported
    before = {k: v.clone() for k, v in gen.state_dict().items()}
    gen.train()
    export_onnx(gen, Path(str(exported[1]) + ".2.onnx"))
    assert gen.training
    assert all(torch.equal(before[k], v) for k, v in gen.state_dict().items())


def test_idle_workers_sleep_and_give_the_same_samples(exported) -> None:
    """Worker threads do not spin between calls (docs/benchmarks.md, "Speed of `tts`", session 13):
    set on the session, and the output is the same as with ONNX Runtime's spinning default."""
    import onnxruntime as ort

    _, path = exported
    runner = OnnxVocoder(path, num_threads=2)
    assert runner.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    spinning = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    mel = np.random.default_rng(0).normal(-4, 1, size=(1, 80, 33)).astype(np.float32)
    assert np.array_equal(runner(mel).numpy(), spinning.run(["wav"], {"mel": mel})[0])

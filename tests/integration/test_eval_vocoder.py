"""`facespeak eval vocoder` end to end on one LibriVox clip: the bundled fast vocoder and a tiny
untrained checkpoint given by path (~25 s on 2 shared cores)."""

from __future__ import annotations

import json

import pytest

from facespeak.cli.main import main
from facespeak.core.checkpoint import save_checkpoint
from facespeak.core.errors import DependencyError
from facespeak.vocoder.bundled import ISTFT_ARCH, bundled_vocoder_path
from facespeak.vocoder.istft_vocoder import IstftVocoder, IstftVocoderConfig


@pytest.fixture(autouse=True)
def _needs_clips_and_models():
    from facespeak.audio.reference_speech import librivox_clips
    from facespeak.eval.metrics.speech_quality import _models

    if not bundled_vocoder_path("fast").is_file():
        pytest.skip(f"bundled fast vocoder not present ({bundled_vocoder_path('fast')})")
    try:
        librivox_clips()
        _models()
    except DependencyError as exc:
        pytest.skip(str(exc))


def _tiny_checkpoint(path, **overrides):
    import torch

    torch.manual_seed(0)
    cfg = IstftVocoderConfig(**{**IstftVocoderConfig.tiny().to_dict(), **overrides})
    save_checkpoint(path, IstftVocoder(cfg).state_dict(), ISTFT_ARCH, cfg.to_dict())
    return path


def test_eval_vocoder_cli_one_clip(tmp_path, capsys):
    import soundfile as sf

    tiny = _tiny_checkpoint(tmp_path / "tiny_voc.safetensors")
    out = tmp_path / "out"
    args = ["-q", "eval", "vocoder", "--vocoder", "fast", "--vocoder", str(tiny), "--clips", "1", "--threads", "1",
            "--rtf-repeats", "1", "--out", str(out)]
    assert main(args) == 0
    res = json.loads((out / "results.json").read_text())
    original, fast, untrained = res["rows"]
    assert [r["name"] for r in res["rows"]] == ["original", "fast", "tiny_voc"]
    assert res["command"].startswith("facespeak eval vocoder --vocoder fast --vocoder ")
    assert len(res["clips"]) == 1 and all(r["clips"] == 1 for r in res["rows"])
    assert original["mel_l1"] is None and original["rtf"] is None
    # real speech > our fast vocoder's copy-synthesis > an untrained vocoder's noise
    assert original["distillmos_mean"] > fast["distillmos_mean"] + 1.0
    assert fast["distillmos_mean"] > untrained["distillmos_mean"]
    assert 0.0 < fast["mel_l1"] < untrained["mel_l1"]
    assert 0.0 < fast["rtf"] < 1.0 and fast["parameters"] > untrained["parameters"]
    clip_seconds = original["per_clip"][0]["seconds"]
    info = sf.info(fast["per_clip"][0]["wav"])
    assert info.samplerate == 22050 and info.frames / info.samplerate == pytest.approx(clip_seconds, abs=0.02)
    printed = capsys.readouterr().out
    assert "| fast |" in printed and "| fast |" in (out / "summary.md").read_text()


def test_eval_vocoder_rejects_a_vocoder_that_does_not_fit_the_mel(tmp_path, capsys):
    bad = _tiny_checkpoint(tmp_path / "hop160.safetensors", hop_length=160, n_fft=640, win_length=640)
    assert main(["eval", "vocoder", "--vocoder", str(bad), "--clips", "1", "--out", str(tmp_path / "o")]) == 2
    assert "expected hop 256" in capsys.readouterr().err
    assert main(["eval", "vocoder", "--vocoder", "nope", "--out", str(tmp_path / "o")]) == 2
    assert "expected one of ['universal-int8', 'universal', 'fast']" in capsys.readouterr().err
    assert not (tmp_path / "o" / "results.json").exists()

"""Speech-quality scoring without the models: normalisation (trim, 16 kHz, RMS -25 dBFS, range),
summaries, the missing-package error, and the quality checks of `facespeak eval tts`."""

import math

import numpy as np
import pytest

from facespeak.core.errors import DependencyError, InputError
from facespeak.eval.metrics import speech_quality as sq
from facespeak.eval.metrics.speech_quality import (
    QUALITY_SAMPLE_RATE,
    QUALITY_THRESHOLDS,
    SpeechQuality,
    normalize_for_quality,
    score_speech_quality,
    summarize_speech_quality,
)


def _speechlike(rate: int, seconds: float = 1.0, lead: float = 0.5, tail: float = 0.5, level: float = 0.05) -> np.ndarray:
    """Silence, ``seconds`` of a 150 Hz harmonic complex with a 4 Hz syllable envelope, silence."""
    t = np.arange(int(seconds * rate)) / rate
    voiced = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 20))
    voiced *= 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    voiced = level * voiced / np.max(np.abs(voiced))
    return np.concatenate([np.zeros(int(lead * rate)), voiced, np.zeros(int(tail * rate))]).astype(np.float32)


def _voiced_rms_dbfs(wav: np.ndarray, rate: int, top_db: float = 40.0) -> float:
    frame = int(rate * 0.02)
    n = len(wav) // frame
    rms = np.sqrt(np.mean(wav[: n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1) + 1e-12)
    voiced = rms[20 * np.log10(rms / rms.max()) > -top_db]
    return float(20 * np.log10(np.sqrt(np.mean(voiced**2))))


@pytest.mark.parametrize("rate", [16000, 22050, 48000])
def test_normalised_speech_is_trimmed_16k_at_minus_25_dbfs(rate):
    out = normalize_for_quality(_speechlike(rate), rate)
    assert out.dtype == np.float32 and out.ndim == 1
    # 1 s of voice + a 20 ms margin each side (+ at most one 20 ms frame of rounding)
    assert 1.04 * QUALITY_SAMPLE_RATE - 1 <= len(out) <= 1.06 * QUALITY_SAMPLE_RATE
    assert _voiced_rms_dbfs(out, QUALITY_SAMPLE_RATE) == pytest.approx(-25.0, abs=0.2)
    assert np.max(np.abs(out)) <= 1.0


def test_resampled_length_without_silence():
    rng = np.random.default_rng(0)
    wav = (0.1 * rng.standard_normal(48000 * 2 + 30)).astype(np.float32)  # no silence to trim
    out = normalize_for_quality(wav, 48000)
    assert len(out) == round(len(wav) * QUALITY_SAMPLE_RATE / 48000)


def test_out_of_range_input_is_scaled_not_clipped():
    wav = _speechlike(16000)
    loud = normalize_for_quality(wav * 60.0, 16000)  # peak 3.0
    assert np.max(np.abs(loud)) <= 1.0
    np.testing.assert_allclose(loud, normalize_for_quality(wav, 16000), atol=1e-5)


def test_peaky_signal_is_kept_in_range_by_lowering_the_gain():
    wav = np.zeros(16000, np.float32)
    wav[::800] = 0.5  # clicks: -25 dBFS RMS would need peaks far above 1
    out = normalize_for_quality(wav, 16000)
    assert np.max(np.abs(out)) == pytest.approx(1.0, abs=1e-6)
    assert _voiced_rms_dbfs(out, 16000) < -25.0


def test_silence_gives_empty_audio_and_nan_scores_without_loading_models(monkeypatch):
    assert normalize_for_quality(np.zeros(8000, np.float32), 16000).size == 0
    assert normalize_for_quality(np.zeros(0, np.float32), 16000).size == 0

    def no_models():
        raise AssertionError("models must not load for silence")

    monkeypatch.setattr(sq, "_models", no_models)
    score = score_speech_quality(np.zeros(16000, np.float32), 22050)
    assert not score.rated and math.isnan(score.distillmos) and math.isnan(score.dnsmos_sig) and score.seconds == 0.0
    assert score.to_dict()["distillmos"] is None


def test_near_silent_output_is_not_rated_and_its_level_is_reported(monkeypatch):
    # normalisation would lift a -86 dBFS residue to speech level: it must not be scored as speech
    def no_models():
        raise AssertionError("models must not load for near-silent audio")

    monkeypatch.setattr(sq, "_models", no_models)
    quiet = _speechlike(16000, level=1e-4)
    assert normalize_for_quality(quiet, 16000).size > 0  # normalisation alone would keep it
    score = score_speech_quality(quiet, 16000)
    assert not score.rated and score.input_rms_dbfs < -75
    assert score.to_dict()["input_rms_dbfs"] == pytest.approx(score.input_rms_dbfs, abs=1e-3)


@pytest.mark.parametrize("bad", [np.zeros((2, 100), np.float32), np.array([0.1, np.nan], np.float32)])
def test_bad_input_is_a_project_error(bad):
    with pytest.raises(InputError):
        normalize_for_quality(bad, 16000)
    with pytest.raises(InputError, match="sample rate"):
        normalize_for_quality(np.zeros(10, np.float32), 0)


def test_summary_means_and_mins_skip_unrated():
    nan = float("nan")
    scores = [SpeechQuality(4.0, 3.5, 4.0, 3.0, 3.8, 2.0), SpeechQuality(2.0, 2.5, 3.0, 2.0, 3.0, 1.0),
              SpeechQuality(nan, nan, nan, nan, nan, 0.0)]
    s = summarize_speech_quality(scores)
    assert (s.count, s.unrated) == (2, 1)
    assert s.distillmos_mean == pytest.approx(3.0) and s.distillmos_min == pytest.approx(2.0)
    assert s.dnsmos_sig_mean == pytest.approx(3.0) and s.dnsmos_sig_min == pytest.approx(2.5)
    assert s.dnsmos_ovrl_mean == pytest.approx(2.5) and s.dnsmos_p808_mean == pytest.approx(3.4)
    empty = summarize_speech_quality([]).to_dict()
    assert empty["count"] == 0 and empty["distillmos_mean"] is None


def test_missing_package_raises_dependency_error_with_the_pip_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distillmos" else real(name, *a))
    monkeypatch.setattr(sq, "_MODELS", {})
    with pytest.raises(DependencyError, match="pip install --no-deps distillmos==0.9.1 xls-r-sqa==0.1.0"):
        score_speech_quality(_speechlike(16000), 16000)


def test_eval_tts_checks_apply_the_quality_bars():
    from facespeak.eval.tts_eval import THRESHOLDS, _checks, summary_markdown

    assert THRESHOLDS["distillmos_mean_min"] == QUALITY_THRESHOLDS["distillmos_mean_min"] == 3.8
    assert THRESHOLDS["dnsmos_sig_mean_min"] == 3.4
    results = {"created": "now", "command": "facespeak eval tts", "git_commit": None,
               "checkpoint": {"path": "x.safetensors", "sha256": "ab" * 32},
               "intelligibility": {"total_wer": 0.05, "errors": 1, "words": 20, "utterances": 2,
                                   "per_portrait": {"a": {"wer": 0.05, "words": 20}}},
               "consistency": [],
               "suitability": {"gender_agreement": 1.0, "same_gender": {"pairs": 0, "max": None, "mean": None},
                               "cross_gender": {"pairs": 0, "max": None, "mean": None}, "portraits": []},
               "speech_quality": {"count": 2, "unrated": 0, "distillmos_mean": 3.9, "distillmos_min": 3.1,
                                  "dnsmos_sig_mean": 3.3, "dnsmos_sig_min": 3.0, "dnsmos_ovrl_mean": 2.9,
                                  "dnsmos_p808_mean": 3.5}}
    checks = _checks(results)
    assert checks["distillmos_mean"]["pass"] and not checks["dnsmos_sig_mean"]["pass"]
    results["checks"] = checks
    md = summary_markdown(results)
    assert "| distillmos_mean | 3.900 | >= 3.800 | yes |" in md and "| dnsmos_sig_mean | 3.300 | >= 3.400 | NO |" in md
    assert "| DistillMOS | 3.900 | 3.100 |" in md
    del results["speech_quality"]
    assert "distillmos_mean" not in _checks(results)  # --no-quality: no check, not a failed one

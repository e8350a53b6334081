"""DistillMOS and DNSMOS on real recorded speech (LibriVox, pocketsphinx-testdata).

Measured on clip 0880 (2.99 s, the shortest): clean DistillMOS 3.43 / DNSMOS SIG 3.62, 4-bit
quantised 2.19 / 3.04; over all five clips 4.04 / 3.60 (docs/evaluation.md).
"""

from __future__ import annotations

import functools
import sys
import types

import numpy as np
import pytest

from facespeak.audio.io import read_audio
from facespeak.audio.reference_speech import librivox_clips
from facespeak.core.errors import DependencyError
from facespeak.eval.metrics import speech_quality as sq
from facespeak.eval.metrics.speech_quality import SpeechQuality, normalize_for_quality, score_speech_quality


@functools.lru_cache(maxsize=None)
def _clip() -> tuple[np.ndarray, int]:
    """The shortest clip (DNSMOS cost grows with length)."""
    clips = librivox_clips()
    return min((read_audio(c.path) for c in clips), key=lambda wr: len(wr[0]) / wr[1])


@functools.lru_cache(maxsize=None)
def _clean_score() -> SpeechQuality:
    return score_speech_quality(*_clip())


@pytest.fixture(autouse=True)
def _needs_clips_and_models():
    try:
        _clip()
        sq._models()
    except DependencyError as exc:
        pytest.skip(str(exc))


def _quantised(wav: np.ndarray, levels: int = 7) -> np.ndarray:
    """4-bit audio: 2 * levels + 1 = 15 amplitude steps over the clip's peak."""
    x = wav / np.max(np.abs(wav))
    return (np.round(x * levels) / levels).astype(np.float32)


def test_real_speech_scores_clearly_above_the_same_speech_quantised():
    wav, rate = _clip()
    clean, bad = _clean_score(), score_speech_quality(_quantised(wav), rate)
    assert clean.distillmos > 3.0 and clean.dnsmos_sig > 3.3
    assert clean.distillmos - bad.distillmos > 0.6
    assert clean.dnsmos_sig - bad.dnsmos_sig > 0.3
    for value in (clean.dnsmos_bak, clean.dnsmos_ovrl, clean.dnsmos_p808):
        assert 1.0 <= value <= 5.0


def test_scores_are_deterministic_and_out_of_range_input_does_not_raise():
    wav, rate = _clip()
    again = score_speech_quality(wav, rate)
    assert again == _clean_score()
    loud = wav * (4.0 / np.max(np.abs(wav)))  # peak 4: DNSMOS itself would raise on this
    louder = score_speech_quality(loud, rate)
    assert louder.rated
    assert louder.distillmos == pytest.approx(again.distillmos, abs=0.01)
    assert louder.dnsmos_sig == pytest.approx(again.dnsmos_sig, abs=0.01)


def test_our_distillmos_network_equals_the_package_class(monkeypatch):
    """distillmos/sqa.py imports torchaudio at import time; stub it here (only here) to build the
    package's own model and compare it with the one speech_quality builds without it."""
    import torch

    monkeypatch.setitem(sys.modules, "torchaudio", types.ModuleType("torchaudio"))
    try:
        from distillmos.sqa import ConvTransformerSQAModel

        reference = ConvTransformerSQAModel().eval()
    finally:
        for name in ("distillmos.sqa", "distillmos"):
            sys.modules.pop(name, None)
    wav16 = normalize_for_quality(*_clip())
    with torch.inference_mode():
        expected = float(reference(torch.from_numpy(wav16)[None]))
    ours = sq._distillmos_score(sq._models()[0], wav16)
    assert ours == pytest.approx(expected, abs=1e-4)
    assert ours == pytest.approx(_clean_score().distillmos, abs=1e-6)

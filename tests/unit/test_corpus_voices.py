"""Voice registry: every installed voice speaks a short, real, non-silent 22,050 Hz wav."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from facespeak.core.errors import InputError, TextError
from facespeak.core.timing import MelSpec
from facespeak.data.voices import VOICES, PostProcess, get_voice, normalize_loudness, postprocess_wav

TEXT = "The old man walked slowly home."
# festival and Kokoro (RTF ~1.7 on one thread) are slow: one voice of each here; Kokoro blends
# are checked in tests/integration/test_neural_teachers.py
FAST_VOICES = [n for n, v in VOICES.items() if v.engine not in ("festival", "kokoro") or n in ("festival_kal", "kokoro_kumo")]


def _skip_if_missing(name: str) -> None:
    reason = VOICES[name].missing_reason()
    if reason is not None:
        pytest.skip(f"voice {name} not installed: {reason}")


def test_flite_is_installed():
    # setup.sh installs flite: the corpus builder's baseline must exist.
    assert VOICES["flite_awb"].missing_reason() is None


@pytest.mark.voices
@pytest.mark.parametrize("name", FAST_VOICES)
def test_voice_synthesizes_real_speech(name, tmp_path):
    _skip_if_missing(name)
    out = tmp_path / f"{name}.wav"
    duration = VOICES[name].synthesize(TEXT, out)
    wav, rate = sf.read(str(out), dtype="float32")
    assert rate == MelSpec().sample_rate == 22050
    assert wav.ndim == 1
    assert abs(duration - wav.size / rate) < 1e-6
    assert 0.8 < duration < 6.0, duration  # six words of speech, silence trimmed
    assert np.abs(wav).max() <= 0.951
    frames = wav[: wav.size // 441 * 441].reshape(-1, 441)
    voiced = np.sqrt((frames ** 2).mean(axis=1)) > 0.01
    assert voiced.mean() > 0.4  # mostly speech, not silence


def test_derived_voices_point_at_real_voices():
    derived = [v for v in VOICES.values() if v.derived_from]
    assert derived, "expected labelled derived voices in the registry"
    for v in derived:
        parent = VOICES[v.derived_from]
        assert parent.derived_from is None and v.sox_effect and v.speaker != parent.speaker
        assert (v.engine, v.engine_voice, v.gender) == (parent.engine, parent.engine_voice, parent.gender)


def test_one_default_rendering_per_speaker():
    speakers = [v.speaker for v in VOICES.values() if v.default]
    assert len(speakers) == len(set(speakers))
    assert VOICES["flite_slt"].speaker == VOICES["festival_slt_hts"].speaker


def test_get_voice_unknown_name_lists_choices():
    with pytest.raises(InputError, match="flite_awb"):
        get_voice("no_such_voice")


def test_empty_text_is_rejected(tmp_path):
    with pytest.raises(TextError):
        VOICES["flite_awb"].synthesize("   ", tmp_path / "x.wav")


def test_postprocess_trims_and_levels():
    rate = MelSpec().sample_rate
    t = np.arange(rate) / rate
    tone = 0.05 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    wav = np.concatenate([np.zeros(rate, np.float32), tone, np.zeros(rate, np.float32)])
    post = PostProcess()
    out = postprocess_wav(wav, post)
    assert abs(out.size / rate - (1.0 + 2 * post.keep_silence_s)) < 0.05
    loud = normalize_loudness(tone, rate, post)
    rms_db = 20 * np.log10(np.sqrt(np.mean(loud ** 2)))
    assert abs(rms_db - post.target_rms_dbfs) < 0.5
    spiky = tone.copy()
    spiky[100] = 1.0  # a peak far above the RMS: the peak limit wins
    assert np.abs(normalize_loudness(spiky, rate, post)).max() <= post.peak_limit + 1e-6

"""`voice_gender`: the user overrides the apparent gender the estimator gives a face.

Real bundled weights, real photos; the check is the median F0 of the speech (eval's ranges)."""

from pathlib import Path

import pytest

from facespeak.core.errors import InputError
from facespeak.eval.metrics.speech import f0_gender_range, median_f0
from facespeak.pipeline import FaceSpeak, SpeechOptions, default_tts_path

PORTRAIT = Path(__file__).resolve().parents[2] / "examples" / "portrait.jpg"  # a woman
TEXT = "The quick brown fox jumps over the lazy dog."

pytestmark = pytest.mark.skipif(not default_tts_path().is_file(), reason="bundled TTS weights not built yet")


@pytest.fixture(scope="module")
def fs():
    return FaceSpeak.from_bundled()


def _range(fs, voice_gender: str) -> str:
    res = fs.speak(str(PORTRAIT), TEXT, SpeechOptions(voice_gender=voice_gender), keep_chunks=False)
    return f0_gender_range(median_f0(res.wav, res.sample_rate))


def test_auto_follows_the_face_and_an_override_changes_the_voice(fs):
    assert _range(fs, "auto") == "female"
    assert _range(fs, "female") == "female"
    assert _range(fs, "male") == "male"


def test_unknown_voice_gender_is_refused_in_one_line(fs):
    with pytest.raises(InputError, match="voice gender: expected one of auto, female, male"):
        SpeechOptions(voice_gender="robot").validate()
    with pytest.raises(InputError, match="voice gender"):
        fs.face_condition(str(PORTRAIT), voice_gender="robot")

"""Timbre from the face (formant and pitch shifts) on the real bundled models and a real photo."""

from pathlib import Path

import numpy as np
import pytest

from facespeak.eval.metrics.speech import median_f0, speaker_embedding
from facespeak.pipeline import FaceSpeak, SpeechOptions, default_timbre_path, default_tts_path

PORTRAIT = Path(__file__).resolve().parents[2] / "examples" / "portrait.jpg"
TEXT = "Every morning she walked along the river to the old stone bridge."

pytestmark = pytest.mark.skipif(not (default_tts_path().is_file() and default_timbre_path().is_file()),
                                reason="bundled TTS or timbre map not built yet")


@pytest.fixture(scope="module")
def fs():
    return FaceSpeak.from_bundled()


def _centroid_hz(mel: np.ndarray, fs: FaceSpeak) -> float:
    from facespeak.tts.timbre import _mel_centres

    power = np.exp(mel)  # (n_mels, T)
    return float((power * _mel_centres(fs.mel_spec)[:, None]).sum() / power.sum())


def test_the_face_picks_the_timbre_and_the_user_can_override_it_and_the_pitch(fs):
    _, _, cond = fs.face_condition(str(PORTRAIT))
    formant, pitch = fs.voice_shift(cond, SpeechOptions())
    vec = cond[0].numpy()
    assert formant == pytest.approx(fs.timbre.cents(vec[:-1], float(vec[-1])))
    assert 0 < abs(formant) <= fs.timbre.max_cents and pitch == 0.0  # the pitch is the TTS's own by default
    assert fs.voice_shift(cond, SpeechOptions(formant_shift=0.0)) == (0.0, 0.0)
    assert fs.voice_shift(cond, SpeechOptions(formant_shift=-120.0)) == (-120.0, 0.0)
    assert fs.voice_shift(cond, SpeechOptions(pitch_shift=80.0)) == (formant, 80.0)


def test_a_pitch_shift_moves_f0_by_its_ratio(fs):
    f0 = {}
    for cents in (-200.0, 200.0):
        res = fs.speak(str(PORTRAIT), TEXT, SpeechOptions(formant_shift=0.0, pitch_shift=cents), keep_chunks=False)
        f0[cents] = median_f0(res.wav, res.sample_rate)
        assert res.pitch_cents == cents
    # 400 cents apart = a ratio of 1.26: the vocoder follows the moved harmonics
    assert 1.15 < f0[200.0] / f0[-200.0] < 1.4, f0


def test_a_shift_changes_the_timbre_and_keeps_the_pitch(fs):
    out = {}
    for cents in (-250.0, 250.0):
        res = fs.speak(str(PORTRAIT), TEXT, SpeechOptions(formant_shift=cents, pitch_shift=0.0))
        mel = np.concatenate([ch.mel for ch in res.chunks], axis=1)
        out[cents] = (median_f0(res.wav, res.sample_rate), _centroid_hz(mel, fs),
                      speaker_embedding(res.wav, res.sample_rate))
    (f0_lo, c_lo, e_lo), (f0_hi, c_hi, e_hi) = out[-250.0], out[250.0]
    assert c_hi > 1.1 * c_lo  # formants (spectral centre of mass) moved up
    assert 0.85 < f0_hi / f0_lo < 1.18  # the pitch stayed (within 3 semitones)
    assert float(e_lo @ e_hi) < 0.9  # a speaker encoder hears two different voices


def test_cli_reports_the_timbre_it_used(tmp_path):
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("facespeak")
    out = tmp_path / "a.wav"
    run = subprocess.run([str(exe), "tts", "--image", str(PORTRAIT), "--text", "Hello there.", "--formant-shift", "-100",
                          "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-500:]
    assert "timbre -100 cents, pitch" in run.stdout and out.stat().st_size > 10_000

"""Oracle tests for the speech metrics: closed-form signals, real flite voices, DTW invariances."""

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from facespeak.core.errors import InputError
from facespeak.eval.metrics.dtw import dtw_path, pairwise_euclidean
from facespeak.eval.metrics.speech import (
    FEMALE_MIN_HZ,
    MALE_MAX_HZ,
    cosine_matrix,
    f0_gender_range,
    f0_rmse,
    f0_track,
    mcd,
    mean_pairwise_cosine,
    median_f0,
    speaker_embedding,
)

SR = 22050
SENTENCE = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."
OTHER = "Four hours of steady work faced us, and the hogs were fed before noon."
needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite (Debian) not installed; scripts/setup.sh installs it")


def harmonic(f0: float, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3))).astype(np.float32)


@pytest.fixture(scope="module")
def flite_wavs(tmp_path_factory):
    if shutil.which("flite") is None:
        pytest.skip("flite not installed")
    root = tmp_path_factory.mktemp("flite")
    out = {}
    for voice in ("rms", "awb", "kal", "slt"):
        for tag, text in (("a", SENTENCE), ("b", OTHER)):
            path = root / f"{voice}_{tag}.wav"
            subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(path)], check=True)
            wav, sr = sf.read(str(path), dtype="float32")
            out[voice, tag] = (wav, sr)
    return out


# --- DTW -----------------------------------------------------------------------------------

def test_dtw_identical_sequences_follow_the_diagonal_at_zero_cost():
    a = np.random.default_rng(0).normal(size=(40, 5))
    path, total = dtw_path(pairwise_euclidean(a, a))
    assert total == pytest.approx(0.0, abs=1e-9)
    assert np.array_equal(path, np.stack([np.arange(40)] * 2, 1))


def test_dtw_recovers_a_known_time_warp():
    a = np.random.default_rng(1).normal(size=(30, 4))
    repeat = np.where(np.arange(30) % 3 == 0, 3, 1)  # every third frame held for 3 frames
    b = np.repeat(a, repeat, axis=0)
    path, total = dtw_path(pairwise_euclidean(a, b))
    assert total == pytest.approx(0.0, abs=1e-9)
    assert np.array_equal(a[path[:, 0]], b[path[:, 1]])
    steps = np.diff(path, axis=0)
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (29, len(b) - 1)
    assert ((steps >= 0) & (steps <= 1)).all() and (steps.sum(1) >= 1).all()


def test_dtw_rejects_empty_cost():
    with pytest.raises(InputError, match="cost matrix"):
        dtw_path(np.zeros((0, 3)))


# --- F0 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("f0", [70.0, 110.0, 196.0, 350.0])
def test_median_f0_of_harmonic_tone(f0):
    assert median_f0(harmonic(f0), SR) == pytest.approx(f0, rel=0.01)


def test_f0_track_frames_and_unvoiced_silence():
    wav = np.concatenate([np.zeros(SR // 2, np.float32), harmonic(150.0, 0.5)])
    f0 = f0_track(wav, SR)
    assert f0.shape == (1 + 16000 // 160,)  # 1 s at the 16 kHz / 10 ms analysis grid
    assert np.isnan(f0[:45]).all() and np.isfinite(f0[55:95]).all()
    assert np.isnan(median_f0(np.zeros(SR, np.float32), SR))


def test_white_noise_is_mostly_unvoiced():
    noise = np.random.default_rng(0).normal(scale=0.1, size=SR).astype(np.float32)
    assert np.isfinite(f0_track(noise, SR)).mean() < 0.1


def test_f0_gender_range_thresholds():
    assert f0_gender_range(MALE_MAX_HZ - 0.1) == "male"
    assert f0_gender_range(FEMALE_MIN_HZ + 0.1) == "female"
    assert f0_gender_range((MALE_MAX_HZ + FEMALE_MIN_HZ) / 2) == "ambiguous"
    assert f0_gender_range(float("nan")) == "ambiguous"


@needs_flite
@pytest.mark.parametrize("voice,expected", [("rms", "male"), ("awb", "male"), ("kal", "male"), ("slt", "female")])
def test_flite_voice_f0_in_its_gender_range(flite_wavs, voice, expected):
    wav, sr = flite_wavs[voice, "a"]
    assert f0_gender_range(median_f0(wav, sr)) == expected


def test_audio_validation():
    with pytest.raises(InputError, match="mono"):
        median_f0(np.zeros((2, 100), np.float32), SR)
    with pytest.raises(InputError, match="finite"):
        median_f0(np.full(1000, np.nan, np.float32), SR)


# --- MCD / F0 RMSE -------------------------------------------------------------------------

@needs_flite
def test_identical_signals_score_perfectly(flite_wavs):
    wav, sr = flite_wavs["rms", "a"]
    assert mcd(wav, wav, sr) == 0.0
    assert f0_rmse(wav, wav, sr) == 0.0


@needs_flite
def test_time_shift_is_absorbed_by_dtw(flite_wavs):
    wav, sr = flite_wavs["rms", "a"]
    shifted = np.concatenate([np.zeros(int(0.3 * sr), np.float32), wav, np.zeros(int(0.1 * sr), np.float32)])
    other, _ = flite_wavs["awb", "a"]
    different = mcd(wav, other, sr)
    assert different > 2.0  # dB, a different speaker
    assert mcd(wav, shifted, sr) < 0.2 * different
    assert f0_rmse(wav, shifted, sr) < 2.0
    female, _ = flite_wavs["slt", "a"]
    assert f0_rmse(wav, female, sr) > 40.0  # ~100 Hz male vs ~170 Hz female


# --- speaker similarity --------------------------------------------------------------------

def test_cosine_matrix_properties():
    e = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    sim = cosine_matrix(e)
    assert np.allclose(np.diag(sim), 1.0) and np.allclose(sim, sim.T)
    assert sim[0, 1] == pytest.approx(0.0) and sim[0, 2] == pytest.approx(np.sqrt(0.5))
    assert mean_pairwise_cosine(e) == pytest.approx((0 + 2 * np.sqrt(0.5)) / 3)
    with pytest.raises(InputError):
        mean_pairwise_cosine(e[:1])
    with pytest.raises(InputError):
        cosine_matrix(np.zeros((2, 3)))


@needs_flite
def test_speaker_embedding_separates_speakers(flite_wavs):
    embs = {k: speaker_embedding(*v) for k, v in flite_wavs.items() if k[0] in ("rms", "slt")}
    assert embs["rms", "a"].shape == (256,)
    assert np.linalg.norm(embs["rms", "a"]) == pytest.approx(1.0, abs=1e-4)
    same = cosine_matrix(np.stack([embs["rms", "a"], embs["rms", "a"]]))[0, 1]
    assert same == pytest.approx(1.0, abs=1e-5)
    same_speaker = float(embs["rms", "a"] @ embs["rms", "b"])
    cross = float(embs["rms", "a"] @ embs["slt", "a"])
    assert same_speaker > 0.85 and same_speaker > cross + 0.1

"""Oracle tests of the talking-face metrics (facespeak.eval.metrics.video / face / fid)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from facespeak.core.errors import InputError
from facespeak.eval.metrics.face import gender_agrees, identity_similarity, pca_2d, within_identity_variance
from facespeak.eval.metrics.fid import frechet_distance
from facespeak.eval.metrics.video import (
    LipSyncConfig,
    envelope_db,
    lagged_correlation,
    landmark_distance,
    landmark_jitter,
    lip_sync_proxy,
    mouth_opening,
    pose_diversity,
    speech_envelope,
)
from facespeak.tfg.mesh_space import canonical_landmarks

FPS = 25.0
SR = 16000


def _face_track(openings: np.ndarray) -> np.ndarray:
    """(T, 478, 2) px: the canonical face scaled to ~200 px with the lower lip moved down."""
    base = canonical_landmarks()[:, :2] * 20.0 + 128.0
    width = np.linalg.norm(base[291] - base[61])
    track = np.repeat(base[None], len(openings), axis=0).copy()
    for lo in (87, 14, 317):  # lower inner lip of the three measured pairs
        track[:, lo, 1] = base[[82, 13, 312][[87, 14, 317].index(lo)], 1] + openings * width
    return track


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    """(n,) smooth non-negative syllable-rate curve with silent gaps."""
    rng = np.random.default_rng(seed)
    x = gaussian_filter1d(rng.standard_normal(n), 2.0)
    return np.clip(x / x.std(), 0.0, None) * 0.3


def _audio_from_envelope(env: np.ndarray, seed: int = 1) -> np.ndarray:
    """Noise whose per-frame RMS follows ``env`` (frame intervals as speech_envelope uses)."""
    hop = int(SR / FPS)
    noise = np.random.default_rng(seed).standard_normal(len(env) * hop)
    return (noise * np.repeat(env, hop)).astype(np.float32)


def test_mouth_opening_reads_the_gap_over_width():
    open_ = np.array([0.0, 0.1, 0.3])
    got = mouth_opening(_face_track(open_))
    assert got[0] < 0.01  # canonical lips nearly touch
    np.testing.assert_allclose(got[1:] - got[0], open_[1:], atol=0.02)


def test_speech_envelope_recovers_frame_rms():
    env = np.array([0.0, 0.5, 0.1, 0.0, 0.25])
    got = speech_envelope(_audio_from_envelope(env), SR, FPS)
    assert got.shape == (5,)
    np.testing.assert_allclose(got, env, rtol=0.1, atol=1e-9)
    assert envelope_db(got, 40.0).max() == 0.0 and envelope_db(got, 40.0).min() == -40.0


@pytest.mark.parametrize("k", [-3, 0, 2, 4])
def test_shifted_envelope_gives_lag_k(k):
    mouth = _speechlike(200)
    env = np.roll(mouth, k)  # env[t] = mouth[t - k]: sound k frames after the mouth
    lags, r = lagged_correlation(mouth, env, max_lag=5)
    assert lags[np.nanargmax(r)] == k
    assert np.nanmax(r) == pytest.approx(1.0, abs=0.05)


def test_identical_curves_are_perfect_and_sync_from_audio():
    mouth = _speechlike(150)
    env_lin = 0.01 * 10 ** mouth  # dB envelope proportional to the opening (20 dB span)
    opening = mouth_opening(_face_track(mouth))
    got = lip_sync_proxy(opening, speech_envelope(_audio_from_envelope(env_lin), SR, FPS), FPS)
    assert got.lag_frames == 0 and got.peak_corr > 0.95


def test_delayed_audio_is_found_through_the_whole_chain():
    mouth = _speechlike(150, seed=3)
    env_lin = np.roll(0.01 * 10 ** mouth, 3)
    got = lip_sync_proxy(mouth_opening(_face_track(mouth)), speech_envelope(_audio_from_envelope(env_lin), SR, FPS), FPS)
    assert got.lag_frames == 3 and got.lag_s == pytest.approx(3 / FPS)


def test_still_video_scores_low():
    env = speech_envelope(_audio_from_envelope(10 ** (_speechlike(100) * 3 - 2)), SR, FPS)
    still = mouth_opening(_face_track(np.full(100, 0.2)))
    got = lip_sync_proxy(still, env, FPS)
    assert got.peak_corr == 0.0
    assert got.silence_closure == 0.0  # wide open in every silence


def test_silence_and_bilabial_closure():
    n = 50
    opening = np.full(n, 0.3)
    opening[:10] = 0.0  # closed while silent
    opening[30] = 0.01  # one closure inside the first bilabial
    env = np.ones(n)
    env[:20] = 0.0  # frames 10..19 silent but open
    cfg = LipSyncConfig()
    got = lip_sync_proxy(opening, env, FPS, cfg, bilabials_s=np.array([[29 / FPS, 31 / FPS], [40 / FPS, 42 / FPS]]))
    assert got.silent_frames == 20 and got.silence_closure == pytest.approx(0.5)
    assert got.bilabials == 2 and got.bilabial_closure == pytest.approx(0.5)
    none = lip_sync_proxy(opening, env, FPS, cfg)
    assert none.bilabial_closure is None and none.bilabials == 0


def test_lmd_zero_for_identical_and_grows_with_error():
    track = _face_track(_speechlike(20))
    assert landmark_distance(track, track) == 0.0
    other = _face_track(_speechlike(20, seed=5))
    assert landmark_distance(track, other) > 0.1  # only 3 of the 40 lip points move here
    # scale/translation of the whole face do not count
    assert landmark_distance(track, track * 2.0 + 7.0) == pytest.approx(0.0, abs=1e-9)
    # a reference twice as long is sampled at the generated frames
    assert landmark_distance(track[::2], track) < landmark_distance(track[::2], other)


def test_pose_diversity_and_jitter():
    still = np.zeros((30, 3))
    assert pose_diversity(still)["div_deg"] == 0.0
    t = np.arange(30)
    moving = np.stack([10 * np.sin(t / 5), np.zeros(30), np.zeros(30)], axis=1)
    div = pose_diversity(moving)
    assert div["yaw_std_deg"] == pytest.approx(np.std(moving[:, 0]))
    assert div["div_rad"] == pytest.approx(np.deg2rad(div["div_deg"]))
    track = _face_track(np.zeros(30))
    assert landmark_jitter(track) == 0.0
    drift = track + t[:, None, None] * 0.5  # uniform motion: no acceleration
    assert landmark_jitter(drift) == pytest.approx(0.0, abs=1e-9)
    shaky = track + (np.random.default_rng(0).standard_normal((30, 1, 2)) * 2.0)
    assert landmark_jitter(shaky) > 1.0


def test_identity_similarity_oracle():
    rng = np.random.default_rng(0)
    src = rng.standard_normal(128)
    same = identity_similarity(src, np.stack([src, src]))
    assert same["id_sim"] == pytest.approx(1.0) and same["id_distance"] == pytest.approx(0.0)
    other = identity_similarity(src, rng.standard_normal((4, 128)))
    assert other["id_sim"] < 0.5 and other["id_frames"] == 4
    with pytest.raises(InputError):
        identity_similarity(src, np.zeros((2, 64)))


def test_within_identity_variance_and_pca():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 16)) * 10
    labels = [str(k) for k in range(3) for _ in range(10)]
    tight = np.concatenate([c + 0.01 * rng.standard_normal((10, 16)) for c in centres])
    loose = rng.standard_normal((30, 16))
    assert within_identity_variance(tight, labels) < 0.01
    assert within_identity_variance(loose, labels) > 0.7
    proj, ratio = pca_2d(tight)
    assert proj.shape == (30, 2) and ratio.sum() > 0.95


def test_gender_agreement():
    assert gender_agrees(110.0, "male") is True
    assert gender_agrees(110.0, "female") is False
    assert gender_agrees(210.0, "female") is True
    assert gender_agrees(160.0, "female") is False  # ambiguous band
    assert gender_agrees(200.0, "unknown") is None


def test_frechet_distance_oracles():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((40, 64))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    shifted = frechet_distance(a, a + 3.0)
    assert shifted == pytest.approx(64 * 9.0, rel=1e-6)  # mean shift only
    # small-sample (Gram) and large-sample (covariance) routes agree
    big_a, big_b = rng.standard_normal((80, 8)), 1.5 * rng.standard_normal((90, 8)) + 0.2
    from facespeak.eval.metrics import fid as fid_mod

    ac, bc = big_a - big_a.mean(0), big_b - big_b.mean(0)
    small = fid_mod._trace_sqrt_product_small(ac, bc)
    large = fid_mod._trace_sqrt_product_large(ac.T @ ac / 79, bc.T @ bc / 89)
    assert small == pytest.approx(large, rel=1e-6)


def test_fid_of_real_frames_with_themselves_is_zero():
    from facespeak.eval.features import inception_features

    from face_photos import head

    frames = np.stack([np.roll(head(0.5), 3 * k, axis=1) for k in range(3)])
    feats = inception_features(frames)
    assert feats.shape == (3, 2048)
    assert frechet_distance(feats, feats) < 1e-6
    noise = np.random.default_rng(0).integers(0, 255, frames.shape, dtype=np.uint8)
    assert frechet_distance(feats, inception_features(noise)) > 50.0

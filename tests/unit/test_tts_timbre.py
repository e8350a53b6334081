"""Formant and pitch shifts (mel domain) and the face-to-timbre map (facespeak.tts.timbre)."""

import numpy as np
import pytest
import torch

from facespeak.core.errors import CheckpointError, InputError
from facespeak.core.timing import MelSpec
from facespeak.pipeline import SpeechOptions
from facespeak.tts.timbre import DEFAULT_LIFTER, TimbreMap, _dct_matrix, _mel_centres, shift_matrix, shift_voice

SPEC = MelSpec()
CENTRES = _mel_centres(SPEC)


def _frame_with_formant(hz: float, ripple: float = 0.0) -> torch.Tensor:
    """Log-mel (1, 80, 3): a smooth bump (a formant) at ``hz`` on a flat floor, plus an
    alternating +-ripple (fine structure, the highest DCT quefrency)."""
    bins = np.arange(SPEC.n_mels)
    peak = np.interp(hz, CENTRES, bins)
    x = -6.0 + 4.0 * np.exp(-0.5 * ((bins - peak) / 3.0) ** 2) + ripple * (-1.0) ** bins
    return torch.tensor(np.repeat(x[None, :, None], 3, axis=2), dtype=torch.float32)


def _peak_hz(mel: torch.Tensor) -> float:
    return float(CENTRES[int(mel[0, :, 0].argmax())])


def test_zero_shift_is_the_identity():
    assert torch.allclose(shift_matrix(0.0), torch.eye(SPEC.n_mels), atol=1e-5)
    mel = torch.randn(2, SPEC.n_mels, 7)
    assert shift_voice(mel, 0.0) is mel


@pytest.mark.parametrize("hz,cents", [(700.0, 300.0), (1500.0, -300.0), (2500.0, 200.0)])
def test_the_envelope_moves_by_the_asked_interval(hz, cents):
    out = shift_voice(_frame_with_formant(hz), cents)
    moved = _peak_hz(out)
    want = hz * 2 ** (cents / 1200)
    # mel bins are 35-150 Hz apart in this range: within one bin of the target
    spacing = np.diff(CENTRES)[int(np.searchsorted(CENTRES, want)) - 1]
    assert abs(moved - want) <= 1.01 * spacing, (moved, want)
    assert (moved > hz) == (cents > 0)


def test_fine_structure_is_kept_in_place():
    """Harmonic ripple (high DCT quefrency) is not warped: only the envelope moves."""
    src = _frame_with_formant(1000.0, ripple=0.3)
    out = shift_voice(src, 250.0)
    d = torch.tensor(_dct_matrix(SPEC.n_mels), dtype=torch.float32)
    p = d[:DEFAULT_LIFTER].T @ d[:DEFAULT_LIFTER]  # envelope projector
    env, fine = torch.einsum("kj,bjt->bkt", p, src), src - torch.einsum("kj,bjt->bkt", p, src)
    # output = warped envelope + the input's own fine structure, untouched
    assert torch.allclose(out - shift_voice(env, 250.0), fine, atol=1e-5)
    # the ripple (last DCT coefficient) keeps its strength; the envelope moved
    assert float((d @ out[0, :, 0])[-1]) == pytest.approx(float((d @ src[0, :, 0])[-1]), rel=0.02)
    assert _peak_hz(out) > 1100.0


def _harmonics(f0: float, hz: float = 1000.0) -> torch.Tensor:
    """Log-mel (1, 80, 3) of a harmonic spectrum at ``f0`` under a formant bump at ``hz``:
    each mel band takes the log of its summed triangle-weighted harmonic power."""
    from facespeak.audio.mel import slaney_band_edges_hz

    edges = slaney_band_edges_hz(SPEC.n_mels, SPEC.fmin, SPEC.fmax)
    h = np.arange(1, int(SPEC.fmax // f0)) * f0
    power = np.exp(2.0 * np.exp(-0.5 * ((h - hz) / 400.0) ** 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    tri = np.clip(np.minimum((h - lo) / (mid - lo), (hi - h) / (hi - mid)), 0, None)
    x = np.log(tri @ power + 1e-4)
    return torch.tensor(np.repeat(x[:, None], 3, axis=1)[None], dtype=torch.float32)


def test_pitch_shift_moves_the_harmonics_and_not_the_envelope():
    """The fine-structure warp (pitch_cents) turns the mel of harmonics at 200 Hz into one much
    closer to 200 * 2^(300/1200) Hz than to 200 Hz in the low bands (where harmonics are resolved)."""
    src, want = _harmonics(200.0), _harmonics(200.0 * 2 ** (300 / 1200))
    out = shift_voice(src, 0.0, pitch_cents=300.0)
    low = slice(0, 14)  # below ~1 kHz: bands narrower than the harmonic spacing
    assert float((out - want)[0, low].abs().mean()) < 0.5 * float((src - want)[0, low].abs().mean())
    # the envelope (low DCT quefrencies) stays: the formant does not move
    d = torch.tensor(_dct_matrix(SPEC.n_mels), dtype=torch.float32)[:DEFAULT_LIFTER]
    env_in, env_out = d.T @ (d @ src[0, :, 0]), d.T @ (d @ out[0, :, 0])
    formant = slice(0, 40)  # below ~3 kHz (wider bands above sum more harmonics)
    assert abs(int(env_in[formant].argmax()) - int(env_out[formant].argmax())) <= 1
    # both shifts together equal the matrix W_f P + W_p (I - P)
    both = shift_voice(src, 150.0, pitch_cents=-200.0)
    assert torch.allclose(both[0], shift_matrix(150.0, pitch_cents=-200.0) @ src[0], atol=1e-5)
    assert shift_voice(src, 0.0, pitch_cents=0.0) is src


def test_batch_of_shifts_equals_one_by_one():
    mel = torch.randn(3, SPEC.n_mels, 5)
    cents = torch.tensor([-200.0, 0.0, 150.0])
    both = shift_voice(mel, cents)
    for i in range(3):
        assert torch.allclose(both[i:i + 1], shift_voice(mel[i:i + 1], float(cents[i])), atol=1e-5)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="expected"):
        shift_voice(torch.zeros(SPEC.n_mels, 5), 100.0)
    with pytest.raises(ValueError, match="cents"):
        shift_voice(torch.zeros(2, SPEC.n_mels, 5), torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="lifter"):
        shift_matrix(100.0, lifter=0)


def _population(n_per_gender: int = 9, dim: int = 32, views: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    feats, person, gender = [], [], []
    for p in range(2 * n_per_gender):
        centre = rng.normal(size=dim) + (3.0 if p < n_per_gender else -3.0) * (np.arange(dim) == 0)
        feats.append(centre + 0.05 * rng.normal(size=(views, dim)))
        person += [p] * views
        gender += [1.0 if p < n_per_gender else -1.0] * views
    return np.concatenate(feats), np.array(person), np.array(gender), rng


def test_map_is_deterministic_bounded_and_spreads_new_faces():
    feats, person, gender, rng = _population()
    m = TimbreMap.fit(feats, person, gender, k=3, max_cents=300.0)
    assert m.persons == (9, 9)
    new = rng.normal(size=(40, feats.shape[1]))
    cents = np.array([m.cents(v, 1.0) for v in new])
    assert np.all(np.abs(cents) <= 300.0)
    assert cents.std() > 60.0  # new faces get different timbres, not one average
    assert m.cents(new[0], 1.0) == m.cents(new[0].copy(), 1.0)
    # a face's own views (small noise) stay close together
    views = new[0] + 0.02 * rng.normal(size=(10, feats.shape[1]))
    assert np.ptp([m.cents(v, 1.0) for v in views]) < 30.0
    # the gender score picks the population: same face, other gender's axis
    assert m.cents(new[0], 1.0) != m.cents(new[0], -1.0)
    # scale-free input (standardised like the TTS's LayerNorm)
    assert m.cents(3.0 * new[1] + 2.0, 1.0) == pytest.approx(m.cents(new[1], 1.0), abs=1e-3)


def test_map_save_load_round_trip(tmp_path):
    feats, person, gender, rng = _population()
    m = TimbreMap.fit(feats, person, gender, k=3)
    m.save(tmp_path / "t.safetensors")
    back = TimbreMap.load(tmp_path / "t.safetensors")
    v = rng.normal(size=feats.shape[1])
    assert back.cents(v, -1.0) == pytest.approx(m.cents(v, -1.0), abs=1e-3)
    assert back.persons == m.persons and back.max_cents == m.max_cents


def test_map_refuses_too_few_persons_and_other_files(tmp_path):
    feats, person, gender, _ = _population(n_per_gender=4)
    with pytest.raises(InputError, match="need >= 5"):
        TimbreMap.fit(feats, person, gender, k=3)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="timbre map"):
        TimbreMap.load(junk)
    with pytest.raises(CheckpointError, match="timbre map"):
        TimbreMap.load(tmp_path / "missing.safetensors")


def test_speech_options_bound_the_shift():
    SpeechOptions(formant_shift=-600.0).validate()
    SpeechOptions(formant_shift=None).validate()
    with pytest.raises(InputError, match="formant shift: expected -600..600 cents"):
        SpeechOptions(formant_shift=601.0).validate()
    with pytest.raises(InputError, match="formant shift"):
        SpeechOptions(formant_shift=float("nan")).validate()


def test_speech_options_bound_the_pitch_shift():
    SpeechOptions(pitch_shift=-600.0).validate()
    with pytest.raises(InputError, match="pitch shift: expected -600..600 cents"):
        SpeechOptions(pitch_shift=601.0).validate()
    with pytest.raises(InputError, match="pitch shift"):
        SpeechOptions(pitch_shift=float("nan")).validate()

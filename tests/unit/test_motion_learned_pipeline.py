"""The bundled audio mapper + motion sampler inside ``plan_motion`` (real TTS intermediates)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from facespeak.core.errors import InputError
from facespeak.core.timing import AudioTiming
from facespeak.motion.bundled import learned_motion_available, load_motion_sampler
from facespeak.motion.lip_rules import lip_targets
from facespeak.motion.sampler import generate_motion, window_plan

pytestmark = pytest.mark.skipif(not learned_motion_available(), reason="bundled motion weights not built")


@functools.lru_cache(maxsize=4)
def _speech(text: str):
    from facespeak.pipeline import FaceSpeak, SpeechOptions, _speech_track
    from facespeak.text import phonemes_to_ids

    torch.set_num_threads(1)
    fs = FaceSpeak.from_bundled()
    from skimage.data import astronaut

    cond = fs.face_condition(astronaut())[2]
    chunks = list(fs.iter_chunks(text, cond, SpeechOptions(steps=2)))
    timing = AudioTiming(fs.mel_spec, 25.0)
    pause = 0.2 * fs.mel_spec.frame_rate
    ids, durs = _speech_track(chunks, pause, phonemes_to_ids(".")[0])
    n = int(np.ceil(sum(durs) / timing.mel_frames_per_video_frame))
    return chunks, ids, durs, timing, n, pause


def _plan(text: str, still: bool, seed: int = 0, motion: str = "learned") -> np.ndarray:
    from facespeak.pipeline import plan_motion

    chunks, ids, durs, timing, n, pause = _speech(text)
    return plan_motion(n, ids, durs, seed, still, timing, chunks=chunks, pause_frames=pause, motion=motion)


def test_mapper_lips_close_on_bilabials_and_silence_and_open_on_vowels():
    text = "Bob made a big map, maybe more."
    chunks, ids, durs, timing, n, _ = _speech(text)
    plan = _plan(text, still=True)
    rules = lip_targets(ids, durs, timing, n_frames=n)
    assert plan.shape == (n, 12)
    bil = rules[:, 1] >= 0.9
    assert bil.sum() >= 4
    assert (plan[bil, 1] >= 0.5).mean() >= 0.8  # lips pressed on p/b/m
    assert plan[[0, -1], 0].max() <= 0.15  # silence at both ends: jaw closed
    assert plan[:, 0].max() >= 0.4  # vowels open the jaw
    assert np.abs(plan[:, 7:]).max() == 0 and np.abs(plan[:, 4:7]).max() == 0  # still: no head, blinks, brows


def test_learned_head_motion_is_seeded_sized_and_diverse():
    text = "The wind turned the old sails, and the ship moved slowly across the bay toward the harbour lights."
    a, b, c = _plan(text, False, 1), _plan(text, False, 1), _plan(text, False, 2)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a[:, 7:10] - c[:, 7:10]).mean() > 0.1
    sd = a[10:, 7:10].std(0)  # after the ease-in
    assert (sd > 0.3).all() and (sd < 10).all(), sd
    np.testing.assert_allclose(a[0, 7:], 0, atol=1e-9)  # frame 0 is the photo's own pose


def test_head_motion_scales_the_pose_and_quiet_frames_rest_the_lips():
    from facespeak.motion.lip_rules import SILENCE_TARGET
    from facespeak.pipeline import plan_motion

    text = "The wind turned the old sails."
    chunks, ids, durs, timing, n, pause = _speech(text)

    def plan(**kw):
        return plan_motion(n, ids, durs, 3, False, timing, chunks=chunks, pause_frames=pause, motion="learned", **kw)

    base, double, none = plan(), plan(head_motion=2.0), plan(head_motion=0.0)
    np.testing.assert_allclose(double[:, 7:], 2.0 * base[:, 7:], atol=1e-9)
    assert np.abs(none[:, 7:]).max() == 0 and np.abs(base[:, 7:10]).max() > 0.1
    np.testing.assert_allclose(double[:, :7], base[:, :7])  # lips, blinks, brows untouched
    level = np.zeros(n)
    level[n // 2:] = -60.0  # the second half of the clip is silent
    gated = plan(level_db=level)
    np.testing.assert_allclose(gated[: n // 2, :4], base[: n // 2, :4])
    np.testing.assert_allclose(gated[n // 2:, :4], np.tile(SILENCE_TARGET, (n - n // 2, 1)))


def test_windowed_generation_has_no_seams():
    sampler = load_motion_sampler()
    cfg = sampler.cfg
    cond = sampler.cond_mean.repeat(1, 300, 1) + 0.5 * torch.randn(1, 300, cfg.d_cond, generator=torch.Generator().manual_seed(0))
    joins = [known_end for _, known_end, _ in window_plan(300, cfg.window, cfg.context)[1:]]
    assert len(joins) >= 10
    ratios = []
    for seed in range(4):
        pose = generate_motion(sampler, cond, torch.Generator().manual_seed(seed))[0, :, :3].numpy()
        acc = np.abs(np.diff(pose, 2, axis=0)).sum(1)  # acc[k] centred on frame k + 1
        at_joins = np.concatenate([acc[j - 2:j + 1] for j in joins])
        ratios.append(at_joins.mean() / acc.mean())
    assert np.mean(ratios) < 1.3, ratios  # independent windows without context score ~2.2


def test_rules_mode_and_bad_modes():
    text = "Hello there."
    plan = _plan(text, still=False, motion="rules")
    assert plan.shape[1] == 12 and np.isfinite(plan).all()
    with pytest.raises(InputError):
        _plan(text, still=False, motion="dance")
    from facespeak.pipeline import plan_motion

    _, ids, durs, timing, n, _ = _speech(text)
    with pytest.raises(InputError):
        plan_motion(n, ids, durs, 0, False, timing, motion="learned")

"""Articulation: the jaw opening scaled to the renderer's jaw (facespeak.motion.articulation), in
`say`'s stream and in the one-shot plan."""

from __future__ import annotations

import numpy as np
import pytest

from facespeak.core.errors import InputError
from facespeak.motion.articulation import JAW_GAIN, ArticulationConfig, articulate
from facespeak.motion.lip_rules import SILENCE_TARGET


def _lips(n: int = 60) -> np.ndarray:
    rng = np.random.default_rng(0)
    lips = rng.uniform(0.0, 0.3, (n, 4))
    lips[:, 0] = 0.25 + 0.2 * np.sin(2 * np.pi * np.arange(n) / 8.0)
    return lips


def test_the_jaw_is_scaled_and_clipped_and_nothing_else_changes():
    lips = _lips()
    lips[5, 0] = 0.9
    out = articulate(lips, ArticulationConfig(gain=1.5))
    np.testing.assert_array_equal(out[:, 1:], lips[:, 1:])  # closure (p/b/m, rest), rounding, spreading
    np.testing.assert_allclose(out[:, 0], np.minimum(1.5 * lips[:, 0], 1.0))
    assert out[5, 0] == 1.0 and out is not lips
    np.testing.assert_array_equal(articulate(lips, ArticulationConfig(gain=1.0)), lips)
    # the rest pose and a bilabial closure (jaw 0) stay as they are
    shut = np.array([SILENCE_TARGET, (0.0, 1.0, 0.0, 0.0)])
    np.testing.assert_array_equal(articulate(shut), shut)


def test_the_default_opens_the_jaw_wider():
    lips = _lips()
    assert JAW_GAIN > 1.0
    assert (articulate(lips)[:, 0] >= lips[:, 0]).all() and articulate(lips)[:, 0].mean() > 1.2 * lips[:, 0].mean()


def test_bad_shapes_and_gains_raise():
    with pytest.raises(InputError):
        articulate(np.zeros((5, 3)))
    with pytest.raises(InputError):
        articulate(np.zeros((5, 4)), ArticulationConfig(gain=0.0))


def test_the_stream_articulates_the_lips_it_releases_but_samples_head_motion_from_the_mappers():
    import torch

    from facespeak.motion.audio_mapper import AudioMapper, AudioMapperConfig
    from facespeak.motion.conformer import ConformerConfig
    from facespeak.motion.normaliser import MotionNormaliserConfig
    from facespeak.motion.sampler import MotionSampler, MotionSamplerConfig
    from facespeak.motion.streaming import MotionStream, StreamMotionConfig

    torch.manual_seed(0)
    mapper = AudioMapper(AudioMapperConfig.tiny()).eval()
    sampler = MotionSampler(MotionSamplerConfig(normaliser=MotionNormaliserConfig(d_code=4, hidden=8, kernel=5, layers=2),
                                                prior=ConformerConfig.tiny(), estimator=ConformerConfig.tiny(),
                                                window=32, context=8, steps=2)).eval()
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(90, mapper.cfg.d_in)).astype(np.float32)
    rms = np.full(90, 0.1)  # loud throughout

    def run(art: ArticulationConfig, gate: bool = False) -> tuple[np.ndarray, np.ndarray]:
        ms = MotionStream(mapper, sampler, 3, StreamMotionConfig(gate=gate, articulation=art))
        outs = [ms.push(feats[a:b], rms[a:b]) for a, b in ((0, 40), (40, 90))] + [ms.finish()]
        return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])

    plain_lips, plain_nonlip = run(ArticulationConfig(gain=1.0))
    lips, nonlip = run(ArticulationConfig(gain=1.5))
    np.testing.assert_array_equal(nonlip, plain_nonlip)  # the sampler's condition is the mapper's lips
    np.testing.assert_allclose(lips, articulate(plain_lips, ArticulationConfig(gain=1.5)))
    default_lips, _ = run(ArticulationConfig())
    np.testing.assert_allclose(default_lips, articulate(plain_lips))  # say's default articulates


def test_the_one_shot_plan_articulates_before_the_gate():
    from facespeak.core.timing import AudioTiming
    from facespeak.motion.lip_rules import lip_targets
    from facespeak.pipeline import plan_motion
    from facespeak.text.symbols import intersperse_blank, phonemes_to_ids

    timing = AudioTiming()
    ids = intersperse_blank(phonemes_to_ids("ɑmɑ"))
    durs = np.full(len(ids), 0.1 * timing.mel.frame_rate)
    n = 20
    rules = lip_targets(ids, durs, timing, n_frames=n)
    plan = plan_motion(n, list(ids), durs, 0, True, timing, motion="rules")
    np.testing.assert_allclose(plan[:, :4], articulate(rules))
    level = np.zeros(n)
    level[-5:] = -60.0  # the end is silent: the gate rests the articulated lips there
    gated = plan_motion(n, list(ids), durs, 0, True, timing, motion="rules", level_db=level)
    np.testing.assert_allclose(gated[:-5, :4], articulate(rules)[:-5])
    np.testing.assert_allclose(gated[-5:, :4], np.tile(SILENCE_TARGET, (5, 1)))

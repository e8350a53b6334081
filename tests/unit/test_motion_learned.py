"""Audio mapper, motion normaliser, Conformer and OT-CFM motion sampler (issue 3, items 3-5)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from facespeak.core.errors import InputError
from facespeak.core.timing import AudioTiming, MelSpec
from facespeak.motion.audio_mapper import (AudioMapper, AudioMapperConfig, concat_speech_features, mapper_inputs,
                                           upsample_text, video_rate_features)
from facespeak.motion.conformer import Conformer, ConformerConfig
from facespeak.motion.normaliser import MotionNormaliser, MotionNormaliserConfig
from facespeak.motion.sampler import (MotionSampler, MotionSamplerConfig, SamplingOptions, _sample_window,
                                      generate_codes, generate_motion, window_plan)

TIMING = AudioTiming(MelSpec(), 25.0)


def _all_grads(model: torch.nn.Module) -> list[str]:
    return [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().sum() == 0]


# --- audio mapper inputs -----------------------------------------------------------------------

def test_upsample_text_repeats_by_durations_and_keeps_total():
    e_t = np.arange(6, dtype=np.float32).reshape(2, 3)
    up = upsample_text(e_t, [1.4, 2.2, 0.9])  # cumulative 1.4, 3.6, 4.5 -> bounds 0, 1, 4, 4 (round half even)
    assert up.shape == (2, 4)
    np.testing.assert_array_equal(up[0], [0, 1, 1, 1])
    with pytest.raises(InputError):
        upsample_text(e_t, [1, 2])


def test_video_rate_pooling_keeps_a_short_event_visible():
    per = TIMING.mel_frames_per_video_frame  # ~3.45 mel frames per video frame
    t_mel = 40
    mu = np.zeros((3, t_mel), np.float32)
    mu[0, 20] = 1.0  # a one-mel-frame event, shorter than a video frame
    e = np.zeros((2, t_mel), np.float32)
    n = int(round(t_mel / per))
    feats = video_rate_features(e, mu, TIMING, n)
    assert feats.shape == (n, 2 + 3 + 1)
    k = int((20 + 0.5) / per)
    assert feats[k, 2] > 0.2 and np.count_nonzero(feats[:, 2]) == 1
    np.testing.assert_allclose(feats[:, -1], feats[:, 2])  # energy = L2 norm of mu_y per frame


def test_concat_speech_features_inserts_pause_frames():
    rng = np.random.default_rng(0)
    parts = [(rng.normal(size=(4, 5)).astype(np.float32), rng.normal(size=(3, 20)).astype(np.float32), [4, 4, 4, 4, 4])] * 2
    pause = 2 * TIMING.mel_frames_per_video_frame * 5
    n = int(np.ceil((40 + pause) / TIMING.mel_frames_per_video_frame))
    feats = concat_speech_features(parts, pause, TIMING, n)
    assert feats.shape == (n, 4 + 3 + 1)
    single = mapper_inputs(*parts[0], TIMING)
    np.testing.assert_allclose(feats[: len(single) - 1], single[:-1], atol=1e-5)


# --- audio mapper network -----------------------------------------------------------------------

def test_mapper_shapes_range_and_gradients():
    cfg = AudioMapperConfig.tiny()
    m = AudioMapper(cfg)
    x = torch.randn(2, 30, cfg.d_in)
    y = m(x)
    assert y.shape == (2, 30, 4) and (y >= 0).all() and (y <= 1).all()
    y.sum().backward()
    assert _all_grads(m) == []
    with pytest.raises(InputError):
        m(torch.randn(2, 30, cfg.d_in + 1))


def test_mapper_batch_equals_single():
    cfg = AudioMapperConfig.tiny()
    m = AudioMapper(cfg).eval()
    x = torch.randn(3, 25, cfg.d_in)
    torch.testing.assert_close(m(x)[1:2], m(x[1:2]))


# --- normaliser / conformer ---------------------------------------------------------------------

def test_normaliser_roundtrip_learns_and_keeps_length():
    torch.manual_seed(0)
    n = MotionNormaliser(MotionNormaliserConfig.tiny())
    t = torch.linspace(0, 6, 40)
    motion = torch.stack([torch.sin(t + k) * (k + 1) for k in range(8)], -1)[None]
    n.set_stats(motion[0].mean(0), motion[0].std(0))
    opt = torch.optim.Adam(n.parameters(), 1e-2)
    first = None
    for _ in range(150):
        loss, code = n.loss(motion)
        first = first if first is not None else float(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert code.shape == (1, 40, 4)
    assert float(loss) < 0.3 * first
    assert n.decode(n.encode(motion)).shape == motion.shape


def test_conformer_batch_equals_single_and_bias_matters():
    torch.manual_seed(0)
    c = Conformer(ConformerConfig.tiny(), 3, 2).eval()
    x = torch.randn(3, 20, 3)
    y = c(x)
    assert y.shape == (3, 20, 2)
    torch.testing.assert_close(y[2:], c(x[2:]))
    assert (c(x, torch.randn(3, 1, 16)) - y).abs().max() > 1e-3  # (a channel-constant bias is normed away)


# --- motion sampler ----------------------------------------------------------------------------

def _sampler() -> MotionSampler:
    torch.manual_seed(0)
    return MotionSampler(MotionSamplerConfig.tiny())


def test_sampler_losses_reach_every_parameter():
    m = _sampler()
    motion, cond = torch.randn(2, 8, 8), torch.randn(2, 8, 5)
    parts = m.losses(motion, cond, torch.Generator().manual_seed(0))
    assert set(parts) == {"ae", "prior", "cfm"} and all(torch.isfinite(v) for v in parts.values())
    sum(parts.values()).backward()
    assert _all_grads(m) == []


def test_sampling_is_seeded_and_seeds_differ():
    m = _sampler().eval()
    cond = torch.randn(1, 20, 5)
    a = generate_motion(m, cond, torch.Generator().manual_seed(3))
    b = generate_motion(m, cond, torch.Generator().manual_seed(3))
    c = generate_motion(m, cond, torch.Generator().manual_seed(4))
    assert a.shape == (1, 20, 8)
    torch.testing.assert_close(a, b)
    assert (a - c).abs().max() > 1e-3
    assert (a[..., 5:] >= 0).all() and (a[..., 5:] <= 1).all()


def test_window_context_is_kept_exactly_and_conditions_the_rest():
    m = _sampler().eval()
    cond = torch.randn(1, 8, 5)
    known = torch.randn(1, 2, 4)
    with torch.no_grad():
        x1 = _sample_window(m, cond, known, torch.Generator().manual_seed(0), 4, 1.0)
        x2 = _sample_window(m, cond, known + 3.0, torch.Generator().manual_seed(0), 4, 1.0)
    torch.testing.assert_close(x1[:, :2], known)
    assert (x1[:, 2:] - x2[:, 2:]).abs().max() > 1e-4  # the generated frames see the context


def test_long_sequences_are_generated_in_windows_of_full_length():
    m = _sampler().eval()
    cond = torch.randn(1, 23, 5)  # window 8, context 2: windows keep 7, then 5 new frames each
    plan = window_plan(23, 8, 2)
    assert plan == [(0, 0, 7), (5, 7, 12), (10, 12, 17), (15, 17, 23)]
    codes = generate_codes(m, cond, torch.Generator().manual_seed(0))
    assert codes.shape == (1, 23, 4) and torch.isfinite(codes).all()
    # the first window is exactly what a single-window call draws with the same generator state,
    # up to the frame that the next window cross-fades (context // 2 = 1 frame before its join)
    first = generate_codes(m, cond[:, :8], torch.Generator().manual_seed(0))
    torch.testing.assert_close(codes[:, :6], first[:, :6])
    assert (codes[:, 6] - first[:, 6]).abs().max() > 1e-6
    with pytest.raises(InputError):
        generate_codes(m, cond, torch.Generator(), SamplingOptions(context=6))


# --- training tasks end to end (tiny data files, tiny models) ------------------------------------

def _write_tiny_data(tmp_path) -> tuple[str, str]:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    d_text, n_mels, lengths = 8, 6, [40, 35, 50, 30]
    n = sum(lengths)
    save_file({"features": rng.normal(size=(n, d_text + n_mels + 1)).astype(np.float16),
               "lips": rng.uniform(size=(n, 4)).astype(np.float32),
               "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
               "heldout": np.array([False, False, False, True])},
              str(tmp_path / "speech.safetensors"),
              metadata={"sentences": json.dumps(["a"] * 4), "video_fps": "25", "mel_rate": "86.1", "d_text": str(d_text), "n_mels": str(n_mels)})
    motion = rng.normal(size=(60, 8)).astype(np.float32)
    save_file({"motion": motion, "offsets": np.array([0, 60], np.int64)}, str(tmp_path / "bank.safetensors"),
              metadata={"fps": "25", "sources": json.dumps(["synthetic"])})
    return str(tmp_path / "speech.safetensors"), str(tmp_path / "bank.safetensors")


def test_tasks_train_export_and_load(tmp_path):
    from facespeak.motion.bundled import load_audio_mapper, load_motion_sampler
    from facespeak.train.loop import train
    from facespeak.train.motion_task import MapperTask, MapperTrainConfig, MotionTask, MotionTrainConfig

    speech, bank = _write_tiny_data(tmp_path)
    mcfg = MapperTrainConfig.tiny()
    mcfg.data.features = speech
    train(MapperTask(mcfg), mcfg.train, tmp_path / "mapper", export_path=tmp_path / "mapper.safetensors", progress=False)
    mapper = load_audio_mapper(str(tmp_path / "mapper.safetensors"))
    assert mapper(torch.randn(1, 12, 15)).shape == (1, 12, 4)

    scfg = MotionTrainConfig.tiny()
    scfg.data.features, scfg.data.bank = speech, bank
    train(MotionTask(scfg), scfg.train, tmp_path / "sampler", export_path=tmp_path / "sampler.safetensors", progress=False)
    sampler = load_motion_sampler(str(tmp_path / "sampler.safetensors"))
    out = generate_motion(sampler, torch.randn(1, 19, 5), torch.Generator().manual_seed(0))
    assert out.shape == (1, 19, 8)


def test_datasets_pad_mask_and_augment(tmp_path):
    from facespeak.data.motion_dataset import (MapperDataset, MotionBank, SamplerDataset, SpeechFeatures,
                                               motion_clip_augment)

    speech, bank = _write_tiny_data(tmp_path)
    data = SpeechFeatures(speech)
    assert data.split(True) == [3]
    ds = MapperDataset(data, data.split(False), length=45, stride=8)
    short = ds[[k for k, (u, s) in enumerate(ds.items) if u == 1][0]]  # 35 frames padded to 45
    assert short["feats"].shape == (45, 15) and short["mask"].sum() == 35
    clip = np.arange(16, dtype=np.float32).reshape(2, 8)
    m = motion_clip_augment(clip, mirror=True, reverse=True)
    np.testing.assert_array_equal(m[0, [0, 2, 3]], -clip[1, [0, 2, 3]])
    np.testing.assert_array_equal(m[0, [5, 6]], clip[1, [6, 5]])
    sd = SamplerDataset(MotionBank.load(bank), data, clip=8)
    item = sd[5]
    assert item["motion"].shape == (8, 8) and item["cond"].shape == (8, 5)
    assert ((item["motion"][:, 5:7] >= 0) & (item["motion"][:, 5:7] <= 1)).all()

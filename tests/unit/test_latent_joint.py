"""Joint stage composed from motion/: mapper pooling, the latent motion space, SyncNet, the total loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facespeak.core.errors import CheckpointError, ConfigError, InputError
from facespeak.core.timing import AudioTiming, MelSpec
from facespeak.motion.audio_mapper import AudioMapper, AudioMapperConfig, pool_to_video, video_rate_features
from facespeak.motion.sampler import MotionSampler, MotionSamplerConfig, SamplingOptions, generate_codes
from facespeak.motion.space import MESH_SPACE, MotionSpace, check_motion_models, generate_space_motion
from facespeak.tfg.latent import LatentTFG, LatentTFGConfig, TFGLossWeights
from facespeak.tfg.latent.motion_space import LatentMotionSpace, latent_condition
from facespeak.tfg.latent.syncnet import SyncNet, SyncNetConfig, mouth_region
from facespeak.tfg.latent.training import ReconstructionObjective
from facespeak.train.tfg_joint import JointObjective, JointStageConfig, size_motion_configs


def _clip(b: int = 2, t: int = 5, size: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, size, size, generator=g) * 2 - 1, torch.rand(b, t, 3, size, size, generator=g) * 2 - 1


def _latent_models(style_dim: int, d_text: int = 8, n_mels: int = 6, window: int = 6):
    j = JointStageConfig.tiny()
    j.tts.encoder.channels, j.tts.n_mels, j.clips.window_frames = d_text, n_mels, window
    size_motion_configs(j, style_dim)
    return AudioMapper(j.mapper), MotionSampler(j.sampler)


@pytest.mark.parametrize("t_mel,n_frames", [(40, 11), (20, 8)])  # the second pads past the speech
def test_pool_to_video_matches_the_inference_pooling(t_mel: int, n_frames: int) -> None:
    timing = AudioTiming(MelSpec(), 25.0)
    g = torch.Generator().manual_seed(0)
    e_t, mu_y = torch.randn(2, t_mel, 5, generator=g), torch.randn(2, t_mel, 4, generator=g)
    got = pool_to_video(e_t, mu_y, n_frames, timing.mel_frames_per_video_frame)
    for b in range(2):
        want = video_rate_features(e_t[b].T.numpy(), mu_y[b].T.numpy(), timing, n_frames)
        np.testing.assert_allclose(got[b].numpy(), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(InputError, match="mu_y"):
        pool_to_video(e_t, mu_y[:, :-1], n_frames, 3.4)


def test_both_spaces_satisfy_the_protocol_and_size_the_models() -> None:
    space = LatentMotionSpace(torch.randn(1, 12))
    assert isinstance(space, MotionSpace) and isinstance(MESH_SPACE, MotionSpace)
    assert (space.lip_dim, space.motion_dim, space.cond_dim) == (12, 12, 24)
    mapper, sampler = _latent_models(12)
    check_motion_models(space, mapper, sampler)
    with pytest.raises(CheckpointError, match="mesh motion space.*mapper outputs 12 \\(expected 4\\)"):
        check_motion_models(MESH_SPACE, mapper, sampler)
    mesh_mapper, mesh_sampler = AudioMapper(AudioMapperConfig.tiny()), MotionSampler(MotionSamplerConfig.tiny())
    check_motion_models(MESH_SPACE, mesh_mapper, mesh_sampler)
    with pytest.raises(CheckpointError, match="latent motion space"):
        check_motion_models(space, mesh_mapper, mesh_sampler)
    lips = torch.randn(2, 7, 12)
    cond = space.sampler_condition(lips, torch.zeros(2, 7, 1))
    assert cond.shape == (2, 7, 24) and torch.equal(cond[:, :, 12:], lips) and torch.equal(cond[1, 3, :12], space.f_id[0])


def test_latent_sizes_follow_the_tfg_and_the_window() -> None:
    j = JointStageConfig.tiny()
    j.clips.window_frames = 8
    size_motion_configs(j, 32)
    m = j.mapper
    assert (m.n_out, m.output, m.d_text, m.n_mels) == (32, "linear", j.tts.encoder.channels, j.tts.n_mels)
    assert (j.sampler.normaliser.d_motion, j.sampler.d_cond, j.sampler.window) == (32, 64, 8)
    j.sampler.context = 6  # 6 + 3 frames do not fit an 8-frame window
    with pytest.raises(ConfigError, match="joint.sampler.context"):
        size_motion_configs(j, 32)


def test_latent_generation_is_seeded_and_starts_at_the_prior() -> None:
    """With a zero velocity the sampler returns the decoded prior mean + noise; the same seed
    gives the same motion."""
    torch.manual_seed(0)
    mapper, sampler = _latent_models(8)
    mapper.eval(), sampler.eval()
    space = LatentMotionSpace(torch.randn(1, 8))
    feats = torch.randn(1, 5, mapper.cfg.d_in)
    a = generate_space_motion(space, mapper, sampler, feats, torch.Generator().manual_seed(3))
    b = generate_space_motion(space, mapper, sampler, feats, torch.Generator().manual_seed(3))
    assert a[0].shape == a[1].shape == (1, 5, 8) and torch.equal(a[1], b[1])
    for p in sampler.estimator.out.parameters():
        torch.nn.init.zeros_(p)
    for p in sampler.time_mlp.parameters():
        torch.nn.init.zeros_(p)
    with torch.no_grad():
        f_lip, got = generate_space_motion(space, mapper, sampler, feats, torch.Generator().manual_seed(5),
                                           SamplingOptions(steps=2))
        mu = sampler.prior_mean(latent_condition(space.f_id, f_lip))
        want = sampler.normaliser.decode(mu + torch.randn(mu.shape, generator=torch.Generator().manual_seed(5)))
    torch.testing.assert_close(got, want)
    codes = generate_codes(sampler, latent_condition(space.f_id, f_lip), torch.Generator().manual_seed(5))
    assert codes.shape == (1, 5, sampler.cfg.normaliser.d_code)


def test_syncnet_embeddings_and_mouth_region() -> None:
    cfg = SyncNetConfig.tiny()
    net = SyncNet(cfg)
    frames = torch.rand(2, cfg.frames, 3, 32, 32)
    mouths = mouth_region(frames, cfg.mouth_size)
    assert mouths.shape == (2, cfg.frames, 3, cfg.mouth_size, cfg.mouth_size)
    a, v = net(mouths, torch.randn(2, cfg.n_mels, cfg.mel_frames))
    assert a.shape == v.shape == (2, cfg.dim)
    torch.testing.assert_close(a.norm(dim=1), torch.ones(2))
    frames[:, :, :, :16] = 9.0  # the upper half is not part of the mouth region
    torch.testing.assert_close(mouth_region(frames, cfg.mouth_size), mouths)


def test_joint_objective_all_terms_and_routing() -> None:
    torch.manual_seed(0)
    tcfg = LatentTFGConfig.tiny()
    scfg = SyncNetConfig.tiny()
    mapper, sampler = _latent_models(tcfg.style_dim, window=scfg.frames)
    sync = SyncNet(scfg).eval().requires_grad_(False)
    tfg = LatentTFG(tcfg)
    g = torch.Generator().manual_seed(1)
    for p in tfg.generator.to_flows.parameters():  # off the identity warp, so f_lip changes frames
        p.data.add_(0.05 * torch.randn(p.shape, generator=g))
    obj = JointObjective(ReconstructionObjective(tfg, TFGLossWeights()), mapper, sampler, sync, sync_frames=scfg.frames)
    source, frames = _clip(t=scfg.frames)
    tts_loss = torch.tensor(1.5, requires_grad=True)
    out = obj(source, frames, torch.randn(2, scfg.frames, mapper.cfg.d_in), tts_loss,
              torch.randn(2, scfg.n_mels, scfg.mel_frames), torch.Generator().manual_seed(0))
    assert set(out.parts) == {"l1", "perceptual", "identity", "g_adv", "d_loss", "sync", "cfm", "motion_ae",
                              "motion_prior", "tts"}
    out.total.backward()
    assert tts_loss.grad == pytest.approx(TFGLossWeights().tts)
    assert out.parts["sync"] > 0 and all(p.grad is None for p in sync.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in mapper.parameters())  # f_lip reaches the lip layers
    dead = [n for n, p in sampler.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert dead == []  # normaliser, prior and velocity network all learn

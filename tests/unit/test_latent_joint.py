"""Joint stage: audio mapper, motion normaliser, prior, OT-CFM, SyncNet expert and the total loss."""

from __future__ import annotations

import pytest
import torch

from facespeak.tfg.latent import LatentTFG, LatentTFGConfig, TFGLossWeights
from facespeak.tfg.latent.joint import JointConfig, JointObjective, MotionSampler, joint_motion_losses, resample_time
from facespeak.tfg.latent.syncnet import SyncNet, SyncNetConfig, mouth_region
from facespeak.tfg.latent.training import ReconstructionObjective


def _clip(b: int = 2, t: int = 5, size: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, size, size, generator=g) * 2 - 1, torch.rand(b, t, 3, size, size, generator=g) * 2 - 1


def test_resample_time_keeps_constants_and_length() -> None:
    x = torch.full((2, 40, 3), 2.5)
    y = resample_time(x, 10)
    assert y.shape == (2, 10, 3) and torch.allclose(y, torch.full_like(y, 2.5))


def test_motion_losses_shapes_and_gradients() -> None:
    torch.manual_seed(0)
    cfg = JointConfig.tiny()
    s = MotionSampler(cfg)
    f_id, f_m = torch.randn(2, cfg.d_style), torch.randn(2, 6, cfg.d_style)
    e_t, mu_y = torch.randn(2, 24, cfg.d_text), torch.randn(2, 24, cfg.n_mels)
    out = joint_motion_losses(s, f_id, f_m, e_t, mu_y, torch.Generator().manual_seed(1))
    assert out.f_lip.shape == (2, 6, cfg.d_style)
    (out.motion_ae + out.motion_prior + out.cfm + out.f_lip.square().mean()).backward()
    dead = [n for n, p in s.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert dead == []
    # sampling is seeded and gives motion of the right shape
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    with torch.no_grad():
        a, b = s.sample(f_id, out.f_lip.detach(), g1), s.sample(f_id, out.f_lip.detach(), g2)
    assert a.shape == f_m.shape and torch.equal(a, b)


def test_prior_mean_is_the_cfm_start() -> None:
    """With a zero velocity the sampler returns the decoded prior mean + noise."""
    torch.manual_seed(0)
    cfg = JointConfig.tiny()
    s = MotionSampler(cfg)
    for p in s.velocity.out.parameters():
        torch.nn.init.zeros_(p)
    f_id, f_lip = torch.randn(1, cfg.d_style), torch.randn(1, 4, cfg.d_style)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        got = s.sample(f_id, f_lip, g)
        cond = torch.cat([f_id[:, None].expand_as(f_lip), f_lip], -1)
        mu = s.prior(cond).transpose(1, 2)
        want = s.normaliser.decode((mu + torch.randn(mu.shape, generator=torch.Generator().manual_seed(5))).transpose(1, 2))
    torch.testing.assert_close(got, want)


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
    jcfg = JointConfig.tiny()
    jcfg.d_style = tcfg.style_dim
    scfg = SyncNetConfig.tiny()
    sync = SyncNet(scfg).eval().requires_grad_(False)
    obj = JointObjective(ReconstructionObjective(LatentTFG(tcfg), TFGLossWeights()), MotionSampler(jcfg), sync,
                         sync_frames=scfg.frames)
    source, frames = _clip(t=scfg.frames)
    tts_loss = torch.tensor(1.5, requires_grad=True)
    out = obj(source, frames, torch.randn(2, 20, jcfg.d_text), torch.randn(2, 20, jcfg.n_mels), tts_loss,
              torch.randn(2, scfg.n_mels, scfg.mel_frames), torch.Generator().manual_seed(0))
    assert set(out.parts) == {"l1", "perceptual", "identity", "g_adv", "d_loss", "sync", "cfm", "motion_ae",
                              "motion_prior", "tts"}
    out.total.backward()
    assert tts_loss.grad == pytest.approx(TFGLossWeights().tts)
    assert out.parts["sync"] > 0 and all(p.grad is None for p in sync.parameters())
    mapper_grads = [p.grad for p in obj.sampler.mapper.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in mapper_grads)  # f_lip reaches the lip layers

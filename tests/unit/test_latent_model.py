"""Latent TFG (LIA-style): shapes, orthonormal basis, lip routing, gradients, losses, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facespeak.core.errors import ConfigError, InputError
from facespeak.tfg.latent import Discriminator, LatentTFG, LatentTFGConfig, TFGLossWeights
from facespeak.tfg.latent.losses import FeatureStack, identity_loss, perceptual_loss, sync_loss
from facespeak.tfg.latent.training import ReconstructionObjective


def _images(b: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, size, size, generator=g) * 2 - 1


def _trained_like(model: LatentTFG) -> LatentTFG:
    """Flow heads start at exactly the identity warp (zero weights), which hides the latents'
    effect; give them the small random weights any training step (or LIA import) gives."""
    with torch.no_grad():
        for head in model.generator.to_flows:
            head.conv.weight.normal_(0.0, 0.3)
    return model


@pytest.fixture(scope="module")
def tiny() -> LatentTFG:
    torch.manual_seed(0)
    return _trained_like(LatentTFG(LatentTFGConfig.tiny()))


def test_flow_heads_start_at_identity_warp() -> None:
    torch.manual_seed(0)
    model = LatentTFG(LatentTFGConfig.tiny())
    src = model.encode(_images(1))
    with torch.no_grad():  # no flow at init: the motion cannot change the frame yet
        a, b = model.decode(src, src.f_m), model.decode(src, src.f_m + 5.0)
    torch.testing.assert_close(a, b)


def test_encode_shapes_and_f_id_definition(tiny: LatentTFG) -> None:
    cfg = tiny.cfg
    enc = tiny.encode(_images(3))
    assert enc.f.shape == (3, cfg.style_dim) and enc.alpha.shape == (3, cfg.motion_dim)
    torch.testing.assert_close(enc.f_id, enc.f - enc.f_m)
    torch.testing.assert_close(enc.f_m, enc.alpha @ tiny.basis.directions().T)
    assert [m.shape[-1] for m in enc.maps] == [2**k for k in range(3, cfg.log_size + 1)]
    out = tiny(_images(3), _images(3, seed=1))
    assert out.shape == (3, 3, cfg.size, cfg.size) and torch.isfinite(out).all()


def test_basis_is_orthonormal_before_and_after_training_steps() -> None:
    torch.manual_seed(1)
    model = LatentTFG(LatentTFGConfig.tiny())
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(3):
        d = model.basis.directions()
        torch.testing.assert_close(d.T @ d, torch.eye(d.shape[1]), atol=1e-5, rtol=0)
        model(_images(2), _images(2, seed=2)).square().mean().backward()
        opt.step()
        opt.zero_grad()


def test_batch_invariance(tiny: LatentTFG) -> None:
    src, drv = _images(3), _images(3, seed=5)
    with torch.no_grad():
        whole = tiny(src, drv)
        single = torch.cat([tiny(src[i:i + 1], drv[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(whole, single, atol=1e-5, rtol=1e-4)


def test_lip_latents_reach_only_the_configured_layers(tiny: LatentTFG) -> None:
    cfg = tiny.cfg
    f_id, f_m, f_lip = torch.zeros(1, cfg.style_dim), torch.ones(1, cfg.style_dim), torch.full((1, cfg.style_dim), 7.0)
    lat = tiny.layer_latents(f_id, f_m, f_lip)[0, :, 0]
    lip = set(cfg.lip_layers)
    assert lip and len(lip) < cfg.n_latent
    assert all(lat[i] == (7.0 if i in lip else 1.0) for i in range(cfg.n_latent))
    assert {cfg.layer_resolution(i) for i in lip} == {cfg.size // d for d in cfg.lip_divisors}
    # and f_lip actually changes the picture only through those layers
    src = tiny.encode(_images(1))
    with torch.no_grad():
        a = tiny.decode(src, src.f_m)
        b = tiny.decode(src, src.f_m, src.f_m + 3.0)
    assert (a - b).abs().max() > 1e-3


def test_config_presets_and_validation() -> None:
    assert LatentTFGConfig.paper().size == 256 and LatentTFGConfig.paper().style_dim == 512
    assert LatentTFGConfig.paper().motion_dim == 20
    assert LatentTFGConfig.paper().lip_layers == tuple(range(7, 13))  # the 32 and 64 px blocks
    tiny_params = sum(p.numel() for p in LatentTFG(LatentTFGConfig.tiny()).parameters())
    assert 10_000 < tiny_params < 100_000
    with pytest.raises(ConfigError):
        LatentTFGConfig(size=48)
    with pytest.raises(ConfigError):
        LatentTFGConfig(size=32, lip_divisors=(16,))


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(3)
    cfg = LatentTFGConfig.tiny()
    obj = ReconstructionObjective(_trained_like(LatentTFG(cfg)), TFGLossWeights(r1=1.0))
    out = obj(_images(4), _images(4, seed=9))
    out.total.backward()
    # the last MLP bias shifts alpha of source and driving alike: f_id + D alpha_drv cancels it
    exempt = {f"tfg.motion.net.{cfg.mlp_layers}.bias"}
    dead = [n for n, p in obj.named_parameters() if n not in exempt and (p.grad is None or p.grad.abs().sum() == 0)]
    assert dead == []
    assert set(out.parts) >= {"l1", "g_adv", "d_loss", "r1"}


def test_gan_gradients_are_routed_to_their_own_network() -> None:
    torch.manual_seed(4)
    cfg = LatentTFGConfig.tiny()
    w = TFGLossWeights(reconstruction=0.0, identity=0.0)
    obj = ReconstructionObjective(LatentTFG(cfg), w)
    src, drv = _images(2), _images(2, seed=3)
    fake = obj.tfg(src, drv)
    g_adv, d_loss, _ = obj.adversarial(fake, drv)
    g_adv.backward(retain_graph=True)
    assert all(p.grad is None for p in obj.disc.parameters())  # generator term leaves D alone
    obj.zero_grad()
    d_loss.backward()
    assert all(p.grad is None for p in obj.tfg.parameters())  # D term leaves G alone
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in obj.disc.parameters())


def test_discriminator_batch_std_groups_are_contiguous() -> None:
    torch.manual_seed(0)
    disc = Discriminator(LatentTFGConfig.tiny())
    x = _images(4)
    with torch.no_grad():
        whole = disc(x)
        halves = torch.cat([disc(x[:2]), disc(x[2:])])  # what 2 DDP ranks with 2 each compute
    assert whole.shape == (4,)
    torch.testing.assert_close(whole, halves, atol=1e-5, rtol=1e-4)  # DDP ranks see the same groups
    with torch.no_grad():
        y = x.clone()
        y[1] = -y[1]  # changing a sample moves its group's logits, not the other group's
        moved = disc(y)
    assert (moved[2:] - whole[2:]).abs().max() < 1e-5 and (moved[0] - whole[0]).abs() > 1e-6


def test_feature_losses_closed_form() -> None:
    a = torch.randn(2, 8, 4, 4)
    assert perceptual_loss([a], [a]).item() == pytest.approx(0.0, abs=1e-6)
    assert perceptual_loss([a], [2 * a]).item() == pytest.approx(0.0, abs=1e-5)  # channel-normalised
    assert perceptual_loss([a], [-a]).item() == pytest.approx(4.0, rel=1e-3)
    assert identity_loss(a, a).item() == pytest.approx(0.0, abs=1e-6)
    e = torch.randn(3, 16)
    assert sync_loss(e, e).item() == pytest.approx(0.0, abs=1e-5)
    assert sync_loss(e, -e).item() > 10.0


def test_feature_stack_taps_and_frozen() -> None:
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    stack = FeatureStack([("a", conv), ("b", torch.nn.ReLU()), ("c", torch.nn.Identity())], taps=("a", "b"), min_size=16)
    out = stack(torch.randn(1, 3, 8, 8))
    assert [o.shape for o in out] == [(1, 4, 16, 16)] * 2 and len(stack.layers) == 2
    assert not any(p.requires_grad for p in conv.parameters())


def test_renderer_reproduces_source_motion_and_validates() -> None:
    from facespeak.tfg.latent.renderer import LatentRenderConfig, LatentRenderer

    class _Face:  # only what align_face reads: alignment points and image size
        image_size = (64, 64)

        @staticmethod
        def point(group: str) -> np.ndarray:
            return {"right_eye_corners": np.array([24.0, 28, 0]), "left_eye_corners": np.array([40.0, 28, 0]),
                    "mouth_corners": np.array([32.0, 44, 0])}[group]

    torch.manual_seed(0)
    model = _trained_like(LatentTFG(LatentTFGConfig.tiny()))
    img = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    r = LatentRenderer(img, _Face(), model, LatentRenderConfig.tiny())
    frames = list(r.render(np.stack([r.source_alpha] * 3)))
    assert len(frames) == 3 and frames[0].shape == (32, 32, 3) and frames[0].dtype == np.uint8
    assert np.array_equal(frames[0], frames[2])  # pure function of the motion frame
    moved = r.render_frame(r.source_alpha + 5.0)
    assert np.abs(moved.astype(int) - frames[0]).max() > 0
    with pytest.raises(InputError):
        list(r.render(np.zeros((2, r.motion_dim + 1))))
    # motion codes (the joint sampler's f_m): the source's own code renders the source's motion
    codes = list(r.render_codes(np.stack([r.f - r.f_id] * 3), np.stack([r.f - r.f_id] * 3)))
    assert len(codes) == 3 and np.abs(codes[0].astype(int) - frames[0]).max() <= 1
    with pytest.raises(InputError, match="D_style"):
        list(r.render_codes(np.zeros((2, model.cfg.style_dim)), np.zeros((3, model.cfg.style_dim))))


def test_to_rgb_starts_small():
    """ToRGB skips start at ~0.1 of a unit-variance output: at full scale the summed skips were
    ~2x the frames and the first CPU steps closed the fine-scale masks (docs/latent_tfg.md)."""
    from facespeak.tfg.latent.layers import ToRGB

    torch.manual_seed(0)
    layer = ToRGB(32)
    x = torch.randn(4, 32, 8, 8)
    out = layer(x)
    assert out.shape == (4, 3, 8, 8)
    assert 0.01 < float(out.std()) < 0.3

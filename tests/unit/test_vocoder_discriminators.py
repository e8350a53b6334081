"""Discriminators and GAN losses: shapes, folding, closed-form loss values, gradient flow."""

from __future__ import annotations

import torch

from facespeak.vocoder.discriminators import (
    DiscriminatorConfig,
    PeriodDiscriminator,
    ResolutionDiscriminator,
    WaveDiscriminators,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)


def test_every_discriminator_scores_each_batch_row_independently() -> None:
    torch.manual_seed(0)
    disc = WaveDiscriminators(DiscriminatorConfig.tiny()).eval()
    wav = torch.randn(3, 2001) * 0.1  # length not a multiple of any period
    out = disc(wav)
    assert len(out) == 2 + 1
    for i, (score, feats) in enumerate(out):
        assert score.shape[0] == 3 and score.ndim == 2 and len(feats) >= 2
        single = disc(wav[1:2])[i][0]
        torch.testing.assert_close(single, score[1:2], atol=1e-5, rtol=1e-5)


def test_period_discriminator_sees_samples_p_apart() -> None:
    # a signal that repeats with period p folds into identical columns: the score map is constant
    # along the period axis only for that p
    torch.manual_seed(0)
    d = PeriodDiscriminator(3, [4, 4])
    column = torch.randn(1, 300)
    folded_same = column.repeat_interleave(3, dim=1)  # x[3k] = x[3k+1] = x[3k+2]
    score, _ = d(folded_same)
    grid = score.view(1, -1, 3)
    torch.testing.assert_close(grid[..., 0], grid[..., 1])
    torch.testing.assert_close(grid[..., 1], grid[..., 2])


def test_resolution_discriminator_is_blind_to_a_sign_flip_but_not_to_noise() -> None:
    torch.manual_seed(0)
    d = ResolutionDiscriminator(128, 32, 128, 4)
    wav = torch.randn(1, 1024)
    torch.testing.assert_close(d(wav)[0], d(-wav)[0])  # magnitude spectrogram input
    assert not torch.allclose(d(wav)[0], d(wav + 0.5 * torch.randn(1, 1024))[0])


def test_least_squares_losses_have_their_closed_form() -> None:
    ones, zeros = torch.ones(2, 5), torch.zeros(2, 5)
    real = [(ones, [ones]), (ones, [ones])]
    fake = [(zeros, [zeros]), (zeros, [zeros])]
    assert discriminator_loss(real, fake).item() == 0.0  # perfect discriminators
    assert discriminator_loss(fake, real).item() == 4.0  # 2 x (1 + 1)
    assert generator_adversarial_loss(fake).item() == 2.0
    assert generator_adversarial_loss(real).item() == 0.0
    assert feature_matching_loss(real, fake).item() == 2.0
    assert feature_matching_loss(real, real).item() == 0.0


def test_feature_matching_does_not_push_gradients_into_real_features() -> None:
    real_feat = torch.randn(4, requires_grad=True)
    fake_feat = torch.randn(4, requires_grad=True)
    feature_matching_loss([(real_feat, [real_feat])], [(fake_feat, [fake_feat])]).backward()
    assert real_feat.grad is None and fake_feat.grad is not None


def test_paper_preset_is_larger_than_default() -> None:
    n = lambda cfg: sum(p.numel() for p in WaveDiscriminators(cfg).parameters())  # noqa: E731
    assert n(DiscriminatorConfig.paper()) > 10 * n(DiscriminatorConfig())

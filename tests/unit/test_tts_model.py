import torch

from facespeak.tts import FaceTTS, TTSConfig, durations_to_path, monotonic_alignment_search, sequence_mask


def _batch(cfg, b=2):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, cfg.n_vocab, (b, 7), generator=g)
    xl = torch.tensor([7, 5][:b])
    mel = torch.randn(b, cfg.n_mels, 30, generator=g) - 5
    ml = torch.tensor([30, 21][:b])
    cond = torch.randn(b, cfg.cond_dim, generator=g)
    return ids, xl, mel, ml, cond


def test_mas_is_monotonic_and_covers_every_frame():
    logp = torch.randn(2, 5, 12)
    path = monotonic_alignment_search(logp, torch.tensor([5, 3]), torch.tensor([12, 8]))
    for b, (tx, ty) in enumerate([(5, 12), (3, 8)]):
        p = path[b, :tx, :ty]
        assert torch.all(p.sum(0) == 1)  # one token per frame
        assert torch.all(p.sum(1) >= 1)  # every token used
        tok = p.argmax(0)
        assert torch.all(tok[1:] - tok[:-1] >= 0) and tok[0] == 0 and tok[-1] == tx - 1
        assert path[b, tx:].sum() == 0 and path[b, :, ty:].sum() == 0


def test_mas_finds_the_obvious_alignment():
    # token i strongly prefers frames [3i, 3i+3)
    logp = torch.full((1, 4, 12), -10.0)
    for i in range(4):
        logp[0, i, 3 * i:3 * i + 3] = 0.0
    path = monotonic_alignment_search(logp, torch.tensor([4]), torch.tensor([12]))
    assert path[0].sum(1).tolist() == [3, 3, 3, 3]


def test_durations_to_path():
    d = torch.tensor([[2, 1, 3]])
    xm = torch.ones(1, 3)
    ym = sequence_mask(torch.tensor([6]), 8).float()
    p = durations_to_path(d, xm, ym)
    assert p.shape == (1, 3, 8)
    assert p[0].argmax(0)[:6].tolist() == [0, 0, 1, 2, 2, 2] and p[0, :, 6:].sum() == 0


def test_losses_finite_and_gradients_reach_every_parameter():
    cfg = TTSConfig.tiny()
    m = FaceTTS(cfg)
    losses = m.compute_losses(*_batch(cfg), generator=torch.Generator().manual_seed(1))
    for v in (losses.duration, losses.prior, losses.cfm):
        assert torch.isfinite(v) and v > 0
    losses.total.backward()
    dead = [n for n, p in m.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert dead == []


def test_synthesis_shapes_seeded_and_batch_equals_single():
    cfg = TTSConfig.tiny()
    m = FaceTTS(cfg).eval()
    ids, xl, _, _, cond = _batch(cfg)
    a = m.synthesise(ids, xl, cond, n_steps=3, generator=torch.Generator().manual_seed(3))
    b = m.synthesise(ids, xl, cond, n_steps=3, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a.mel, b.mel)
    assert a.mel.shape[1] == cfg.n_mels and a.mel.shape[-1] % m.decoder.length_multiple == 0
    assert torch.equal(a.durations.sum(1), a.mel_lengths)
    assert a.e_t.shape == (2, cfg.encoder.channels, 7) and a.mu_y.shape == a.mel.shape
    # deterministic parts (durations, mu_y) do not depend on batch padding
    s = m.synthesise(ids[1:, :5], xl[1:], cond[1:], n_steps=3, generator=torch.Generator().manual_seed(3))
    assert torch.equal(s.durations[0], a.durations[1, :5])
    n = int(s.mel_lengths[0])
    assert torch.allclose(s.mu_y[0, :, :n], a.mu_y[1, :, :n], atol=1e-5)
    # the face feature changes the output
    other = torch.randn(cond.shape, generator=torch.Generator().manual_seed(99))
    c = m.synthesise(ids, xl, other, n_steps=3, generator=torch.Generator().manual_seed(3))
    assert not torch.allclose(c.mu_y[..., :4], a.mu_y[..., :4])


def test_training_reduces_loss_on_one_batch():
    torch.manual_seed(0)
    cfg = TTSConfig.tiny()
    cfg.encoder.dropout = cfg.duration.dropout = cfg.decoder.dropout = 0.0
    m = FaceTTS(cfg)
    batch = _batch(cfg)
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    first = None
    for i in range(40):
        loss = m.compute_losses(*batch, generator=torch.Generator().manual_seed(i)).total
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = float(loss) if first is None else first
    assert float(loss) < 0.7 * first


def test_beta_binomial_prior_matches_scipy_and_normalises():
    import numpy as np
    from scipy.stats import betabinom

    from facespeak.tts.alignment import beta_binomial_log_prior

    p = beta_binomial_log_prior(torch.tensor([6, 4]), torch.tensor([15, 9]), 6, 15)
    ref = betabinom.logpmf(np.arange(6)[:, None], 5, np.arange(1, 16)[None, :], 15 - np.arange(1, 16)[None, :] + 1)
    assert np.allclose(p[0].numpy(), ref, atol=1e-4)
    assert torch.allclose(p[1, :4, :9].exp().sum(0), torch.ones(9), atol=1e-4)  # a distribution over tokens per frame
    assert p[1, 4:].abs().sum() == 0 and p[1, :, 9:].abs().sum() == 0
    # near-diagonal: the first frame prefers the first token, the last frame the last token
    assert int(p[0, :, 0].argmax()) == 0 and int(p[0, :, 14].argmax()) == 5


def test_gender_guidance_pulls_only_wrong_gender_voices_to_the_gender_average():
    torch.manual_seed(0)
    cfg = TTSConfig.tiny()
    cfg.gender_cond = True
    model = FaceTTS(cfg).eval()
    cond = torch.cat([torch.randn(64, cfg.cond_dim), torch.ones(64, 1)], dim=1)
    only = torch.cat([torch.zeros(64, cfg.cond_dim), torch.ones(64, 1)], dim=1)
    other = torch.cat([torch.zeros(64, cfg.cond_dim), -torch.ones(64, 1)], dim=1)
    with torch.no_grad():
        face, own, opp = model.speaker_embedding(cond), model.speaker_embedding(only), model.speaker_embedding(other)
        full = model.speaker_embedding(cond, gender_guidance=1.0)
    wrong = torch.nn.functional.cosine_similarity(face, opp) > torch.nn.functional.cosine_similarity(face, own)
    assert 0 < int(wrong.sum()) < 64  # both cases occur with random faces
    assert torch.allclose(full[wrong], own[wrong]) and torch.equal(full[~wrong], face[~wrong])
    assert torch.equal(model.speaker_embedding(cond, gender_guidance=0.0), face)


def test_face_guidance_is_linear_in_w_for_one_euler_step_and_spares_wrong_gender_voices():
    # one Euler step: mel = z + v_g + w (v_face - v_g), so equal steps in w give equal steps in
    # mel; faces whose voice leans to the other gender keep w = 1 (mel does not move with w)
    torch.manual_seed(0)
    cfg = TTSConfig.tiny()
    cfg.gender_cond = True
    model = FaceTTS(cfg).eval()
    b = 32
    ids = torch.randint(1, cfg.n_vocab, (b, 6))
    xl = torch.full((b,), 6)
    cond = torch.cat([torch.randn(b, cfg.cond_dim), torch.ones(b, 1)], dim=1)

    def mel(w: float) -> torch.Tensor:
        return model.synthesise(ids, xl, cond, n_steps=1, generator=torch.Generator().manual_seed(1), face_guidance=w).mel

    m0, m1, m2 = mel(0.0), mel(1.0), mel(2.0)
    assert torch.equal(m1, model.synthesise(ids, xl, cond, n_steps=1, generator=torch.Generator().manual_seed(1)).mel)
    with torch.no_grad():
        _, _, wrong = model._gender_voices(cond, model._embed(cond))
    assert 0 < int(wrong.sum()) < b
    assert torch.allclose(m2 - m1, m1 - m0, atol=1e-4)
    assert torch.allclose(m0[wrong], m1[wrong], atol=1e-5) and torch.allclose(m2[wrong], m1[wrong], atol=1e-5)
    assert (m2[~wrong] - m1[~wrong]).abs().max() > 1e-3  # guidance moves the other voices

"""Identity encoder: shapes, orthonormal motion basis, f = f_id + f_m, checkpoints, determinism,
pose-free geometry and the training losses (tiny config, synthetic feature vectors)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facespeak.core.errors import CheckpointError, InputError
from facespeak.face.analysis import Face
from facespeak.face.identity import (INPUT_DIM, N_MOTION_TARGETS, IdentityConfig, IdentityEncoder,
                                     IdentityExtractor, mesh_geometry, motion_targets)
from facespeak.face.pose import canonical_face_model, euler_to_rotation
from facespeak.train.identity_task import FeatureTable, IdentityTrainConfig, _cohesion, train_identity


def _inputs(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, INPUT_DIM, generator=torch.Generator().manual_seed(seed))


def _table(n_persons: int = 4, views: int = 6, seed: int = 0) -> FeatureTable:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_persons, INPUT_DIM)).astype(np.float32)
    person = np.repeat(np.arange(n_persons), views)
    inputs = centres[person] + 0.3 * rng.normal(size=(len(person), INPUT_DIM)).astype(np.float32)
    targets = rng.normal(size=(len(person), N_MOTION_TARGETS)).astype(np.float32)
    return FeatureTable(inputs=inputs, targets=targets, person=np.array([f"p{p}" for p in person]),
                        split=np.array(["train"] * len(person)), augmented=np.zeros(len(person), bool),
                        item=np.arange(len(person)))


def test_shapes_and_exact_decomposition():
    cfg = IdentityConfig.tiny()
    model = IdentityEncoder(cfg)
    out = model(_inputs(5))
    assert out.f.shape == out.f_m.shape == out.f_id.shape == (5, cfg.dim)
    assert out.alpha.shape == (5, cfg.n_motion)
    torch.testing.assert_close(out.f_id + out.f_m, out.f, atol=1e-6, rtol=0)
    # f_m lies in the span of the basis: Q Q^T f_m = f_m
    q = model.basis()
    torch.testing.assert_close(out.f_m @ q @ q.T, out.f_m, atol=1e-5, rtol=0)


def test_tiny_is_small_and_default_matches_paper_m():
    n = sum(p.numel() for p in IdentityEncoder(IdentityConfig.tiny()).parameters())
    assert n < 100_000
    assert IdentityConfig().n_motion == 20


def test_bad_input_and_config_raise():
    model = IdentityEncoder(IdentityConfig.tiny())
    with pytest.raises(InputError, match=str(INPUT_DIM)):
        model(torch.zeros(2, INPUT_DIM - 1))
    with pytest.raises(InputError, match="n_motion"):
        IdentityConfig(dim=16, n_motion=N_MOTION_TARGETS - 1)
    with pytest.raises(InputError, match="exceed"):
        IdentityConfig(dim=8, n_motion=20)


def test_basis_stays_orthonormal_after_training_and_grads_reach_all_params():
    table = _table()
    model, _ = train_identity(table, IdentityConfig.tiny(), IdentityTrainConfig(steps=20, persons_per_step=3,
                                                                        views_per_person=3, lr=1e-2))
    q = model.basis()
    torch.testing.assert_close(q.T @ q, torch.eye(q.shape[1]), atol=1e-5, rtol=0)
    model.train()
    out = model(torch.from_numpy(table.inputs[:8]))
    (out.f_id.square().sum() + out.alpha.square().sum()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_training_separates_people_and_learns_motion():
    table = _table(n_persons=4, views=8)
    model, info = train_identity(table, IdentityConfig.tiny(), IdentityTrainConfig(steps=150, persons_per_step=4,
                                                                           views_per_person=4, lr=5e-3))
    with torch.no_grad():
        out = model(torch.from_numpy(table.inputs))
    c = _cohesion(out.f_id.numpy(), table.person)
    assert c["intra_cos"] > c["inter_cos"] + 0.3
    assert info["final_losses"]["motion"] < 0.9  # below the variance of standardised targets


def test_seeded_training_is_deterministic():
    table = _table()
    cfg = IdentityTrainConfig(steps=10, persons_per_step=2, views_per_person=3)
    a, _ = train_identity(table, IdentityConfig.tiny(), cfg)
    b, _ = train_identity(table, IdentityConfig.tiny(), cfg)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name


def test_checkpoint_round_trip(tmp_path):
    model = IdentityEncoder(IdentityConfig.tiny())
    model.set_input_stats(_inputs(10, 1) * 3 + 1, torch.rand(10, N_MOTION_TARGETS))
    path = tmp_path / "identity.safetensors"
    IdentityExtractor(model).save(path)
    loaded = IdentityExtractor.from_checkpoint(path)
    x = _inputs(3, 2).numpy()
    for a, b in zip(IdentityExtractor(model).from_inputs(x), loaded.from_inputs(x)):
        np.testing.assert_array_equal(a.f_id, b.f_id)
        np.testing.assert_array_equal(a.alpha, b.alpha)
        assert a.f.dtype == np.float32 and a.f.shape == (IdentityConfig.tiny().dim,)
    with pytest.raises(CheckpointError):
        IdentityExtractor.from_checkpoint(tmp_path / "missing.safetensors")


def _face_from_model(yaw: float, scale: float, shift: tuple[float, float]) -> Face:
    """A synthetic face: the canonical mesh turned, scaled and moved into image pixels."""
    model = canonical_face_model()
    pts = model @ euler_to_rotation(yaw, 5.0, -3.0).T * scale
    pts = pts * np.array([1.0, -1.0, -1.0]) + np.array([*shift, 0.0])  # y down, z away
    landmarks = np.concatenate([pts, np.repeat(pts[:1], 10, axis=0)]).astype(np.float32)
    return Face((0, 0, 10, 10), 1.0, landmarks, (yaw, 5.0, -3.0), (512, 512))


def test_geometry_is_pose_and_scale_free():
    a = mesh_geometry(_face_from_model(0.0, 10.0, (256, 256)))
    b = mesh_geometry(_face_from_model(25.0, 14.0, (200, 300)))
    assert a.shape == (468, 3)
    assert np.abs(a).max() < 1e-3 and np.abs(b).max() < 1e-3
    face = _face_from_model(0.0, 10.0, (256, 256))
    bent = face.landmarks.copy()
    bent[14, 1] += 20.0  # lower lip down 2 cm
    geometry = mesh_geometry(Face(face.box, 1.0, bent, face.pose, face.image_size))
    assert np.abs(geometry[14]).max() > 1.0


def test_motion_targets_are_scale_free_and_see_the_mouth():
    small = _face_from_model(0.0, 10.0, (256, 256))
    big = _face_from_model(0.0, 20.0, (256, 256))
    np.testing.assert_allclose(motion_targets(small)[3:], motion_targets(big)[3:], atol=1e-4)
    opened = small.landmarks.copy()
    opened[14, 1] += 15.0
    t = motion_targets(Face(small.box, 1.0, opened, small.pose, small.image_size))
    assert t[3] > motion_targets(small)[3] + 0.1

"""Training-pair augmentation of the latent TFG task (FrameAugment / augment_pair)."""

from __future__ import annotations

import pytest
import torch

from facespeak.core.errors import ConfigError
from facespeak.train.tfg_task import FaceFramesConfig, FrameAugment, SelfReenactmentDataset, augment_pair


def _frames(n: int = 12, size: int = 32) -> torch.Tensor:
    """Left-right asymmetric frames (bright square moving down, on a horizontal ramp) in [-1, 1]."""
    xx = torch.linspace(-0.8, 0.8, size)[None, None].expand(3, size, size)
    out = []
    for i in range(n):
        img = xx.clone() * torch.tensor([1.0, 0.5, -0.5])[:, None, None]
        img[:, 4 + i:12 + i, 4:12] = 0.9
        out.append(img)
    return torch.stack(out)


def _only(**kw) -> FrameAugment:
    return FrameAugment(**{**vars(FrameAugment.off()), **kw})


def _centroid(img: torch.Tensor) -> torch.Tensor:
    """(row, col) centroid of the bright (> 0.85) pixels of ``(3, H, W)``."""
    mask = (img.mean(0) > 0.85).float()
    ys, xs = torch.meshgrid(torch.arange(img.shape[1]), torch.arange(img.shape[2]), indexing="ij")
    return torch.stack([(mask * ys).sum(), (mask * xs).sum()]) / mask.sum()


def test_off_is_identity_and_keeps_the_pairs() -> None:
    f = _frames()
    plain = SelfReenactmentDataset(f, 20, seed=5)
    off = SelfReenactmentDataset(f, 20, seed=5, augment=FrameAugment.off())
    for i in range(20):
        assert torch.equal(plain[i]["source"], off[i]["source"]) and torch.equal(plain[i]["driving"], off[i]["driving"])


def test_flip_mirrors_source_and_driving_together() -> None:
    f = _frames()
    plain = SelfReenactmentDataset(f, 40, seed=1)
    always = SelfReenactmentDataset(f, 40, seed=1, augment=_only(flip=1.0))
    half = SelfReenactmentDataset(f, 40, seed=1, augment=_only(flip=0.5))
    flipped = []
    for i in range(40):
        p, a, h = plain[i], always[i], half[i]
        assert torch.equal(a["source"], p["source"].flip(-1)) and torch.equal(a["driving"], p["driving"].flip(-1))
        both = torch.equal(h["source"], a["source"]) and torch.equal(h["driving"], a["driving"])
        neither = torch.equal(h["source"], p["source"]) and torch.equal(h["driving"], p["driving"])
        assert both != neither  # never only one of the two frames
        flipped.append(both)
    assert 5 < sum(flipped) < 35


def test_affine_moves_the_driving_frame_within_its_bounds() -> None:
    f = _frames(n=2)
    g = torch.Generator().manual_seed(0)
    aug = _only(shift=0.1)
    moves = []
    for _ in range(30):
        src, drv = augment_pair(f[0], f[0], aug, g)
        assert torch.equal(src, f[0])  # affine_source off: the source is untouched
        moves.append(_centroid(drv) - _centroid(f[0]))
    moves = torch.stack(moves)
    assert moves.abs().max() <= 0.1 * 32 + 0.5  # at most shift * side (+ bilinear edge)
    assert moves.abs().max() > 1.0 and moves.std(0).min() > 0.3  # moves, in both axes


def test_affine_source_draws_an_independent_transform() -> None:
    f = _frames(n=2)
    g = torch.Generator().manual_seed(3)
    src, drv = augment_pair(f[0], f[0], _only(scale=0.1, shift=0.1, rotate=10.0, affine_source=True), g)
    assert not torch.equal(src, f[0]) and not torch.allclose(src, drv, atol=1e-3)


def test_colour_jitter_is_the_same_for_both_frames() -> None:
    f = _frames(n=2)
    g = torch.Generator().manual_seed(2)
    src, drv = augment_pair(f[0], f[0].clone(), _only(colour=0.2), g)
    assert torch.equal(src, drv)
    assert (src - f[0]).abs().mean() > 1e-3
    assert src.min() >= -1.0 and src.max() <= 1.0


def test_shapes_dtypes_range_and_seeded_determinism() -> None:
    f = _frames()
    a = SelfReenactmentDataset(f, 16, seed=9, augment=FrameAugment())
    b = SelfReenactmentDataset(f, 16, seed=9, augment=FrameAugment())
    c = SelfReenactmentDataset(f, 16, seed=10, augment=FrameAugment())
    differs = False
    for i in range(16):
        x, y, z = a[i], b[i], c[i]
        for k in ("source", "driving"):
            assert x[k].shape == f.shape[1:] and x[k].dtype == f.dtype
            assert x[k].min() >= -1.0 and x[k].max() <= 1.0
            assert torch.equal(x[k], y[k])
            differs |= not torch.equal(x[k], z[k])
    assert differs


def test_config_validation_and_defaults() -> None:
    with pytest.raises(ConfigError, match="flip"):
        FrameAugment(flip=1.5)
    with pytest.raises(ConfigError, match="rotate"):
        FrameAugment(rotate=90.0)
    with pytest.raises(ConfigError, match="shift"):
        FrameAugment(shift=-0.1)
    assert FaceFramesConfig().augment.flip > 0  # training augments unless configured off

"""Tiny synthetic face-frame clips for the latent TFG's training tests."""

import torch


def moving_square_frames(n: int = 24, size: int = 32) -> torch.Tensor:
    """(n, 3, size, size) frames in [-1, 1]: a bright square moving on a fixed gradient, so
    consecutive frames differ by motion only."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    out = []
    for i in range(n):
        img = torch.stack([xx, yy, xx * yy]) * 0.5
        c = 8 + i % 12
        img[:, c:c + 8, 10:18] = 0.9
        out.append(img)
    return torch.stack(out)

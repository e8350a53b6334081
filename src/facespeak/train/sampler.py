"""Infinite, resumable, rank-sharded batch sampler (epoch permutations from a seed)."""

from __future__ import annotations

from collections.abc import Iterator

import torch

__all__ = ["InfiniteShardedSampler"]


class InfiniteShardedSampler:
    """Yields lists of dataset indices forever. Each epoch is a seeded permutation split across
    ranks; the position (epoch, offset) is saved so a resumed run continues with the same batches.
    Global batch = ``batch_size * world_size``."""

    def __init__(self, n: int, batch_size: int, rank: int = 0, world_size: int = 1, seed: int = 0, accum: int = 1) -> None:
        if n < 1:
            raise ValueError("empty dataset")
        self.n, self.bs, self.rank, self.world, self.seed = n, batch_size, rank, world_size, seed
        self.accum = accum  # batches consumed per optimiser step
        self.epoch, self.offset = 0, 0

    def _perm(self, epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(self.seed + 1000003 * epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def __iter__(self) -> Iterator[list[int]]:
        while True:
            perm = self._perm(self.epoch)
            gb = self.bs * self.world
            while self.offset + gb <= len(perm) or (self.offset == 0 and gb > len(perm)):
                if gb > len(perm):  # tiny datasets: wrap around
                    chunk = [perm[(self.offset + i) % len(perm)] for i in range(gb)]
                else:
                    chunk = perm[self.offset:self.offset + gb]
                self.offset += gb
                yield chunk[self.rank * self.bs:(self.rank + 1) * self.bs]
                if gb > len(perm):
                    break
            self.epoch += 1
            self.offset = 0

    def __len__(self) -> int:  # DataLoader asks; the sampler is infinite
        return 2**31 - 1

    @property
    def batches_per_epoch(self) -> int:
        return max(1, self.n // (self.bs * self.world))

    def seek(self, consumed_batches: int) -> None:
        """Position the sampler after ``consumed_batches`` batches (exact resume even when a
        DataLoader's workers prefetched ahead of what the loop consumed)."""
        self.epoch, k = divmod(int(consumed_batches), self.batches_per_epoch)
        self.offset = k * self.bs * self.world

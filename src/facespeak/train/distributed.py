"""torch.distributed set-up from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist

__all__ = ["DistInfo", "init_distributed", "cleanup_distributed", "reduce_mean", "barrier", "gather_rows",
           "average_gradients"]


@dataclass
class DistInfo:
    enabled: bool
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(cpu: bool = False) -> DistInfo:
    """Initialise the process group if launched by torchrun (gloo on CPU, nccl on CUDA; ``cpu``:
    gloo on the CPU even where CUDA is available, for a loop that runs on the CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(False, 0, 1, torch.device("cpu"))
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if torch.cuda.is_available() and not cpu:
        torch.cuda.set_device(local)
        backend, device = "nccl", torch.device("cuda", local)
    else:
        backend, device = "gloo", torch.device("cpu")
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend=backend)
    return DistInfo(True, rank, world, device)


def cleanup_distributed(info: DistInfo) -> None:
    if info.enabled and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        torch_dist.barrier()


def reduce_mean(value: float, info: DistInfo) -> float:
    if not info.enabled:
        return float(value)
    t = torch.tensor([float(value)], device=info.device)
    torch_dist.all_reduce(t)
    return float(t.item()) / info.world_size


def gather_rows(x: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Every rank's ``x (B, ...)`` (the same ``B`` on every rank) -> ``(world_size * B, ...)`` in rank
    order, differentiable: for a loss computed on the gathered rows, identical on every rank (a
    batch-coupled term such as a centroid or a pairwise distance). Its backward sums the ranks'
    gradients of each rank's rows (``world_size`` x the loss's own gradient), so
    :func:`average_gradients` then gives every rank the gradient of that loss on the union batch."""
    if not info.enabled:
        return x
    import torch.distributed.nn.functional as dist_fn

    return torch.cat(dist_fn.all_gather(x), 0)


def average_gradients(params, info: DistInfo) -> None:
    """All-reduce (mean over ranks) the ``.grad`` of ``params``, as DDP does after backward."""
    if not info.enabled:
        return
    for p in params:
        if p.grad is not None:
            torch_dist.all_reduce(p.grad)
            p.grad /= info.world_size

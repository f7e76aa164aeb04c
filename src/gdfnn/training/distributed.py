"""Data parallelism with torch.distributed (launched by torchrun): gloo on CPU, nccl on GPU."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init(device: torch.device) -> tuple[int, int]:
    """Start the process group when torchrun launched us; returns (rank, world size)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if not launched_by_torchrun():
        return 0, 1
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def shard(index: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """This rank's share of a global batch of structure indices."""
    return index[rank::world]


def shard_range(start: int, stop: int, rank: int, world: int) -> tuple[int, int]:
    """This rank's contiguous share of the structures ``start:stop``."""
    per = -(-(stop - start) // world)
    return min(start + rank * per, stop), min(start + (rank + 1) * per, stop)

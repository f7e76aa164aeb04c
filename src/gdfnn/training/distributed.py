"""Data parallelism with torch.distributed (launched by torchrun): gloo on CPU, nccl on GPU."""

from __future__ import annotations

import os
from dataclasses import dataclass

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
    """This rank's share of a global batch of structure indices (every rank holding every
    structure: a streamed chunk)."""
    return index[rank::world]


@dataclass(frozen=True)
class Shard:
    """The training structures one rank holds: of the ``N`` training structures (positions
    ``0..N-1``), those at positions ``rank, rank + world, ...``, the shard's structure
    ``p // world`` being position ``p``. ``n_atoms (N,)``: the atoms of every training
    structure, all ranks' (the global batch's atom count needs them)."""

    rank: int
    world: int
    n_atoms: torch.Tensor

    @property
    def n_structures(self) -> int:
        """All ranks' training structures."""
        return self.n_atoms.numel()

    def mine(self, positions: torch.Tensor) -> torch.Tensor:
        """Bool mask of ``positions`` this rank holds."""
        return positions % self.world == self.rank

    def local(self, positions: torch.Tensor) -> torch.Tensor:
        """This rank's structures among ``positions``, as indices into its shard (in the
        order given)."""
        return positions[self.mine(positions)] // self.world


def single(n_atoms: torch.Tensor) -> Shard:
    """The shard of a process that holds every training structure (``n_atoms (N,)``)."""
    return Shard(0, 1, n_atoms)

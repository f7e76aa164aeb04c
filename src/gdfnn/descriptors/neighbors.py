"""Neighbour lists with vesin: periodic, mixed and open boundaries, any triclinic cell, and
cutoffs larger than the cell (several images of one atom are separate entries)."""

from __future__ import annotations

from dataclasses import dataclass

import ase
import numpy as np
from vesin import NeighborList


@dataclass
class Neighbors:
    """Full neighbour list of one structure, sorted by centre atom.

    Attributes:
        centers: ``(n_entries,)`` index i of the centre atom.
        neighbors: ``(n_entries,)`` index j of the neighbour atom (an image of j may be i).
        shifts: ``(n_entries, 3)`` integer cell shifts S: the neighbour sits at
            ``r_j + S @ cell`` (Å).
    """

    centers: np.ndarray
    neighbors: np.ndarray
    shifts: np.ndarray


def neighbor_list(atoms: ase.Atoms, cutoff: float) -> Neighbors:
    """All (i, j, S) with |r_j + S @ cell - r_i| < cutoff (Å), j != i unless S != 0."""
    periodic = atoms.pbc.tolist()
    box = atoms.cell.array if any(periodic) else np.zeros((3, 3))
    nl = NeighborList(cutoff=cutoff, full_list=True, sorted=True)
    i, j, s = nl.compute(atoms.positions, box, periodic, quantities="ijS")
    return Neighbors(i.astype(np.int64), j.astype(np.int64), s.astype(np.int64))

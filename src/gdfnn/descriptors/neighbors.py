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


def closest_pair(atoms: ase.Atoms, within: float) -> tuple[int, int, float] | None:
    """The closest pair of atoms nearer than ``within`` Å (periodic images included), as
    (i, j, distance), or None."""
    if len(atoms) < 2:
        return None
    nl = NeighborList(cutoff=within, full_list=False)
    box = atoms.cell.array if atoms.pbc.any() else np.zeros((3, 3))
    i, j, d = nl.compute(atoms.positions, box, atoms.pbc.tolist(), quantities="ijd")
    if len(d) == 0:
        return None
    k = int(np.argmin(d))
    return int(i[k]), int(j[k]), float(d[k])


class NeighborCache:
    """Neighbour lists reused between MD steps (a Verlet list).

    The list is built with ``cutoff + skin``; while no atom has moved more than ``skin / 2``
    since then and cell, periodicity and atoms are unchanged, no pair outside the list can
    come within ``cutoff``, so the stored pairs are only filtered by their current distance.

    Attributes:
        builds: how many times the list was built (for tests and logs).
    """

    def __init__(self, cutoff: float, skin: float = 0.5):
        self.cutoff, self.skin = cutoff, skin
        self.builds = 0
        self._list: Neighbors | None = None
        self._state: tuple | None = None

    def _valid_for(self, atoms: ase.Atoms) -> bool:
        if self._list is None:
            return False
        positions, cell, pbc, numbers = self._state
        if (len(atoms) != len(numbers) or not np.array_equal(atoms.numbers, numbers)
                or not np.array_equal(atoms.pbc, pbc)
                or not np.allclose(atoms.cell.array, cell, rtol=0, atol=1e-12)):
            return False
        moved = np.sqrt(((atoms.positions - positions) ** 2).sum(1)).max(initial=0.0)
        return moved < self.skin / 2

    def __call__(self, atoms: ase.Atoms) -> Neighbors:
        """Entries (i, j, S) within ``cutoff`` at the current positions."""
        if not self._valid_for(atoms):
            self._list = neighbor_list(atoms, self.cutoff + self.skin)
            self._state = (atoms.positions.copy(), atoms.cell.array.copy(), atoms.pbc.copy(),
                           atoms.numbers.copy())
            self.builds += 1
        nl = self._list
        vec = atoms.positions[nl.neighbors] - atoms.positions[nl.centers] + \
            nl.shifts @ atoms.cell.array
        keep = (vec * vec).sum(1) < self.cutoff**2
        return Neighbors(nl.centers[keep], nl.neighbors[keep], nl.shifts[keep])

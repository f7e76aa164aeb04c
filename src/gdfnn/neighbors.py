"""Neighbour lists: periodic, mixed and open boundaries, any triclinic cell, and cutoffs
larger than the cell (several images of one atom are separate entries).

The one neighbour module of gdfnn (bottom layer): the descriptors, input validation
(closest pair), coordination counts of the analyses and the MD checks all use it.

vesin (a cell list) builds them in general. Small structures that are periodic in all three
directions or in none take a compiled all-pairs search instead, parallel over atoms: vesin's
per-call cost dominates there (~0.5 ms for 63 atoms with a 6 Å cutoff, 4x the compiled
search), and featurising many small cells is the common case of training.
"""

from __future__ import annotations

from dataclasses import dataclass

import ase
import numba
import numpy as np
from vesin import NeighborList

#: Largest atoms^2 x periodic images searched all-pairs (about 1 ms); beyond, vesin.
ALL_PAIRS_LIMIT = 500_000


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

    def vectors(self, atoms: ase.Atoms) -> np.ndarray:
        """``(n_entries, 3)`` vectors r_j + S @ cell - r_i (Å) at the atoms' positions."""
        positions = atoms.positions
        return positions[self.neighbors] - positions[self.centers] + self.shifts @ atoms.cell.array


def neighbor_list(atoms: ase.Atoms, cutoff: float) -> Neighbors:
    """All (i, j, S) with |r_j + S @ cell - r_i| < cutoff (Å), j != i unless S != 0."""
    periodic = atoms.pbc.tolist()
    if all(periodic) or not any(periodic):
        images = _image_range(atoms.cell.array, cutoff) if all(periodic) else np.zeros(3, int)
        if len(atoms) ** 2 * np.prod(2 * images + 1) <= ALL_PAIRS_LIMIT:
            return _all_pairs(atoms, cutoff, images)
    box = atoms.cell.array if any(periodic) else np.zeros((3, 3))
    nl = NeighborList(cutoff=cutoff, full_list=True, sorted=True)
    i, j, s = nl.compute(atoms.positions, box, periodic, quantities="ijS")
    return Neighbors(i.astype(np.int64), j.astype(np.int64), s.astype(np.int64))


def _image_range(cell: np.ndarray, cutoff: float) -> np.ndarray:
    """Cell shifts needed along each vector: cutoff / (spacing of the lattice planes)."""
    plane_spacing = 1.0 / np.linalg.norm(np.linalg.inv(cell), axis=0)
    return np.ceil(cutoff / plane_spacing).astype(np.int64)


def _all_pairs(atoms: ase.Atoms, cutoff: float, images: np.ndarray) -> Neighbors:
    """Every atom against every atom and image, positions first wrapped into the cell (which
    keeps the image range at ceil(cutoff / spacing)); shifts refer to the given positions."""
    if atoms.pbc.all():
        cell = atoms.cell.array
        frac = np.linalg.solve(cell.T, atoms.positions.T).T
        wraps = np.floor(frac)
        positions = (frac - wraps) @ cell
    else:
        cell, wraps, positions = np.zeros((3, 3)), np.zeros((len(atoms), 3)), atoms.positions
    grid = np.stack(np.meshgrid(*(np.arange(-n, n + 1) for n in images), indexing="ij"),
                    axis=-1).reshape(-1, 3)
    offsets = grid @ cell
    n_atoms = len(atoms)
    neighbors = np.empty((n_atoms, len(grid) * n_atoms), dtype=np.int64)  # room for all
    image = np.empty_like(neighbors)
    counts = _search_pairs(positions, offsets, cutoff * cutoff, neighbors, image)
    kept = np.arange(neighbors.shape[1]) < counts[:, None]
    centers = np.repeat(np.arange(n_atoms), counts)
    neighbors = neighbors[kept]
    shifts = grid[image[kept]] + (wraps[centers] - wraps[neighbors]).astype(np.int64)
    return Neighbors(centers, neighbors, shifts)


def _search_pairs(positions, offsets, cutoff2, neighbors, image):
    """Row i of ``neighbors``/``image`` gets the (j, image) of i's neighbours; returns counts."""
    zero = offsets.shape[0] // 2  # the (0, 0, 0) image
    counts = np.zeros(positions.shape[0], dtype=np.int64)
    for i in numba.prange(positions.shape[0]):
        k = 0
        for s in range(offsets.shape[0]):
            for j in range(positions.shape[0]):
                d2 = 0.0
                for x in range(3):
                    d = positions[j, x] + offsets[s, x] - positions[i, x]
                    d2 += d * d
                if d2 < cutoff2 and (j != i or s != zero):
                    neighbors[i, k] = j
                    image[i, k] = s
                    k += 1
        counts[i] = k
    return counts


_search_pairs = numba.njit(parallel=True, cache=True)(_search_pairs)


def closest_pair(atoms: ase.Atoms, within: float) -> tuple[int, int, float] | None:
    """The closest pair of atoms nearer than ``within`` Å (periodic images included), as
    (i, j, distance) with i <= j, or None."""
    if len(atoms) < 2 and not atoms.pbc.any():
        return None
    nl = neighbor_list(atoms, within)
    if len(nl.centers) == 0:
        return None
    distances = np.linalg.norm(nl.vectors(atoms), axis=1)
    k = int(np.argmin(distances))
    i, j = sorted((int(nl.centers[k]), int(nl.neighbors[k])))
    return i, j, float(distances[k])


def coordination(atoms: ase.Atoms, cutoff: float) -> np.ndarray:
    """``(n_atoms,)`` number of neighbours of each atom within ``cutoff`` Å (images included)."""
    return np.bincount(neighbor_list(atoms, cutoff).centers, minlength=len(atoms))


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
        vec = nl.vectors(atoms)
        keep = (vec * vec).sum(1) < self.cutoff**2
        return Neighbors(nl.centers[keep], nl.neighbors[keep], nl.shifts[keep])

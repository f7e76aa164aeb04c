"""Small structures and symmetry-function sets shared by the descriptor tests."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from gdfnn.descriptors import SymmetryFunction, SymmetryFunctions


def mixed_set(elements=("Si", "C"), cutoff=4.2) -> SymmetryFunctions:
    """G2 with shifts, G4 and G5 with both lambdas and zeta 1, 2, 3.5, per neighbour types."""
    pairs = [(a, b) for n, a in enumerate(elements) for b in elements[n:]]
    funcs = [SymmetryFunction(2, (t,), cutoff, eta, rs=rs) for t in elements
             for eta, rs in [(0.05, 0.0), (0.5, 2.2), (1.4, 0.0)]]
    funcs += [SymmetryFunction(kind, p, cutoff, eta, zeta=zeta, lam=lam) for p in pairs
              for kind, eta, zeta, lam in [(4, 0.01, 1.0, 1.0), (4, 0.09, 3.5, -1.0),
                                           (5, 0.03, 2.0, 1.0), (5, 0.0, 1.0, -1.0)]]
    return SymmetryFunctions(list(elements), {e: funcs for e in elements})


def rattled_si(seed=0, repeat=1, amplitude=0.1) -> Atoms:
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * repeat
    atoms.rattle(amplitude, seed=seed)
    return atoms


def two_element_triclinic(seed=1) -> Atoms:
    """A sheared, triclinic Si/C cell, periodic in all directions."""
    atoms = rattled_si(seed)
    atoms.symbols[[1, 4, 6]] = "C"
    cell = atoms.cell.array.copy()
    cell[1] += [1.1, 0.0, 0.0]
    cell[2] += [0.4, -0.7, 0.0]
    atoms.set_cell(cell, scale_atoms=True)
    return atoms


def cluster(seed=2) -> Atoms:
    rng = np.random.default_rng(seed)
    positions = rng.uniform(0, 4.5, (7, 3))
    atoms = Atoms("Si4C3", positions=positions)
    return atoms


def self_image_cell() -> Atoms:
    """2-atom primitive Si (3.84 Å vectors): with Rc 4.2 Å atoms see their own images."""
    atoms = bulk("Si", "diamond", a=5.43)
    atoms.rattle(0.08, seed=5)
    return atoms


@pytest.fixture
def mixed() -> SymmetryFunctions:
    return mixed_set()

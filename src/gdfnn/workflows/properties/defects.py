"""Defects of a relaxed one-element crystal: the vacancy formation energy (relaxed ions,
supercell size stated) and low-index surface energies (relaxed slabs)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ase.build import surface

from gdfnn.units import J_PER_M2
from gdfnn.workflows.properties.crystal import Crystal
from gdfnn.workflows.properties.relax import relax_ions

#: Atoms of the vacancy supercell at least (diamond 2^3 cells: 64; fcc 3^3: 108).
VACANCY_MIN_ATOMS = 60
#: Å: random displacement of the vacancy cell's atoms before relaxing (seeded), so that a
#: symmetry-lowering relaxation (Si's Jahn-Teller distortion) is found.
RATTLE = 0.02
#: Relaxation of defect cells: forces below this (eV/Å).
DEFECT_FMAX = 1.0e-3
#: The surfaces computed per lattice (Miller indices of the conventional cell).
SURFACES = {"diamond": ((1, 0, 0), (1, 1, 0), (1, 1, 1)), "fcc": ((1, 0, 0), (1, 1, 0), (1, 1, 1)),
            "bcc": ((1, 0, 0), (1, 1, 0), (1, 1, 1)), "hcp": ((0, 0, 1), (1, 0, 0))}
#: Slabs: at least this thick (Å) between their outer atoms, with this much vacuum (Å) on
#: each side.
SLAB_THICKNESS, VACUUM = 10.0, 10.0


def vacancy_formation(crystal: Crystal, energy_per_atom: float,
                      make_calculator: Callable[[], object], *, repeat: int | None = None
                      ) -> tuple[float, int]:
    """``(E_f eV, atoms of the vacancy cell)``: E_f = E(N-1 atoms, relaxed) - (N-1) e_bulk,
    ``repeat``^3 cells of the relaxed ``crystal`` (default: the smallest with at least
    :data:`VACANCY_MIN_ATOMS` atoms) with atom 0 removed; ``energy_per_atom``: e_bulk, eV."""
    n = repeat or crystal.supercell_repeat(VACANCY_MIN_ATOMS)
    cell = crystal.atoms * n
    del cell[0]
    cell.rattle(RATTLE, seed=0)
    relaxed = relax_ions(cell, make_calculator, f"the {len(cell)}-atom vacancy cell",
                         fmax=DEFECT_FMAX)
    return float(relaxed.get_potential_energy() - len(cell) * energy_per_atom), len(cell)


def surface_energies(crystal: Crystal, energy_per_atom: float,
                     make_calculator: Callable[[], object]) -> dict[str, float]:
    """``{"surface_energy_HKL": J/m^2}`` of the low-index surfaces of :data:`SURFACES`:
    gamma = (E_slab - N e_bulk) / (2 A) of a slab at least :data:`SLAB_THICKNESS` thick,
    cut from the bulk between each pair of adjacent atomic planes (both faces are the two
    sides of one cut); the cut with the lowest unrelaxed energy is relaxed (all ions)."""
    out = {}
    for miller in SURFACES[crystal.name]:
        name = "".join(map(str, miller))
        candidates = _terminations(crystal, miller)
        unrelaxed = []
        for slab in candidates:
            slab.calc = make_calculator()
            unrelaxed.append(slab.get_potential_energy())
        slab = candidates[int(np.argmin(unrelaxed))]
        relaxed = relax_ions(slab, make_calculator, f"the {name} slab of {len(slab)} atoms",
                             fmax=DEFECT_FMAX)
        area = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1]))
        gamma = (relaxed.get_potential_energy() - len(slab) * energy_per_atom) / (2 * area)
        out[f"surface_energy_{name}"] = float(gamma * J_PER_M2)
    return out


def _terminations(crystal: Crystal, miller: tuple[int, int, int]) -> list:
    """One slab per cut between adjacent atomic planes of one period: the bulk oriented with
    the surface normal along z (ASE's ``surface``, periodic), whole periods at least
    :data:`SLAB_THICKNESS` thick, its atoms wrapped to start just above the cut, vacuum on
    both sides. Every slab holds the same atoms, so their energies compare directly."""
    period = surface(crystal.atoms, miller, 1, periodic=True)
    periods = int(np.ceil(SLAB_THICKNESS / period.cell[2, 2])) + 1
    bulk_slab = surface(crystal.atoms, miller, periods, periodic=True)
    fractional = bulk_slab.get_scaled_positions()
    planes = np.unique(np.round(fractional[:, 2] * periods, 6) % 1.0)  # within one period
    gaps = np.diff(np.append(planes, planes[0] + 1.0))
    slabs = []
    for cut in (planes + gaps / 2) / periods:  # halfway between a plane and the next
        wrapped = fractional.copy()
        wrapped[:, 2] = (wrapped[:, 2] - cut) % 1.0
        slab = bulk_slab.copy()
        slab.positions = wrapped @ bulk_slab.cell.array
        slab.set_cell([bulk_slab.cell[0], bulk_slab.cell[1],
                       [0.0, 0.0, bulk_slab.cell[2, 2] + 2 * VACUUM]])
        slab.center(vacuum=VACUUM, axis=2)
        slabs.append(slab)
    return slabs

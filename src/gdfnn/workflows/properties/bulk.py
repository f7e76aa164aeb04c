"""Bulk properties of a relaxed crystal: equation of state (lattice constant, B, B'), the
elastic tensor by stress-strain with relaxed ions, and the pressure at a given lattice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gdfnn.analysis.elasticity import (
    EquationOfState,
    cubic_constants,
    fit_birch_murnaghan,
    fit_elastic_tensor,
    hexagonal_constants,
    strain_tensor,
    voigt_bulk_modulus,
)
from gdfnn.units import GPA
from gdfnn.workflows.properties.crystal import Crystal
from gdfnn.workflows.properties.relax import relax_ions

#: Equation of state: lattice constants within +-EOS_SPAN of the relaxed one, EOS_POINTS of them.
EOS_SPAN, EOS_POINTS = 0.03, 11
#: Elastic tensor: Voigt strains of +-STRAIN and +-STRAIN/2 in each of the six directions.
STRAIN = 0.005


@dataclass
class EosResult:
    """The equation of state of a crystal: B and B' (GPa, dimensionless) at the minimum of
    the fit, and the points (volume per atom Å^3, energy per atom eV) it was fitted to."""

    bulk_modulus: float
    bulk_modulus_derivative: float
    volumes: list[float]
    energies: list[float]
    fit: EquationOfState


def equation_of_state(crystal: Crystal, make_calculator: Callable[[], object], *,
                      span: float = EOS_SPAN, points: int = EOS_POINTS) -> EosResult:
    """E(V) of ``crystal`` scaled isotropically over +-``span`` in lattice constant, ions
    relaxed at each volume (cell shape kept), fitted by Birch-Murnaghan."""
    n = len(crystal.atoms)
    volumes, energies = [], []
    for factor in np.linspace(1 - span, 1 + span, points):
        atoms = _relaxed_at(crystal.scaled(factor), make_calculator, f"{factor:.3f} x a")
        volumes.append(atoms.get_volume() / n)
        energies.append(atoms.get_potential_energy() / n)
    fit = fit_birch_murnaghan(np.array(volumes), np.array(energies))
    return EosResult(fit.b0 * GPA, fit.b0_prime, volumes, energies, fit)


def _relaxed_at(crystal: Crystal, make_calculator: Callable[[], object], what: str):
    """The crystal's atoms with ions relaxed at its cell (a crystal whose ions are fixed by
    symmetry converges at step 0)."""
    return relax_ions(crystal.atoms, make_calculator, f"{crystal.name} at {what}")


def elastic_tensor(crystal: Crystal, make_calculator: Callable[[], object], *,
                   strain: float = STRAIN) -> dict:
    """The 6x6 elastic tensor (GPa) of ``crystal`` (relaxed) by stress-strain: each Voigt
    strain of +-``strain`` and +-``strain``/2 applied as F = 1 + eps, ions relaxed at the
    strained cell, C the least-squares slope of ASE's stress; with the independent constants
    of a cubic or hcp crystal and the Voigt bulk modulus."""
    strains, stresses = [], []
    for direction in range(6):
        for size in (-strain, -strain / 2, strain / 2, strain):
            voigt = np.zeros(6)
            voigt[direction] = size
            atoms = crystal.atoms.copy()
            atoms.set_cell(atoms.cell.array @ (np.eye(3) + strain_tensor(voigt)),
                           scale_atoms=True)
            relaxed = relax_ions(atoms, make_calculator,
                                 f"{crystal.name} under Voigt strain {direction + 1} {size:+g}")
            strains.append(voigt)
            stresses.append(relaxed.get_stress(voigt=True) * GPA)
    c, _ = fit_elastic_tensor(np.array(strains), np.array(stresses))
    c = 0.5 * (c + c.T)
    out = {"elastic_tensor": c.round(6).tolist()}
    if crystal.cubic:
        out.update(cubic_constants(c))
    elif crystal.name == "hcp":
        out.update(hexagonal_constants(c))
    else:
        out["bulk_modulus_elastic"] = voigt_bulk_modulus(c)
    return out


def pressure_at(crystal: Crystal, lattice_constant: float,
                make_calculator: Callable[[], object]) -> float:
    """The pressure (GPa, positive under compression) of ``crystal`` scaled to
    ``lattice_constant`` Å, ions relaxed."""
    scaled = crystal.scaled(lattice_constant / crystal.lattice_constant)
    atoms = _relaxed_at(scaled, make_calculator, f"a = {lattice_constant:.4f} Å")
    return float(-atoms.get_stress(voigt=True)[:3].mean() * GPA)

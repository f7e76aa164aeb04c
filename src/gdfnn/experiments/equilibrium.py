"""Equilibrium properties of diamond Si from any calculator: lattice parameter and bulk
modulus (equation of state), elastic constants (stress-strain, ions relaxed), phonon
dispersion and density of states (phonopy, finite displacements).

Every function takes ``make_calculator`` (a new ASE calculator per call) so that the
reference potential and the NNPs are measured by the same code.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import ase
import numpy as np
from ase import units
from ase.eos import EquationOfState
from ase.optimize import BFGS

from gdfnn.errors import InputError
from gdfnn.experiments.sampling import diamond_si

#: The fcc path of the dispersion figure, in the primitive cell's reciprocal basis.
BAND_PATH = (("Γ", (0.0, 0.0, 0.0)), ("X", (0.5, 0.0, 0.5)), ("W", (0.5, 0.25, 0.75)),
             ("K", (0.375, 0.375, 0.75)), ("Γ", (0.0, 0.0, 0.0)), ("L", (0.5, 0.5, 0.5)))
STRAIN = 0.005  # elastic constants: +-0.5 %
DISPLACEMENT = 0.01  # Å, phonons


def equation_of_state(make_calculator: Callable[[], object], a_guess: float) -> dict:
    """Birch-Murnaghan fit of E(V) of the 8-atom cell over +-3 % of ``a_guess`` (Å):
    lattice parameter (Å), bulk modulus (GPa), cohesive energy per atom (eV)."""
    volumes, energies = [], []
    for a in a_guess * np.linspace(0.97, 1.03, 9):
        atoms = diamond_si(1, a)
        atoms.calc = make_calculator()
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    failed = {"lattice_A": math.nan, "bulk_modulus_GPa": math.nan,
              "energy_eV_per_atom": math.nan}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ase's "minimum not in your volumes"
        try:
            v0, e0, b = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
        except (RuntimeError, ValueError) as exc:
            return {**failed, "eos_error": str(exc)}
    if not min(volumes) <= v0 <= max(volumes):
        return {**failed, "eos_error": "E(V) has no minimum within +-3 % of "
                f"a = {a_guess} Å (the fit extrapolates to a = {v0 ** (1 / 3):.3f} Å)"}
    return {"lattice_A": float(v0 ** (1.0 / 3.0)), "bulk_modulus_GPa": float(b / units.GPa),
            "energy_eV_per_atom": float(e0 / 8.0)}


def _relaxed_stress(make_calculator, a: float, strain: np.ndarray) -> np.ndarray:
    """Voigt stress (GPa, ASE sign) of the 8-atom cell at lattice ``a`` under the symmetric
    ``strain`` (3x3), ions relaxed at fixed cell."""
    atoms = diamond_si(1, a)
    atoms.set_cell(atoms.cell.array @ (np.eye(3) + strain), scale_atoms=True)
    atoms.calc = make_calculator()
    BFGS(atoms, logfile=None).run(fmax=1e-4, steps=200)
    return atoms.get_stress(voigt=True) / units.GPa


def elastic_constants(make_calculator: Callable[[], object], a: float) -> dict:
    """C11, C12 and C44 (GPa, ions relaxed) by central differences of the stress under
    +-:data:`STRAIN` (C44 against the engineering shear strain 2 e_yz)."""
    c = {}
    for name, (i, j), row in (("C11", (0, 0), 0), ("C12", (0, 0), 1), ("C44", (1, 2), 3)):
        e = np.zeros((3, 3))
        e[i, j] = e[j, i] = STRAIN
        plus, minus = (_relaxed_stress(make_calculator, a, sign * e) for sign in (1.0, -1.0))
        engineering = 2.0 * STRAIN if i != j else STRAIN
        c[name] = float((plus[row] - minus[row]) / (2.0 * engineering))
    return c


def _phonopy(make_calculator: Callable[[], object], a: float):
    try:
        from phonopy import Phonopy
        from phonopy.structure.atoms import PhonopyAtoms
    except ImportError:
        raise InputError("phonons need phonopy: pip install 'gdfnn[reference]'") from None
    unit = diamond_si(1, a)
    phonon = Phonopy(PhonopyAtoms(symbols=unit.get_chemical_symbols(), cell=unit.cell.array,
                                  scaled_positions=unit.get_scaled_positions()),
                     supercell_matrix=2 * np.eye(3, dtype=int), primitive_matrix="F")
    phonon.generate_displacements(distance=DISPLACEMENT)
    forces = []
    for cell in phonon.supercells_with_displacements:
        atoms = ase.Atoms(cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions,
                          pbc=True)
        atoms.calc = make_calculator()
        forces.append(atoms.get_forces())
    phonon.forces = forces
    phonon.produce_force_constants()
    return phonon


def phonons(make_calculator: Callable[[], object], a: float, *, band_points: int = 51,
            mesh: int = 16) -> dict:
    """Phonons of diamond Si at lattice ``a`` (2x2x2 conventional supercell, 64 atoms):
    frequencies (THz) at Γ and X, the dispersion along :data:`BAND_PATH` and the DOS."""
    from phonopy.phonon.band_structure import get_band_qpoints_and_path_connections

    phonon = _phonopy(make_calculator, a)
    points = [q for _, q in BAND_PATH]
    qpoints, connections = get_band_qpoints_and_path_connections([points], npoints=band_points)
    phonon.run_band_structure(qpoints, path_connections=connections,
                              labels=[name for name, _ in BAND_PATH])
    bands = phonon.band_structure
    phonon.run_mesh([mesh] * 3, is_gamma_center=True)
    phonon.run_total_dos()
    dos = phonon.total_dos
    phonon.run_qpoints([[0.0, 0.0, 0.0], [0.5, 0.0, 0.5]])
    gamma, x = np.sort(phonon.qpoints.frequencies, axis=1)
    return {"gamma_THz": gamma.tolist(), "x_THz": x.tolist(),
            "band_distances": [d.tolist() for d in bands.distances],
            "band_THz": [f.tolist() for f in bands.frequencies],
            "dos_THz": dos.frequency_points.tolist(), "dos": dos.dos.tolist()}


def properties(make_calculator: Callable[[], object], a_guess: float) -> dict:
    """Everything above at the potential's own lattice parameter (at ``a_guess`` where its
    E(V) has no minimum within +-3 %: ``measured_at_A`` says which)."""
    eos = equation_of_state(make_calculator, a_guess)
    a = eos["lattice_A"]
    if not abs(a / a_guess - 1.0) <= 0.03:  # also NaN
        a = a_guess
    return {**eos, "measured_at_A": a, **elastic_constants(make_calculator, a),
            "phonons": phonons(make_calculator, a)}

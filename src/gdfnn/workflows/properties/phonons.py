"""Phonons of a relaxed crystal by finite displacements (phonopy): frequencies at the
high-symmetry points of its Brillouin zone, the dispersion along a path and the density of
states."""

from __future__ import annotations

import math
from collections.abc import Callable

import ase
import numpy as np

from gdfnn.errors import InputError
from gdfnn.workflows.properties.crystal import PRIMITIVE_MATRIX, Crystal, primitive

#: Å, the displacement of the finite differences.
DISPLACEMENT = 0.01
#: Å: the supercell's edges are at least this long, in even multiples of the cell (so that
#: the zone-boundary points X, L, M, A, ... are commensurate and their frequencies exact).
MIN_SUPERCELL_EDGE = 10.0
#: The path drawn per Bravais lattice (ASE's special-point letters; others: ASE's default).
PATHS = {"FCC": "GXWKGL", "BCC": "GHNGPH", "HEX": "GMKGA"}
#: Points whose frequencies go into the table, per Bravais lattice.
TABLE_POINTS = {"FCC": "GXL", "BCC": "GHNP", "HEX": "GMKA"}
#: How the table and plots name Gamma.
GAMMA = "Γ"


def _phonopy(crystal: Crystal, make_calculator: Callable[[], object]):
    try:
        from phonopy import Phonopy
        from phonopy.structure.atoms import PhonopyAtoms
    except ImportError:
        raise InputError("phonons need phonopy: pip install 'gdfnn[reference]' (or "
                         "--no-phonons)") from None
    unit = crystal.atoms
    lengths = np.linalg.norm(unit.cell.array, axis=1)
    repeat = [2 * math.ceil(MIN_SUPERCELL_EDGE / (2 * length)) for length in lengths]
    phonon = Phonopy(PhonopyAtoms(symbols=unit.get_chemical_symbols(), cell=unit.cell.array,
                                  scaled_positions=unit.get_scaled_positions()),
                     supercell_matrix=np.diag(repeat),
                     primitive_matrix=PRIMITIVE_MATRIX.get(crystal.name))
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


def phonons(crystal: Crystal, make_calculator: Callable[[], object], *,
            band_points: int = 51, mesh: int = 16) -> dict:
    """Phonons of the relaxed ``crystal``: ``points`` (name -> sorted frequencies, THz) at
    the high-symmetry points of :data:`TABLE_POINTS`, the dispersion along the lattice's
    path (``path`` names, ``band_distances``, ``band_THz``) and the density of states
    (``dos_THz``, ``dos``); q-points in the primitive cell's reciprocal basis (ASE's special
    points)."""
    from phonopy.phonon.band_structure import get_band_qpoints_and_path_connections

    phonon = _phonopy(crystal, make_calculator)
    cell = primitive(crystal).cell
    lattice = cell.get_bravais_lattice().name
    path = cell.bandpath(PATHS.get(lattice), npoints=0)
    special = path.special_points
    letters = [c for c in path.path if c != ","] if lattice in PATHS else \
        list(dict.fromkeys(c for c in path.path if c.isalpha()))
    qpoints, connections = get_band_qpoints_and_path_connections(
        [[special[c].tolist() for c in letters]], npoints=band_points)
    names = [GAMMA if c == "G" else c for c in letters]
    phonon.run_band_structure(qpoints, path_connections=connections, labels=names)
    bands = phonon.band_structure
    phonon.run_mesh([mesh] * 3, is_gamma_center=True)
    phonon.run_total_dos()
    dos = phonon.total_dos
    table = TABLE_POINTS.get(lattice, "G")
    phonon.run_qpoints([special[c].tolist() for c in table])
    frequencies = np.sort(phonon.qpoints.frequencies, axis=1)
    return {"points": {(GAMMA if c == "G" else c): f.tolist()
                       for c, f in zip(table, frequencies, strict=True)},
            "path": names,
            "band_distances": [d.tolist() for d in bands.distances],
            "band_THz": [f.tolist() for f in bands.frequencies],
            "dos_THz": dos.frequency_points.tolist(), "dos": dos.dos.tolist()}

"""Checks of labelled frames, each failure one line naming the file and frame."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from gdfnn.data.structure import Structure
from gdfnn.errors import InputError
from gdfnn.neighbors import closest_pair

#: Closest approach of two atoms accepted (Å); closer means broken or duplicated input.
MIN_DISTANCE = 0.1
#: |energy per atom| above this (eV) means the file is not in eV.
MAX_ABS_ENERGY_PER_ATOM = 1.0e3
#: |force component| above this (eV/Å) means the file is not in eV/Å.
MAX_ABS_FORCE = 1.0e3
#: Smallest accepted volume (Å^3) of a periodic cell, or area/length for 2-D/1-D periodicity.
MIN_CELL_MEASURE = 1.0e-6


def _check_cell(s: Structure) -> None:
    atoms = s.atoms
    cell = atoms.cell.array
    if not np.all(np.isfinite(cell)):
        raise InputError(f"{s.label}: cell contains NaN or inf")
    periodic = cell[atoms.pbc]
    if len(periodic) == 0:
        return
    # Gram determinant: squared volume spanned by the periodic cell vectors, relative to the
    # product of their lengths (1 for orthogonal vectors, 0 for dependent ones whatever the
    # cell's size: an absolute threshold let rounding, ~1e-12 A^6, through)
    lengths = np.prod(np.linalg.norm(periodic, axis=1))
    measure = np.sqrt(max(np.linalg.det(periodic @ periodic.T), 0.0))
    if lengths == 0 or measure / lengths < MIN_CELL_MEASURE:
        kind = {3: "volume", 2: "area", 1: "length"}[len(periodic)]
        raise InputError(
            f"{s.label}: periodic cell has zero {kind} ({measure:.3g}, "
            f"{measure / lengths if lengths else 0.0:.2g} of the product of its vector lengths);"
            " cell vectors are zero, collinear or coplanar"
        )


def _check_distances(s: Structure, min_distance: float) -> None:
    close = closest_pair(s.atoms, min_distance)
    if close is not None:
        i, j, d = close
        raise InputError(
            f"{s.label}: atoms {i} and {j} are {d:.4f} Å apart "
            f"(< {min_distance} Å): duplicated atoms or wrong length units?"
        )


def _check_array(s: Structure, name: str, values: np.ndarray | None, shape: tuple,
                 required: bool) -> None:
    if values is None:
        if required:
            raise InputError(f"{s.label}: missing {name}")
        return
    values = np.asarray(values)
    if values.shape != shape:
        raise InputError(f"{s.label}: {name} have shape {values.shape}, expected {shape}")
    bad = ~np.isfinite(values)
    if bad.any():
        where = np.argwhere(bad)[0].tolist()
        raise InputError(f"{s.label}: {name} contain NaN or inf (at index {tuple(where)})")


def validate_structure(
    s: Structure,
    *,
    require_energy: bool = True,
    require_forces: bool = True,
    require_stress: bool = False,
    elements: Sequence[str] | None = None,
    min_distance: float = MIN_DISTANCE,
) -> None:
    """Raise :class:`InputError` with a one-line message if ``s`` is unusable.

    Checks: atoms present, finite positions, a periodic cell of non-zero volume, energy,
    forces ``(n_atoms, 3)`` and stress ``(6,)`` present when required and finite, values in
    plausible ranges for eV and eV/Å, elements known (when ``elements`` is given), and no
    two atoms closer than ``min_distance`` Å (periodic images included).
    """
    n = s.n_atoms
    if n == 0:
        raise InputError(f"{s.label}: frame has no atoms")
    if not np.all(np.isfinite(s.atoms.positions)):
        raise InputError(f"{s.label}: positions contain NaN or inf")
    if elements is not None:
        unknown = sorted(set(s.atoms.get_chemical_symbols()) - set(elements))
        if unknown:
            raise InputError(
                f"{s.label}: element(s) {', '.join(unknown)} not in the potential's "
                f"elements [{', '.join(elements)}]"
            )
    _check_cell(s)
    if s.energy is None and require_energy:
        raise InputError(f"{s.label}: missing energy")
    if s.energy is not None:
        if not np.isfinite(s.energy):
            raise InputError(f"{s.label}: energy is {s.energy}")
        if abs(s.energy / n) > MAX_ABS_ENERGY_PER_ATOM:
            raise InputError(
                f"{s.label}: energy per atom is {s.energy / n:.4g} eV: wrong energy units? "
                "(expected eV; set the energy unit of the input)"
            )
    _check_array(s, "forces", s.forces, (n, 3), require_forces)
    if s.forces is not None and np.abs(s.forces).max() > MAX_ABS_FORCE:
        raise InputError(
            f"{s.label}: a force component is {np.abs(s.forces).max():.4g} eV/Å: wrong units? "
            "(expected eV/Å)"
        )
    _check_array(s, "stress", s.stress, (6,), require_stress)
    if not np.isfinite(s.weight) or s.weight < 0:
        raise InputError(f"{s.label}: structure weight {s.weight} must be finite and >= 0")
    _check_distances(s, min_distance)


def validate_structures(structures: Iterable[Structure], **checks) -> None:
    """Validate every frame (see :func:`validate_structure`); the first failure raises."""
    for s in structures:
        validate_structure(s, **checks)

"""The crystal a property is computed on: an element's ground-state lattice (diamond, fcc,
bcc, hcp) or any structure from a file, its cells for the equation of state, the elastic
tensor, defects and phonons."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import ase
import numpy as np
from ase.build import bulk
from ase.data import atomic_numbers, reference_states

from gdfnn.errors import InputError

#: The lattices gdfnn builds itself (any other crystal: ``--structure FILE``).
CRYSTALS = ("diamond", "fcc", "bcc", "hcp")
#: Name of a crystal read from a file.
FROM_FILE = "file"
#: Conventional (cubic) cell to primitive cell, as phonopy's ``primitive_matrix`` names it:
#: the primitive vectors are ASE's standard FCC and BCC ones, so ASE's special points apply.
PRIMITIVE_MATRIX = {"diamond": "F", "fcc": "F", "bcc": "I"}
#: Ideal c/a of hcp, used when an element's reference state has none.
IDEAL_C_OVER_A = math.sqrt(8.0 / 3.0)


@dataclass(frozen=True)
class Crystal:
    """A crystal and its cell: ``atoms`` is the conventional cubic cell (diamond 8, fcc 4,
    bcc 2 atoms), hcp's 2-atom hexagonal cell, or the file's cell; Å, no calculator."""

    name: str
    atoms: ase.Atoms

    @property
    def elements(self) -> list[str]:
        return sorted(set(self.atoms.get_chemical_symbols()))

    @property
    def lattice_constant(self) -> float:
        """a, Å: the first cell vector's length (the cube edge of a cubic crystal)."""
        return float(np.linalg.norm(self.atoms.cell[0]))

    @property
    def c_over_a(self) -> float | None:
        """c/a of hcp, else None."""
        if self.name != "hcp":
            return None
        return float(np.linalg.norm(self.atoms.cell[2]) / self.lattice_constant)

    @property
    def cubic(self) -> bool:
        return self.name in PRIMITIVE_MATRIX

    def with_atoms(self, atoms: ase.Atoms) -> Crystal:
        return replace(self, atoms=atoms)

    def scaled(self, factor: float) -> Crystal:
        """The same crystal with every length times ``factor`` (fractional positions kept)."""
        atoms = self.atoms.copy()
        atoms.set_cell(atoms.cell.array * factor, scale_atoms=True)
        return self.with_atoms(atoms)

    def supercell_repeat(self, min_atoms: int) -> int:
        """The smallest n for which n^3 cells hold at least ``min_atoms`` atoms."""
        return max(1, math.ceil((min_atoms / len(self.atoms)) ** (1.0 / 3.0)))


def ground_state(element: str) -> str | None:
    """The element's ground-state lattice among :data:`CRYSTALS` (ASE's reference states),
    or None when it is another (or unknown)."""
    state = reference_states[atomic_numbers[element]] if element in atomic_numbers else None
    symmetry = (state or {}).get("symmetry")
    return symmetry if symmetry in CRYSTALS else None


def build(element: str, name: str, a: float | None = None, c_over_a: float | None = None
          ) -> Crystal:
    """``element`` in lattice ``name`` (:data:`CRYSTALS`) at lattice constant ``a`` Å (default:
    ASE's reference value, or a guess from the covalent radius) and, for hcp, ``c_over_a``."""
    if name not in CRYSTALS:
        raise InputError(f"crystal {name!r}: expected one of {', '.join(CRYSTALS)} (or "
                         "--structure FILE)")
    state = reference_states[atomic_numbers[element]] or {}
    if a is None:
        a = state.get("a") if state.get("symmetry") == name else None
    if a is None:
        a = _lattice_guess(element, name)
    if name == "hcp":
        ratio = c_over_a or (state.get("c/a") if state.get("symmetry") == "hcp" else None) \
            or IDEAL_C_OVER_A
        return Crystal(name, bulk(element, "hcp", a=a, c=ratio * a))
    return Crystal(name, bulk(element, name, a=a, cubic=True))


def ideal(crystal: Crystal) -> Crystal:
    """A relaxed lattice rebuilt exactly (cube edge from its volume; hcp's a and c/a), free
    of the relaxation's round-off, which would change the surface cells cut from it; a
    crystal from a file is returned as it is."""
    if crystal.name == FROM_FILE:
        return crystal
    a = crystal.lattice_constant
    if crystal.cubic:
        a = float(np.cbrt(crystal.atoms.get_volume()))
    return build(crystal.elements[0], crystal.name, a, crystal.c_over_a)


def _lattice_guess(element: str, name: str) -> float:
    """A lattice constant putting nearest neighbours at twice the covalent radius."""
    from ase.data import covalent_radii

    d = 2.0 * covalent_radii[atomic_numbers[element]]
    return {"diamond": 4.0 * d / math.sqrt(3.0), "fcc": math.sqrt(2.0) * d,
            "bcc": 2.0 * d / math.sqrt(3.0), "hcp": d}[name]


def from_file(atoms: ase.Atoms, source: str) -> Crystal:
    """A crystal read from a file: it must be periodic in 3-D."""
    if not atoms.pbc.all():
        raise InputError(f"{source}: the structure is not periodic in 3-D (pbc {atoms.pbc})")
    atoms = atoms.copy()
    atoms.calc = None
    return Crystal(FROM_FILE, atoms)


def primitive(crystal: Crystal) -> ase.Atoms:
    """The primitive cell of a cubic crystal (ASE's standard FCC/BCC vectors, at the
    crystal's lattice constant), else the crystal's own cell."""
    if not crystal.cubic:
        return crystal.atoms.copy()
    element = crystal.elements[0]
    return bulk(element, crystal.name, a=crystal.lattice_constant)

"""The labelled frame record every reader returns and every consumer takes."""

from __future__ import annotations

from dataclasses import dataclass

import ase
import numpy as np

DEFAULT_GROUP = "default"


@dataclass
class Structure:
    """One labelled frame.

    Attributes:
        atoms: positions (Å), cell (Å), pbc and chemical symbols; no calculator attached.
        energy: total energy in eV, or None when the source has none.
        forces: ``(n_atoms, 3)`` eV/Å, or None.
        stress: ``(6,)`` Voigt order xx yy zz yz xz xy in eV/Å^3, ASE sign
            (positive = tensile), or None.
        group: group tag (structure_list tag, else the frame's ``config_type``).
        weight: structure weight in the loss (structure_list header, default 1.0).
        source: the file the frame was read from.
        index: the frame's index in that file (0-based).
        energies: ``(n_atoms,)`` reference per-atom energies in eV (when the source has them,
            e.g. a classical reference potential), or None.
    """

    atoms: ase.Atoms
    energy: float | None = None
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None
    group: str = DEFAULT_GROUP
    weight: float = 1.0
    source: str = ""
    index: int = 0
    energies: np.ndarray | None = None

    @property
    def n_atoms(self) -> int:
        return len(self.atoms)

    def convert_units(self, angstrom_per_length: float, ev_per_energy: float) -> None:
        """Rescale in place from file units to Å and eV (forces eV/Å, stress eV/Å^3)."""
        if angstrom_per_length == 1.0 and ev_per_energy == 1.0:
            return
        self.atoms.positions = self.atoms.positions * angstrom_per_length
        self.atoms.cell = self.atoms.cell.array * angstrom_per_length
        if self.energy is not None:
            self.energy *= ev_per_energy
        if self.forces is not None:
            self.forces = self.forces * (ev_per_energy / angstrom_per_length)
        if self.stress is not None:
            self.stress = self.stress * (ev_per_energy / angstrom_per_length**3)
        if self.energies is not None:
            self.energies = self.energies * ev_per_energy

    @property
    def label(self) -> str:
        """``file frame k``: how errors and tables name this frame."""
        return f"{self.source} frame {self.index}"

    def to_atoms(self) -> ase.Atoms:
        """A copy of the atoms carrying the labels (a single-point calculator) and the group
        as ``config_type``: what extxyz writers keep."""
        from ase.calculators.singlepoint import SinglePointCalculator

        atoms = self.atoms.copy()
        labels = {k: v for k, v in (("energy", self.energy), ("forces", self.forces),
                                    ("stress", self.stress), ("energies", self.energies))
                  if v is not None}
        atoms.calc = SinglePointCalculator(atoms, **labels)
        atoms.info["config_type"] = self.group
        return atoms

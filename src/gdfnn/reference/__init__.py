"""Classical reference potentials that stand in for DFT (energies eV, forces eV/Å)."""

from gdfnn.reference.potentials import (
    REFERENCES,
    get_reference,
    lammps_calculator,
    lammps_potentials_dir,
)

__all__ = ["REFERENCES", "get_reference", "lammps_calculator", "lammps_potentials_dir"]

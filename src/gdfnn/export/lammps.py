"""The LAMMPS input lines that use an exported potential (units metal: Å, eV)."""

from __future__ import annotations

from gdfnn.units import energy_factor, length_factor


def simple_nn_lines(path: str, elements: list[str]) -> str:
    """``pair_style nn`` (SIMPLE-NN's LAMMPS module, compiled into LAMMPS by the user)."""
    return (f"pair_style nn\npair_coeff * * {path} {' '.join(elements)}"
            "   # one element per LAMMPS atom type, in type order")


def hdnnp_lines(directory: str, elements: list[str], cutoff: float,
                length_unit: float | str = 1.0, energy_unit: float | str = 1.0) -> str:
    """``pair_style hdnnp`` (stock LAMMPS, ML-HDNNP package). ``cflength``/``cfenergy``
    convert LAMMPS metal units into the potential's units (LAMMPS value x factor)."""
    cflength = 1.0 / length_factor(length_unit)
    cfenergy = 1.0 / energy_factor(energy_unit)
    return (f"pair_style hdnnp {cutoff + 0.01:.2f} dir {directory} showew no showewsum 0 "
            f"resetew no maxew 1000 cflength {cflength!r} cfenergy {cfenergy!r}\n"
            f"pair_coeff * * {' '.join(elements)}   # one element per LAMMPS atom type")

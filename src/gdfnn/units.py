"""Unit factors for foreign file formats and for reports. gdfnn itself works in eV, Å, eV/Å,
eV/Å^3; tables give stress, pressure and moduli in GPa and surface energies in J/m^2."""

from __future__ import annotations

from ase import units

#: Å per unit of length, by name.
LENGTH_UNITS = {"angstrom": 1.0, "bohr": units.Bohr, "nm": 10.0}
#: GPa per eV/Å^3 (stress and elastic constants in reports).
GPA = 1.0 / units.GPa
#: J/m^2 per eV/Å^2 (surface energies in reports).
J_PER_M2 = units._e * 1e20
#: eV per unit of energy, by name.
ENERGY_UNITS = {"ev": 1.0, "hartree": units.Hartree, "rydberg": units.Rydberg,
                "kcal/mol": units.kcal / units.mol, "kj/mol": units.kJ / units.mol}


def _factor(value: float | str, table: dict[str, float], what: str) -> float:
    if isinstance(value, str):
        try:
            return table[value.lower()]
        except KeyError:
            raise ValueError(f"unknown {what} unit {value!r}; known: {', '.join(table)}") from None
    if not value > 0:
        raise ValueError(f"{what} unit factor must be positive, got {value}")
    return float(value)


def length_factor(unit: float | str) -> float:
    """Å per file length unit: a name (``"bohr"``) or a number."""
    return _factor(unit, LENGTH_UNITS, "length")


def energy_factor(unit: float | str) -> float:
    """eV per file energy unit: a name (``"hartree"``) or a number."""
    return _factor(unit, ENERGY_UNITS, "energy")

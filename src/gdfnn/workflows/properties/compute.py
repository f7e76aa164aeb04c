"""All properties of one crystal with one calculator, each step timed and logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gdfnn.workflows.properties.bulk import EosResult, elastic_tensor, equation_of_state
from gdfnn.workflows.properties.crystal import FROM_FILE, Crystal, ideal
from gdfnn.workflows.properties.defects import surface_energies, vacancy_formation
from gdfnn.workflows.properties.phonons import phonons as phonon_bands
from gdfnn.workflows.properties.references import PHONON_PREFIX
from gdfnn.workflows.properties.relax import relax_cell

log = logging.getLogger("gdfnn")


@dataclass
class Measured:
    """The properties of one crystal with one calculator: ``values`` (the table's keys and
    units, :data:`~gdfnn.workflows.properties.references.UNITS`), the 6x6 elastic tensor,
    the equation of state, the phonon data, the relaxed crystal, and seconds per step."""

    values: dict[str, float | list[float]]
    crystal: Crystal
    eos: EosResult
    elastic_tensor: list[list[float]] | None = None
    phonons: dict | None = None
    vacancy_cell_atoms: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def equilibrium(crystal: Crystal, make_calculator: Callable[[], object]
                ) -> tuple[Crystal, float, EosResult]:
    """The crystal relaxed (ions and cell, zero stress; a named lattice rebuilt exactly at
    the relaxed lattice constants), its energy per atom (eV) and its equation of state."""
    relaxed = ideal(crystal.with_atoms(relax_cell(crystal.atoms, make_calculator,
                                                  f"the {crystal.name} cell")))
    atoms = relaxed.atoms.copy()
    atoms.calc = make_calculator()
    energy_per_atom = float(atoms.get_potential_energy() / len(atoms))
    return relaxed, energy_per_atom, equation_of_state(relaxed, make_calculator)


def crystal_properties(crystal: Crystal, make_calculator: Callable[[], object], *,
                       defects: bool = True, phonons: bool = True,
                       vacancy_repeat: int | None = None) -> Measured:
    """Equation of state and elastic tensor of ``crystal`` relaxed with the calculator;
    with ``defects`` (the built one-element lattices, not a crystal from a file) the vacancy
    formation and surface energies, with ``phonons`` the phonon frequencies and bands."""
    seconds = {}
    started = time.perf_counter()

    def timed(step: str) -> None:
        nonlocal started
        seconds[step] = time.perf_counter() - started
        log.info("  %s: %.1f s", step, seconds[step])
        started = time.perf_counter()

    relaxed, energy_per_atom, eos = equilibrium(crystal, make_calculator)
    values = {"lattice_constant": relaxed.lattice_constant, "energy_per_atom": energy_per_atom,
              "bulk_modulus": eos.bulk_modulus,
              "bulk_modulus_derivative": eos.bulk_modulus_derivative}
    if relaxed.c_over_a is not None:
        values["c_over_a"] = relaxed.c_over_a
    timed("equation of state")
    elastic = elastic_tensor(relaxed, make_calculator)
    tensor = elastic.pop("elastic_tensor")
    values.update(elastic)
    timed("elastic tensor")
    measured = Measured(values, relaxed, eos, tensor, seconds=seconds)
    if defects and relaxed.name != FROM_FILE:
        values["vacancy_formation_energy"], measured.vacancy_cell_atoms = vacancy_formation(
            relaxed, energy_per_atom, make_calculator, repeat=vacancy_repeat)
        timed("vacancy")
        values.update(surface_energies(relaxed, energy_per_atom, make_calculator))
        timed("surfaces")
    if phonons:
        measured.phonons = phonon_bands(relaxed, make_calculator)
        for point, frequencies in measured.phonons["points"].items():
            values[PHONON_PREFIX + point] = distinct(frequencies)
        timed("phonons")
    return measured


#: THz: frequencies closer than this are one (degenerate) value in the table.
DEGENERATE_THZ = 0.02


def distinct(frequencies: list[float]) -> list[float]:
    """The distinct values of sorted ``frequencies`` (THz; degenerate branches once)."""
    out: list[float] = []
    for f in sorted(frequencies):
        if not out or f - out[-1] > DEGENERATE_THZ:
            out.append(round(float(f), 3))
    return out

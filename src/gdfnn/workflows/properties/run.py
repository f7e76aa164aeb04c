"""``gdfnn properties``: the crystal, the potential's properties and its references', the
pressure at the reference's lattice constant, and the report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import ase

from gdfnn.errors import InputError
from gdfnn.workflows.properties import crystal as crystals
from gdfnn.workflows.properties.bulk import pressure_at
from gdfnn.workflows.properties.compute import Measured, crystal_properties
from gdfnn.workflows.properties.crystal import Crystal
from gdfnn.workflows.properties.references import Reference
from gdfnn.workflows.properties.report import eos_curve, write

log = logging.getLogger("gdfnn")


def choose_crystal(elements: list[str], *, name: str | None = None,
                   structure: ase.Atoms | None = None, source: str = "--structure",
                   element: str | None = None, lattice: float | None = None) -> Crystal:
    """The crystal to measure: ``structure`` (read from a file), else ``element`` (default:
    the potential's one element) in lattice ``name`` (default: its ground state)."""
    if structure is not None:
        crystal = crystals.from_file(structure, source)
        unknown = sorted(set(crystal.elements) - set(elements))
        if unknown:
            raise InputError(f"{source}: element(s) {', '.join(unknown)} not in the "
                             f"potential's elements [{', '.join(elements)}]")
        return crystal
    if element is None:
        if len(elements) != 1:
            raise InputError(f"the potential knows {', '.join(elements)}: name one with "
                             "--element, or give a crystal of several with --structure FILE")
        element = elements[0]
    if element not in elements:
        raise InputError(f"--element {element}: not in the potential's elements "
                         f"[{', '.join(elements)}]")
    name = name or crystals.ground_state(element)
    if name is None:
        raise InputError(f"{element}'s ground state is none of {', '.join(crystals.CRYSTALS)}: "
                         "choose one with --crystal, or give --structure FILE")
    return crystals.build(element, name, lattice)


def run_properties(make_calculator: Callable[[], object], crystal: Crystal,
                   references: list[Reference] = (), *, label: str = "potential",
                   output: str | Path | None = None, defects: bool = True,
                   phonons: bool = True, vacancy_repeat: int | None = None,
                   plot: bool = True) -> dict:
    """The properties of ``crystal`` with the potential (``make_calculator``) and every
    reference (computed with the same code, or as given), the potential's pressure at the
    first reference lattice constant; the table is written with ``properties.json`` and the
    plots into ``output``. Returns the JSON content (:func:`report.format_table` prints it)."""
    started = time.perf_counter()
    description = (f"{crystal.name} {'-'.join(crystal.elements)}"
                   if crystal.name != crystals.FROM_FILE
                   else f"{crystal.atoms.get_chemical_formula()} (from a file)")
    log.info("%s: %s", label, description)
    mine = crystal_properties(crystal, make_calculator, defects=defects, phonons=phonons,
                              vacancy_repeat=vacancy_repeat)
    columns = [_column(label, mine)]
    curves, bands = {label: _curve(mine)}, {}
    if mine.phonons:
        bands[label] = mine.phonons
    for ref in references:
        if ref.make_calculator is None:
            columns.append({"label": ref.label, "values": dict(ref.values),
                            "sources": dict(ref.sources)})
            continue
        log.info("%s: %s", ref.label, description)
        theirs = crystal_properties(crystal, ref.make_calculator, defects=defects,
                                    phonons=phonons, vacancy_repeat=vacancy_repeat)
        columns.append(_column(ref.label, theirs))
        curves[ref.label] = _curve(theirs)
        if theirs.phonons:
            bands[ref.label] = theirs.phonons
    target = next((c for c in columns[1:] if "lattice_constant" in c["values"]), None)
    if target is not None and crystal.name != crystals.FROM_FILE:
        columns[0]["values"]["pressure_at_reference_lattice"] = pressure_at(
            mine.crystal, target["values"]["lattice_constant"], make_calculator)
        columns[0]["pressure_reference"] = target["label"]
    result = {"structure": {"description": description, "crystal": crystal.name,
                            "elements": crystal.elements, "atoms": len(crystal.atoms)},
              "columns": columns, "seconds": time.perf_counter() - started}
    if output is not None:
        write(Path(output), result, curves, bands, plot=plot)
    return result


def _column(label: str, m: Measured) -> dict:
    out = {"label": label, "values": m.values, "elastic_tensor_GPa": m.elastic_tensor,
           "relaxed_cell": m.crystal.atoms.cell.array.tolist(), "seconds": m.seconds,
           "equation_of_state": {"volume_per_atom": m.eos.volumes,
                                 "energy_per_atom": m.eos.energies,
                                 "max_fit_residual_eV_per_atom": m.eos.fit.max_residual}}
    if m.vacancy_cell_atoms:
        out["vacancy_cell_atoms"] = m.vacancy_cell_atoms
    if m.phonons:
        out["phonons_THz"] = m.phonons["points"]
    return out


def _curve(m: Measured) -> dict:
    return eos_curve(m.eos.volumes, m.eos.energies, m.eos.fit)


def ground_state_summary(elements: list[str], make_calculator: Callable[[], object]
                         ) -> dict | None:
    """What a training report shows of a one-element potential whose element has a ground
    state among the built lattices: the relaxed lattice constant (Å), energy per atom (eV),
    B and B' (GPa) of that crystal; ``{"crystal", "error"}`` where the relaxation or the fit
    fails (a potential far from physical), None for other potentials."""
    from gdfnn.errors import GdfnnError
    from gdfnn.workflows.properties.compute import equilibrium

    name = crystals.ground_state(elements[0]) if len(elements) == 1 else None
    if name is None:
        return None
    try:
        relaxed, energy_per_atom, eos = equilibrium(crystals.build(elements[0], name),
                                                    make_calculator)
    except (GdfnnError, RuntimeError) as exc:
        return {"crystal": name, "error": str(exc)}
    return {"crystal": name, "lattice_constant": relaxed.lattice_constant,
            "energy_per_atom": energy_per_atom, "bulk_modulus": eos.bulk_modulus,
            "bulk_modulus_derivative": eos.bulk_modulus_derivative}


def format_summary(summary: dict) -> str:
    """One line of :func:`ground_state_summary`'s result."""
    if "error" in summary:
        return f"{summary['crystal']}: no equation of state ({summary['error']})"
    return (f"{summary['crystal']}: a = {summary['lattice_constant']:.4f} Å, B = "
            f"{summary['bulk_modulus']:.1f} GPa, B' = {summary['bulk_modulus_derivative']:.2f}, "
            f"E = {summary['energy_per_atom']:.4f} eV/atom (gdfnn properties for more)")

"""The properties table (screen and markdown), ``properties.json`` and the plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gdfnn.analysis import plots
from gdfnn.analysis.tables import markdown_table
from gdfnn.fileio import atomic_write
from gdfnn.workflows.properties.references import PHONON_PREFIX, UNITS

#: Names of the table's rows.
LABELS = {"lattice_constant": "lattice constant a", "c_over_a": "c/a",
          "energy_per_atom": "energy per atom", "bulk_modulus": "bulk modulus B (E(V))",
          "bulk_modulus_derivative": "B'", "bulk_modulus_elastic": "bulk modulus (C_ij)",
          "vacancy_formation_energy": "vacancy formation energy",
          "pressure_at_reference_lattice": "pressure at the reference's a"}


def row_name(key: str) -> str:
    if key.startswith(PHONON_PREFIX):
        return f"phonons at {key.removeprefix(PHONON_PREFIX)}"
    if key.startswith("surface_energy_"):
        return f"surface energy ({key.removeprefix('surface_energy_')})"
    return LABELS.get(key, key)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " / ".join(f"{v:.2f}" for v in value)
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"


def _difference(value, reference) -> str:
    if not isinstance(value, float) or not isinstance(reference, float) or reference == 0:
        return ""
    return f"{(value - reference) / abs(reference) * 100:+.1f} %"


def table(columns: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: property, unit, one column per potential/reference (the first is
    the potential measured) and its difference to the second column."""
    labels = list(columns)
    keys = [k for k in UNITS if any(k in c for c in columns.values())]
    keys += sorted({k for c in columns.values() for k in c if k.startswith(PHONON_PREFIX)},
                   key=lambda k: (k != PHONON_PREFIX + "Γ", k))
    headers = ["property", "unit", *labels]
    if len(labels) > 1:
        headers.append(f"{labels[0]} vs {labels[1]}")
    rows = []
    for key in keys:
        unit = "THz" if key.startswith(PHONON_PREFIX) else UNITS[key]
        cells = [row_name(key), unit, *(_cell(columns[c].get(key)) for c in labels)]
        if len(labels) > 1:
            cells.append(_difference(columns[labels[0]].get(key), columns[labels[1]].get(key)))
        rows.append(cells)
    return headers, rows


def format_table(result: dict) -> str:
    """The table of a ``properties.json`` content as aligned plain text for the terminal."""
    headers, rows = table({c["label"]: c["values"] for c in result["columns"]})
    widths = [max(len(r[k]) for r in [headers, *rows]) for k in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in [headers, *rows])


def write(output: Path, result: dict, curves: dict, bands: dict, *, plot: bool) -> None:
    """``properties.json``, ``properties.md`` and (``plot``) ``eos.png`` and ``phonons.png``
    into ``output``."""
    output.mkdir(parents=True, exist_ok=True)
    with atomic_write(output / "properties.json") as f:
        json.dump(result, f, indent=2)
    columns = {c["label"]: c["values"] for c in result["columns"]}
    sources = [f"- {c['label']}, {row_name(k)}: {s}" for c in result["columns"]
               for k, s in c.get("sources", {}).items() if s]
    with atomic_write(output / "properties.md") as f:
        f.write("\n".join([f"# Properties of {result['structure']['description']}", "",
                           markdown_table(*table(columns)), "", *sources]) + "\n")
    if not plot:
        return
    if curves:
        plots.equation_of_state(curves, output / "eos.png")
    if bands:
        plots.phonon_dispersion(bands, next(iter(bands.values()))["path"],
                                output / "phonons.png")


def eos_curve(volumes: list[float], energies: list[float], fit) -> dict:
    """What the E(V) plot draws of one potential: its points and its fit (eV/atom against
    Å^3/atom, energies from the fit's minimum)."""
    v = np.linspace(min(volumes), max(volumes), 100)
    return {"volumes": volumes, "energies": (np.array(energies) - fit.e0).tolist(),
            "fit_volumes": v.tolist(), "fit_energies": (fit.energy(v) - fit.e0).tolist(),
            "v0": fit.v0}

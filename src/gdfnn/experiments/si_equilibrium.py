"""The paper's Figures S5-S6 and Table S2: equilibrium properties of diamond Si from the
reference, NNP-c and NNP-GDF.

The NNPs are those of ``vacancy-clusters`` (perfect and monovacancy MD plus strained
crystals: the volume varies in the training data, which an equation of state needs; on a
copy of a finished vacancy-clusters output its potentials are reused). NNPs trained on
si-vacancy's constant-volume MD alone have no E(V) minimum near the lattice parameter
(measured on the full preset: NNP-c's fit extrapolates to a = 6.06 Å).
Each potential gives, at its own lattice parameter (the cell relaxed with it), what
``gdfnn properties`` measures: the lattice parameter and bulk modulus (Birch-Murnaghan),
C11, C12, C44 (ions relaxed), phonon frequencies at Γ and X and the dispersion and DOS
(phonopy, 2x2x2 conventional supercell, 0.01 Å displacements).
"""

from __future__ import annotations

from pathlib import Path

from gdfnn.analysis.plots import phonon_dispersion
from gdfnn.analysis.tables import markdown_table
from gdfnn.calculator import NNPCalculator
from gdfnn.experiments.common import DEFAULT_REFERENCE, LATTICE, POTENTIALS
from gdfnn.experiments.report import write_results
from gdfnn.experiments.vacancy_clusters import PRESETS, train_potentials
from gdfnn.reference import get_reference
from gdfnn.workflows.properties.compute import crystal_properties
from gdfnn.workflows.properties.crystal import build

ROWS = ("reference", *POTENTIALS)


def run_si_equilibrium(output: str | Path = "si_equilibrium", *, preset: str = "quick",
                       reference: str = DEFAULT_REFERENCE, seed: int = 0,
                       progress: bool = True) -> dict:
    """Run the whole experiment; writes results.json, report.md and the dispersion figure."""
    p = PRESETS[preset]
    out = Path(output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    potentials = train_potentials(out, reference, p, seed, progress)
    makers = {"reference": lambda: get_reference(reference),
              **{name: (lambda pot=pot: NNPCalculator(pot)) for name, pot in potentials.items()}}
    crystal = build("Si", "diamond", LATTICE[reference])
    measured = {}
    for name, make in makers.items():
        m = crystal_properties(crystal, make, defects=False)
        measured[name] = {**m.values, "phonons": m.phonons}
    first = next(iter(measured.values()))["phonons"]
    phonon_dispersion({name: m["phonons"] for name, m in measured.items()}, first["path"],
                      out / "phonons_figS6.png")
    results = {"preset": preset, "reference": reference, "seed": seed, "properties": measured}
    write_results(out, results, report(results))
    return results


def table(results: dict) -> tuple[list[str], list[list]]:
    """The report's headers and rows (one row per potential, the reference first)."""
    rows = []
    for name in ROWS:
        m = results["properties"][name]
        gamma, x = m["phonons"]["points"]["Γ"], m["phonons"]["points"]["X"]
        rows.append([name, m["lattice_constant"], m["bulk_modulus"], m["C11"], m["C12"],
                     m["C44"], gamma[-1], x[0], x[2], x[-1]])
    headers = ["potential", "a Å", "B GPa", "C11 GPa", "C12 GPa", "C44 GPa",
               "Γ optical THz", "X TA THz", "X LA/LO THz", "X TO THz"]
    return headers, rows


def report(results: dict) -> str:
    return "\n".join([
        f"# Si equilibrium properties ({results['preset']} preset, reference "
        f"{results['reference']}, seed {results['seed']})", "",
        "NNPs of the vacancy-clusters experiment (perfect and monovacancy MD 500 -> 1300 K, "
        "strained crystals). Each at its own lattice parameter (its relaxed cell); elastic "
        "constants with ions relaxed; phonons from a 64-atom supercell.", "",
        markdown_table(*table(results)),
        "",
        "Figure: phonons_figS6.png (dispersion and DOS, three line sets)."])

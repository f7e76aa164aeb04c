"""Every experiment of ``gdfnn reproduce`` by name: what it shows, the options it takes, and
its module (``run``, ``report``, ``table`` and, for some, ``seeds_figure``); the loop over
seeds that turns single runs into mean ± std tables.

The command line's choices, help and dispatch all come from :data:`EXPERIMENTS`: adding an
experiment is one entry here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from gdfnn.errors import InputError
from gdfnn.experiments.report import seeds_table, write_results
from gdfnn.fileio import folder_lock

#: Keyword options of the experiments that run on a reference potential.
SIZED = ("preset", "reference")
#: The sizes every such experiment offers (each module's ``PRESETS`` has these keys).
PRESETS = ("quick", "full", "tiny")


@dataclass(frozen=True)
class Experiment:
    """One experiment: ``gdfnn reproduce NAME`` calls ``gdfnn.experiments.<module>.<function>
    (output, seed=..., **options)``."""

    name: str
    module_name: str
    function: str
    summary: str
    options: tuple[str, ...] = SIZED

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(f"gdfnn.experiments.{self.module_name}")

    def run(self, output: Path, *, seed: int, **options) -> dict:
        """One run (results as written to ``output/results.json``)."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise InputError(f"{self.name} does not take {', '.join('--' + o for o in unknown)}"
                             f" (it takes {', '.join('--' + o for o in self.options)})")
        return getattr(self.module, self.function)(output, seed=seed, **options)

    def report(self, results: dict) -> str:
        return self.module.report(results)

    def table(self, results: dict) -> tuple[list[str], list[list]]:
        return self.module.table(results)


EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    Experiment("si-vacancy", "si_vacancy", "run_si_vacancy",
               "the paper's Figure 1 on a reference potential (sample MD, train NNP-c and "
               "NNP-GDF, defect/bulk force RMSE, error vs GDF, feature map, NEB barrier)"),
    Experiment("si-mlearn", "si_mlearn", "run_si_mlearn",
               "NNP-c vs NNP-GDF on the mlearn Si DFT data, test errors per config_type and "
               "defect atoms", options=("data", "epochs")),
    Experiment("active-learning", "active_learning", "run_active_learning",
               "label frames chosen by GDF coverage (gdfnn select) or at random, 5 rounds, the "
               "reference potential standing in for DFT; rare-event and bulk force error per "
               "round"),
    Experiment("vacancy-clusters", "vacancy_clusters", "run_vacancy_clusters",
               "the paper's Table 1, formation energies of mono-, tri- and pentavacancies from "
               "NNPs trained on perfect and monovacancy Si only"),
    Experiment("si-interstitial", "si_interstitial", "run_si_interstitial",
               "Figure 2 and S4, interstitial force errors, the PES on a 0.6 Å sphere around "
               "the tetrahedral site, MD stability at 1200 K and above"),
    Experiment("ni-atomic-energies", "ni_atomic_energies", "run_ni_atomic_energies",
               "Figure 4, NNP atomic energies of fcc Ni with a vacancy against the EAM's own "
               "(always on eam-ni)"),
    Experiment("si-equilibrium", "si_equilibrium", "run_si_equilibrium",
               "Figures S5-S6, Table S2, lattice parameter, bulk modulus, elastic constants "
               "and phonons of diamond Si (NNPs of vacancy-clusters)"),
    Experiment("ensemble", "ensemble", "run_ensemble",
               "Figure S7, the force spread of NNPs from several seeds against GDF rho on "
               "training and never-trained frames"),
)}


def get(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise InputError(f"unknown experiment {name!r}: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def run_seeds(experiment: Experiment, output: Path, *, seed: int = 0, seeds: int = 1,
              echo: Callable[[str], object] = print, **options) -> list[dict]:
    """Run seeds ``seed .. seed + seeds - 1`` (each in ``output/seed<K>`` when more than one),
    echoing each report; with several seeds also write ``report_seeds.md`` and
    ``results_seeds.json`` (mean ± std of every number of the experiment's table) and, where
    the experiment has one, its seeds figure. ``output`` is locked while it runs."""
    with folder_lock(output):
        return _run_seeds(experiment, Path(output), seed, seeds, echo, options)


def _run_seeds(experiment: Experiment, output: Path, seed: int, seeds: int,
               echo: Callable[[str], object], options: dict) -> list[dict]:
    runs = []
    for k in range(seeds):
        results = experiment.run(output if seeds == 1 else output / f"seed{seed + k}",
                                 seed=seed + k, **options)
        echo(experiment.report(results))
        runs.append(results)
    if seeds > 1:
        markdown, numbers = seeds_table([experiment.table(r) for r in runs])
        text = (f"# {experiment.name}: mean ± std over seeds {seed}..{seed + seeds - 1}\n\n"
                f"{markdown}")
        write_results(output, numbers, text, suffix="_seeds")
        if hasattr(experiment.module, "seeds_figure"):
            experiment.module.seeds_figure(
                runs, output / f"{experiment.name.replace('-', '_')}_seeds.png")
        echo(text)
    return runs

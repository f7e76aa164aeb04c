"""NNP-c against NNP-GDF on real DFT data: the mlearn Si set (Zuo et al. 2020).

Trains both on ``si_mlearn_train.xyz`` (the packaged ``mlearn-si``; 10 % per config_type held
out for validation) with the same seed, architecture and epochs, and reports test errors per
config_type and, for the Vacancy frames of ``si_mlearn_test.xyz``, three definitions of the
defect atoms:

- ``coordination``: fewer than 4 neighbours within 2.6 Å (in hot frames this also tags
  thermally displaced atoms: 60 % of the atoms of the test Vacancy frames);
- ``near_site``: atoms within 3 Å of the vacancy site, found per frame from the atoms with
  three bonds (:func:`~gdfnn.experiments.sampling.vacancy_site`; no lattice needed);
- ``rarest``: the atoms less dense (GDF rho against the training atoms) than the rarest
  10 % of the training atoms themselves (no geometry needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gdfnn import datasets
from gdfnn.analysis.tables import markdown_table
from gdfnn.config import config_from_dict
from gdfnn.data import read_structures
from gdfnn.errors import InputError
from gdfnn.experiments.report import write_results
from gdfnn.experiments.runs import train_once
from gdfnn.experiments.sampling import near_site_mask, vacancy_site
from gdfnn.gdf.density import DEFAULT_SIGMA
from gdfnn.neighbors import coordination
from gdfnn.workflows.evaluate import DEFECT_ATOMS, OTHER_ATOMS, DefectRule, evaluate
from gdfnn.workflows.sweep import RARE, test_atoms

DEFECT = DefectRule(cutoff=2.6, coordination=4)
#: The defect definitions on the Vacancy frames, each written as a per-atom array.
DEFINITIONS = ("coordination", "near_site", "rarest")


def data_files(folder: str | Path | None) -> tuple[Path, Path]:
    """The mlearn Si train and test files: the packaged ``mlearn-si``, or
    ``si_mlearn_{train,test}.xyz`` in ``folder``."""
    if folder is None:
        return datasets.path("mlearn-si", "train"), datasets.path("mlearn-si", "test")
    files = tuple(Path(folder).resolve() / f"si_mlearn_{part}.xyz" for part in ("train", "test"))
    for f in files:
        if not f.is_file():
            raise InputError(f"{f}: missing (give --data the folder of the mlearn Si files, or "
                             "leave it out for the packaged mlearn-si)")
    return files


def run_si_mlearn(output: str | Path = "si_mlearn", *, data: str | Path | None = None,
                  epochs: int = 2000, seed: int = 0, progress: bool = True) -> dict:
    """Train NNP-c and NNP-GDF on the mlearn Si data (``data``: a folder holding
    ``si_mlearn_{train,test}.xyz``; ``None``: the packaged copy) and score them."""
    out = Path(output).resolve()
    train_file, test_file = data_files(data)
    configs = {name: config_from_dict({
        "data": {"train": [str(train_file)], "test": [str(test_file)], "valid_rate": 0.1},
        "descriptor": {"store": str(out / "features.h5")},
        "gdf": {"enabled": gdf, "sigma": DEFAULT_SIGMA, "modifier": "linear"},
        "model": {"hidden": [30, 30], "activation": "tanh"},
        "training": {"epochs": epochs, "batch_size": 16, "seed": seed,
                     "learning_rate": 1e-3, "final_learning_rate": 1e-5,
                     "valid_every": max(epochs // 50, 1)},
        "output": {"directory": str(out / name), "progress": progress}}, source=name)
        for name, gdf in (("nnp_c", False), ("nnp_gdf", True))}
    potentials = {name: train_once(config) for name, config in configs.items()}
    test = read_structures(test_file)
    vacancy = [s for s in test if s.group == "Vacancy"]
    rarest = test_atoms(configs["nnp_c"], vacancy).subsets[RARE]
    start = 0
    for s in vacancy:  # each definition as a per-atom array of the frame
        s.atoms.arrays["coordination"] = coordination(s.atoms, DEFECT.cutoff) < DEFECT.coordination
        s.atoms.arrays["near_site"] = near_site_mask(s.atoms, vacancy_site(s.atoms))
        s.atoms.arrays["rarest"] = rarest[start:start + s.n_atoms]
        start += s.n_atoms
    results = {"epochs": epochs, "seed": seed,
               "test": evaluate(potentials, test, output=out / "evaluation_test"),
               "vacancy_frames": {name: evaluate(potentials, vacancy, defect=name, plot=False)
                                  for name in DEFINITIONS},
               "defect_fraction": {name: float(np.mean(np.concatenate(
                   [s.atoms.arrays[name] for s in vacancy]))) for name in DEFINITIONS}}
    write_results(out, results, report(results))
    return results


def table(results: dict) -> tuple[list[str], list[list]]:
    """The report's headers and rows (one row per potential)."""
    groups = list(results["test"]["nnp_c"]["per_group"])
    rows = []
    for name in ("nnp_c", "nnp_gdf"):
        t = results["test"][name]
        row = [name, t["energy_mev_atom"]["rmse"], t["force"]["rmse"],
               *(t["per_group"][g]["force"]["rmse"] for g in groups)]
        for definition in DEFINITIONS:
            v = results["vacancy_frames"][definition][name]
            row += [v["subsets"][k]["force"]["rmse"] for k in (DEFECT_ATOMS, OTHER_ATOMS)]
        rows.append(row)
    headers = ["potential", "E RMSE meV/atom", "F RMSE all", *(f"F {g}" for g in groups)]
    for definition in DEFINITIONS:
        share = 100 * results["defect_fraction"][definition]
        headers += [f"F Vacancy {definition} defect ({share:.0f} % of atoms)",
                    f"F Vacancy {definition} other"]
    return headers, rows


def report(results: dict) -> str:
    return "\n".join([f"# mlearn Si DFT: NNP-c vs NNP-GDF ({results['epochs']} epochs, seed "
                      f"{results['seed']})", "", "Test set; force RMSE in eV/Å. Defect atoms of "
                      "the Vacancy frames by three definitions: coordination (< 4 neighbours "
                      "within 2.6 Å), near_site (within 3 Å of the vacancy site found per "
                      "frame), rarest (rho below the training atoms' 10 % quantile).", "",
                      markdown_table(*table(results))])

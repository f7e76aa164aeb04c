"""NNP-c against NNP-GDF on real DFT data: the mlearn Si set (Zuo et al. 2020).

Trains both on ``si_mlearn_train.xyz`` (10 % per config_type held out for validation) with
the same seed, architecture and epochs, and reports test errors per config_type and for the
defect atoms of the Vacancy frames of ``si_mlearn_test.xyz`` (fewer than 4 neighbours within
2.6 Å; in hot vacancy frames this also tags thermally displaced atoms).
"""

from __future__ import annotations

from pathlib import Path

from gdfnn.analysis.tables import markdown_table
from gdfnn.config import config_from_dict
from gdfnn.data import read_structures
from gdfnn.errors import InputError
from gdfnn.experiments.report import write_results
from gdfnn.gdf.density import DEFAULT_SIGMA
from gdfnn.workflows.evaluate import DEFECT_ATOMS, OTHER_ATOMS, DefectRule, evaluate
from gdfnn.workflows.train import train

DEFECT = DefectRule(cutoff=2.6, coordination=4)


def run_si_mlearn(output: str | Path = "si_mlearn", *, data: str | Path = "../shared/data/dft",
                  epochs: int = 2000, seed: int = 0, progress: bool = True) -> dict:
    data, out = Path(data).resolve(), Path(output).resolve()
    train_file, test_file = data / "si_mlearn_train.xyz", data / "si_mlearn_test.xyz"
    for f in (train_file, test_file):
        if not f.is_file():
            raise InputError(f"{f}: missing (give --data the folder of the mlearn Si files)")
    potentials = {}
    for name, gdf in (("nnp_c", False), ("nnp_gdf", True)):
        potentials[name] = train(config_from_dict({
            "data": {"train": [str(train_file)], "test": [str(test_file)], "valid_rate": 0.1},
            "descriptor": {"store": str(out / "features.h5")},
            "gdf": {"enabled": gdf, "sigma": DEFAULT_SIGMA, "modifier": "linear"},
            "model": {"hidden": [30, 30], "activation": "tanh"},
            "training": {"epochs": epochs, "batch_size": 16, "seed": seed,
                         "learning_rate": 1e-3, "final_learning_rate": 1e-5,
                         "valid_every": max(epochs // 50, 1)},
            "output": {"directory": str(out / name), "progress": progress}}, source=name))
    test = read_structures(test_file)
    vacancy = [s for s in test if s.group == "Vacancy"]
    results = {"epochs": epochs, "seed": seed,
               "test": evaluate(potentials, test, output=out / "evaluation_test"),
               "vacancy_frames": evaluate(potentials, vacancy, defect=DEFECT, plot=False)}
    write_results(out, results, report(results))
    return results


def table(results: dict) -> tuple[list[str], list[list]]:
    """The report's headers and rows (one row per potential)."""
    groups = list(results["test"]["nnp_c"]["per_group"])
    rows = []
    for name in ("nnp_c", "nnp_gdf"):
        t, v = results["test"][name], results["vacancy_frames"][name]
        rows.append([name, t["energy_mev_atom"]["rmse"], t["force"]["rmse"],
                     *(t["per_group"][g]["force"]["rmse"] for g in groups),
                     *(v["subsets"][k]["force"]["rmse"] for k in (DEFECT_ATOMS, OTHER_ATOMS))])
    headers = ["potential", "E RMSE meV/atom", "F RMSE all", *(f"F {g}" for g in groups),
               "F Vacancy defect atoms", "F Vacancy other atoms"]
    return headers, rows


def report(results: dict) -> str:
    return "\n".join([f"# mlearn Si DFT: NNP-c vs NNP-GDF ({results['epochs']} epochs, seed "
                      f"{results['seed']})", "", "Test set; force RMSE in eV/Å.", "",
                      markdown_table(*table(results))])

"""The paper's Figure S7: how far NNPs trained from different seeds disagree, against GDF rho.

K NNP-c and K NNP-GDF (seeds ``seed*100 + k``) train on the si-vacancy data of the preset.
Each family's spread of predicted forces per atom (sqrt of the mean over members of
|F_k - mean F|^2, DeePMD's deviation, eV/Å) is compared with the GDF rho of the atom against
the training atoms, on the training frames and on new configurations never trained on:
Langevin MD at 1300 K of a 65-atom interstitial cell and of a 61-atom trivacancy cell
(labelled by the reference, so the spread can also be compared with the true error).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from gdfnn.analysis.metrics import binned, log_bins
from gdfnn.analysis.plots import error_vs_gdf
from gdfnn.analysis.tables import markdown_table
from gdfnn.data import read_structures
from gdfnn.experiments.common import (
    DEFAULT_REFERENCE,
    LATTICE,
    POTENTIALS,
    split_frames,
    training_config,
)
from gdfnn.experiments.report import write_results
from gdfnn.experiments.runs import train_once
from gdfnn.experiments.sampling import (
    cached_frames,
    diamond_si,
    sample_md,
    with_tetrahedral_interstitial,
    with_vacancies,
)
from gdfnn.experiments.si_vacancy import PRESETS as TRAINING_PRESETS
from gdfnn.experiments.si_vacancy import generate
from gdfnn.reference import get_reference
from gdfnn.workflows.uncertainty import atom_signals

NEW = ("interstitial", "trivacancy")


@dataclass(frozen=True)
class Preset:
    """The si-vacancy preset that sizes the training, members per family, new frames."""

    training: str
    members: int
    new_frames: int
    interval: int = 10


PRESETS = {"full": Preset("full", members=5, new_frames=40),
           "quick": Preset("quick", members=4, new_frames=20),
           "tiny": Preset("tiny", members=2, new_frames=2, interval=5)}


def new_configurations(out: Path, reference: str, preset: Preset, seed: int,
                       progress: bool) -> dict[str, Path]:
    """Reference-labelled MD frames at 1300 K of the interstitial and the trivacancy cell."""
    a = LATTICE[reference]
    perfect = diamond_si(2, a)
    starts = {"interstitial": with_tetrahedral_interstitial(perfect, a),
              "trivacancy": with_vacancies(perfect, 3)}
    return {name: cached_frames(
        out / f"new_{name}.xyz", {"reference": reference, "frames": preset.new_frames,
                                  "interval": preset.interval, "seed": seed},
        lambda start=start, name=name: sample_md(
            start, get_reference(reference), temperature_start=1300, temperature_end=1300,
            steps=preset.new_frames * preset.interval, interval=preset.interval,
            timestep_fs=2.0, seed=seed + 5000, config_type=name, progress=progress))
        for name, start in starts.items()}


def spread_summary(rho: np.ndarray, spread: np.ndarray, error: np.ndarray) -> dict:
    """Mean spread (eV/Å) over all atoms and the rarest 10 % by rho, Spearman of the spread
    with -log rho and with the force error, and the spread per rho bin."""
    rare = rho <= np.quantile(rho, 0.1)
    return {"atoms": len(rho), "mean_spread": float(spread.mean()),
            "rarest_10pc_spread": float(spread[rare].mean()),
            "spearman_vs_inverse_rho": float(spearmanr(-np.log(rho), spread).statistic),
            "spearman_vs_error": float(spearmanr(error, spread).statistic),
            "force_rmse": float(np.sqrt((error ** 2).mean() / 3.0)),
            "per_gdf_bin": binned(rho, spread, log_bins(rho))}


def run_ensemble(output: str | Path = "ensemble", *, preset: str = "quick",
                 reference: str = DEFAULT_REFERENCE, seed: int = 0, progress: bool = True
                 ) -> dict:
    """Run the whole experiment; writes results.json, report.md and PNGs into ``output``."""
    p = PRESETS[preset]
    t = TRAINING_PRESETS[p.training]
    out = Path(output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    train_file, test_file = split_frames(generate(out, reference, t, seed, progress), out, seed)
    members = {family: [train_once(training_config(
        [train_file], out / "features.h5", out / f"{family}_{k}", family == "nnp_gdf",
        t.epochs, t.batch_size, seed * 100 + k, progress, [test_file]))
        for k in range(p.members)] for family in POTENTIALS}
    sets = {"train": train_file, **new_configurations(out, reference, p, seed, progress)}
    results = {"preset": preset, "reference": reference, "seed": seed, "members": p.members,
               "spread": {}}
    for family, pots in members.items():
        results["spread"][family] = {}
        for name, path in sets.items():
            signals = atom_signals(pots[0], read_structures(path), pots[1:])
            results["spread"][family][name] = spread_summary(
                signals.rho, signals.ensemble_std, signals.force_error)
    for name in sets:
        error_vs_gdf({family: results["spread"][family][name]["per_gdf_bin"]
                      for family in POTENTIALS}, out / f"spread_vs_gdf_{name}.png",
                     "force spread of the ensemble (eV/Å)")
    write_results(out, results, report(results))
    return results


def table(results: dict) -> tuple[list[str], list[list]]:
    """The report's headers and rows (one row per family and frame set)."""
    rows = [[f"{family} {name}", s["mean_spread"], s["rarest_10pc_spread"],
             s["spearman_vs_inverse_rho"], s["spearman_vs_error"], s["force_rmse"]]
            for family, per in results["spread"].items() for name, s in per.items()]
    return ["ensemble, frames", "mean spread eV/Å", "rarest 10 % spread eV/Å",
            "Spearman spread vs 1/rho", "Spearman spread vs error", "F RMSE eV/Å"], rows


def report(results: dict) -> str:
    return "\n".join([
        f"# Ensembles ({results['preset']} preset, reference {results['reference']}, "
        f"seed {results['seed']}, {results['members']} members per family)", "",
        "Spread: sqrt(mean over members of |F_k - mean F|^2) per atom; rho against the "
        "training atoms; rarest 10 % by rho. New frames (interstitial, trivacancy; 1300 K MD) "
        "were never trained on.", "", markdown_table(*table(results)), "",
        "Figures: spread_vs_gdf_*.png (Figure S7)."])

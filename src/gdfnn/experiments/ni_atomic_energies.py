"""The paper's Figure 4: atomic energies of fcc Ni with a vacancy, where the reference has them.

The Foiles-Baskes-Daw EAM (``eam-ni``, the paper's ref. 27) defines an energy per atom, so the
NNPs' atomic energies, which no training ever sees, can be checked. A 499-atom cell (5x5x5
conventional fcc cells less one atom) runs Langevin MD 0 -> 400 K (2 fs) with the EAM; NNP-c
(eq. 1) and NNP-GDF (eq. 3) train on 90 % of the frames, on total energies and forces only.
Reported per potential, on the training and the test frames: the MAE of atomic energies
(meV) of the defect atoms (those on the 12 sites next to the vacancy, found per frame) and of
the other atoms (paper: NNP-c 16.8, NNP-GDF 2.9 meV for the defect atoms), the MAE of total
energies (meV/atom; paper 0.014 and 0.035), force RMSE, atomic-energy error against GDF rho,
and correlation plots.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import ase
from ase.build import bulk

from gdfnn.analysis.tables import markdown_table
from gdfnn.data import read_structures
from gdfnn.errors import InputError
from gdfnn.experiments.common import POTENTIALS, evaluate_splits, split_frames, train_pair
from gdfnn.experiments.report import write_results
from gdfnn.experiments.sampling import cached_frames, sample_md, vacancy_neighbour_mask
from gdfnn.reference import get_reference
from gdfnn.workflows.evaluate import DEFECT_ATOMS, OTHER_ATOMS

NI_LATTICE = 3.52  # Å, fcc Ni (Ni_u3.eam)
NI_FIRST_SHELL = 3.0  # Å, between the first (2.49) and second (3.52) neighbour shells
#: The paper's numbers (Figure 4): defect-atom energy MAE (meV), total-energy MAE (meV/atom).
PAPER = {"nnp_c": (16.8, 0.014), "nnp_gdf": (2.9, 0.035)}


@dataclass(frozen=True)
class Preset:
    """Sizes: MD steps (2 fs), snapshot interval, training epochs."""

    steps: int
    interval: int
    epochs: int
    batch_size: int = 8


PRESETS = {
    "full": Preset(steps=4000, interval=20, epochs=1000),  # 200 frames, 99,800 atoms
    "quick": Preset(steps=1000, interval=20, epochs=300),  # 50 frames
    "tiny": Preset(steps=60, interval=10, epochs=3, batch_size=2),  # 5 + 1 frames
}


def ni_with_vacancy(repeat: int = 5) -> tuple[ase.Atoms, ase.Atoms]:
    """The perfect fcc Ni cell (``repeat``^3 conventional cells) and a copy without atom 0."""
    perfect = bulk("Ni", "fcc", a=NI_LATTICE, cubic=True) * repeat
    vacancy = perfect.copy()
    del vacancy[0]
    return perfect, vacancy


def run_ni_atomic_energies(output: str | Path = "ni_atomic_energies", *, preset: str = "quick",
                           reference: str = "eam-ni", seed: int = 0, progress: bool = True
                           ) -> dict:
    """Run the whole experiment; writes results.json, report.md and PNGs into ``output``."""
    if reference != "eam-ni":
        raise InputError(f"ni-atomic-energies runs on eam-ni (it needs the reference's own "
                         f"atomic energies), not {reference}")
    p = PRESETS[preset]
    out = Path(output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    perfect, start = ni_with_vacancy()
    data = cached_frames(
        out / "data.xyz", {"reference": reference, "steps": p.steps, "interval": p.interval,
                           "seed": seed},
        lambda: sample_md(start, get_reference(reference), temperature_start=0.0,
                          temperature_end=400.0, steps=p.steps, interval=p.interval,
                          timestep_fs=2.0, seed=seed,
                          defect=lambda atoms: vacancy_neighbour_mask(
                              atoms, perfect.positions, NI_FIRST_SHELL),
                          config_type="vacancy_md", progress=progress))
    train_file, test_file = split_frames(data, out, seed)
    potentials = train_pair(out, train_file, test_file, p.epochs, p.batch_size, seed, progress)
    results = {"preset": preset, "reference": reference, "seed": seed, "settings": asdict(p)}
    results.update(evaluate_splits(potentials, out, {
        "train": read_structures(train_file), "test": read_structures(test_file)}))
    write_results(out, results, report(results))
    return results


def table(results: dict) -> tuple[list[str], list[list]]:
    """The report's headers and rows (one row per potential)."""
    rows = []
    for name in POTENTIALS:
        row = [name]
        for split in ("train", "test"):
            r = results[split][name]
            row += [r["subsets"][DEFECT_ATOMS]["atomic_energy_mev"]["mae"],
                    r["subsets"][OTHER_ATOMS]["atomic_energy_mev"]["mae"],
                    r["energy_mev_atom"]["mae"], r["force"]["rmse"]]
        rows.append([*row, *PAPER[name]])
    headers = ["potential"]
    for split in ("train", "test"):
        headers += [f"{split} E_i MAE defect meV", f"{split} E_i MAE other meV",
                    f"{split} E MAE meV/atom", f"{split} F RMSE eV/Å"]
    return [*headers, "paper E_i MAE defect meV", "paper E MAE meV/atom"], rows


def report(results: dict) -> str:
    return "\n".join([
        f"# Ni atomic energies ({results['preset']} preset, reference {results['reference']}, "
        f"seed {results['seed']})", "",
        "499-atom fcc Ni with a vacancy, MD 0 -> 400 K; NNPs trained on total energies and "
        "forces only. E_i: atomic energies against the EAM's own; defect atoms: the 12 sites "
        "next to the vacancy. The last two columns are the paper's (Figure 4): defect E_i MAE "
        "(meV) and total-energy MAE (meV/atom).", "",
        markdown_table(*table(results)), "",
        "Figures: evaluation_*/atomic_energy_correlation.png, "
        "evaluation_*/atomic_energy_error_vs_gdf.png, evaluation_*/force_error_vs_gdf.png."])

"""The paper's Figure 1 experiment on a classical reference potential (stand-in for DFT).

63-atom diamond Si with one vacancy, Langevin MD with a 500 -> 1300 K ramp, a labelled
snapshot every 20 fs, 90 % of the frames for training; NNP-c (eq. 1) and NNP-GDF (eq. 3)
trained with the same seed, architecture and epochs; then force RMSE of the atoms bonded to
the vacancy (the paper's defect atoms) against the bulk atoms, error vs GDF (Figure 1c),
the feature map (Figure 1b) and the vacancy migration barrier by climbing-image NEB.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from gdfnn.analysis.plots import feature_count_map
from gdfnn.analysis.tables import markdown_table
from gdfnn.calculator import NNPCalculator
from gdfnn.data import read_structures
from gdfnn.experiments.common import (
    DEFAULT_REFERENCE,
    LATTICE,
    POTENTIALS,
    evaluate_splits,
    split_frames,
    train_pair,
)
from gdfnn.experiments.neb import migration_barrier
from gdfnn.experiments.report import write_results
from gdfnn.experiments.sampling import (
    cached_frames,
    diamond_si,
    sample_md,
    vacancy_neighbour_mask,
    with_vacancies,
)
from gdfnn.reference import get_reference
from gdfnn.workflows.evaluate import DEFECT_ATOMS, OTHER_ATOMS
from gdfnn.workflows.gdf import default_components


@dataclass(frozen=True)
class Preset:
    """Sizes of a run: MD steps (2 fs each), snapshot interval, training epochs."""

    steps: int
    interval: int
    epochs: int
    batch_size: int = 16
    neb_images: int = 5
    neb_steps: int = 400


PRESETS = {
    # 16 ps of MD, a frame every 20 fs: 800 frames, 50,400 atoms (the paper's size)
    "full": Preset(steps=8000, interval=10, epochs=1000),
    # 4 ps, 200 frames: under 10 minutes on 2 cores
    "quick": Preset(steps=2000, interval=10, epochs=500),
    # a smoke test for CI: 20 frames, a few epochs, a short NEB
    "tiny": Preset(steps=200, interval=10, epochs=3, batch_size=8, neb_images=3, neb_steps=5),
}


def generate(out: Path, reference: str, preset: Preset, seed: int, progress: bool) -> Path:
    """Sample (or reuse) the labelled frames; returns the path of ``data.xyz``."""
    perfect = diamond_si(2, LATTICE[reference])
    return cached_frames(
        out / "data.xyz", {"reference": reference, "steps": preset.steps,
                           "interval": preset.interval, "seed": seed},
        lambda: sample_md(with_vacancies(perfect, 1), get_reference(reference),
                          temperature_start=500, temperature_end=1300, steps=preset.steps,
                          interval=preset.interval, timestep_fs=2.0, seed=seed,
                          defect=lambda atoms: vacancy_neighbour_mask(atoms, perfect.positions),
                          config_type="vacancy_md", progress=progress))


def feature_map(potential, train_frames, path: Path) -> None:
    """Figure 1b for the training atoms: bulk and defect atoms apart."""
    sf = potential.descriptor
    blocks = sf.compute_many([s.atoms for s in train_frames], progress=False)
    x = potential.transforms["Si"].scaled(torch.cat([b.values for b in blocks]).double()).numpy()
    defect = np.concatenate([s.atoms.arrays["defect"].astype(bool) for s in train_frames])
    i, j = default_components(sf, "Si", x)
    names = tuple(f"G[{k}] (type {sf.functions['Si'][k].kind}, scaled)" for k in (i, j))
    feature_count_map({"bulk atoms": x[~defect][:, [i, j]],
                       "defect atoms (bonded to the vacancy)": x[defect][:, [i, j]]}, names, path)


def run_si_vacancy(output: str | Path = "si_vacancy", *, preset: str = "quick",
                   reference: str = DEFAULT_REFERENCE, seed: int = 0, progress: bool = True
                   ) -> dict:
    """Run the whole experiment; writes results.json, report.md and PNGs into ``output``.
    Potentials already trained on the same inputs in ``output`` are reused
    (:func:`~gdfnn.experiments.runs.train_once`)."""
    p = PRESETS[preset]
    out = Path(output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    train_file, test_file = split_frames(generate(out, reference, p, seed, progress), out, seed)
    potentials = train_pair(out, train_file, test_file, p.epochs, p.batch_size, seed, progress)
    train_frames = read_structures(train_file)
    test_frames = read_structures(test_file)
    results = {"preset": preset, "reference": reference, "seed": seed,
               "settings": asdict(p), "frames": {"train": len(train_frames),
                                                 "test": len(test_frames)}}
    results.update(evaluate_splits(potentials, out, {"train": train_frames,
                                                     "test": test_frames}))
    feature_map(potentials["nnp_c"], train_frames, out / "feature_map_fig1b.png")
    a = LATTICE[reference]
    neb = {"reference": migration_barrier(lambda: get_reference(reference), a,
                                          images=p.neb_images, steps=p.neb_steps)}
    for name, pot in potentials.items():
        neb[name] = migration_barrier(lambda pot=pot: NNPCalculator(pot), a,
                                      images=p.neb_images, steps=p.neb_steps)
    results["neb"] = neb
    markdown = report(results)
    write_results(out, results, markdown)
    return results


def table(results: dict) -> tuple[list[str], list[list]]:
    """The report's headers and rows (one row per potential)."""
    rows = []
    for name in POTENTIALS:
        row = [name]
        for split in ("train", "test"):
            r = results[split][name]
            row += [r["subsets"][DEFECT_ATOMS]["force"]["rmse"],
                    r["subsets"][OTHER_ATOMS]["force"]["rmse"], r["force"]["rmse"],
                    r["energy_mev_atom"]["rmse"]]
        row += [results["neb"][name]["barrier_eV"],
                results["neb"][name]["barrier_eV"] - results["neb"]["reference"]["barrier_eV"]]
        rows.append(row)
    headers = ["potential", "train F defect", "train F bulk", "train F all", "train E meV/at",
               "test F defect", "test F bulk", "test F all", "test E meV/at", "barrier eV",
               "barrier error eV"]
    return headers, rows


def report(results: dict) -> str:
    ref = results["neb"]["reference"]
    return "\n".join([
        f"# Si vacancy ({results['preset']} preset, reference {results['reference']}, "
        f"seed {results['seed']})", "",
        f"{results['frames']['train']} training and {results['frames']['test']} test frames of "
        "a 63-atom cell, 500 -> 1300 K. Force RMSE in eV/Å over Cartesian components; defect "
        "atoms = atoms bonded to the vacancy site in each frame.", "",
        markdown_table(*table(results)), "",
        f"Reference ({results['reference']}) migration barrier: {ref['barrier_eV']:.3f} eV "
        f"(NEB converged: {ref['converged']}; lowest image {ref['lowest_image_eV']:.3f} eV "
        "relative to the simple vacancy).", "",
        "Figures: evaluation_train/force_error_vs_gdf.png (Figure 1c), feature_map_fig1b.png "
        "(Figure 1b), evaluation_*/parity_*.png."])

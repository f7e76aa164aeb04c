"""Active learning with a reference potential standing in for DFT: do frames chosen by GDF
coverage (``gdfnn select``) teach a potential more per label than frames chosen at random?

Start: frames of bulk diamond Si MD (500 -> 1300 K) labelled by the reference. Each round:
Langevin MD at 1300 K *with the current potential* on a 63-atom vacancy cell and a 65-atom
tetrahedral-interstitial cell gives the candidate pool. A trajectory ends at the first
snapshot where an atom is less covered (GDF rho) than any training atom: beyond it the MD is
extrapolation, and a first, bulk-only potential melts the defect cells into frames 0.5
eV/atom above anything physical, which would spend every label on garbage (measured: the
first version of this experiment, without the stop, did). The step budget is then spent on
further trajectories with fresh velocities. ``pick`` frames are chosen by coverage or at
random from the same pool, labelled by the reference and added;
the potential is retrained from scratch. Both strategies start from the same potential and
data, with NNP-c (eq. 1) and NNP-GDF (eq. 3) training.

Scored every round on fixed test frames labelled by the reference (MD at 1300 K, never
trained on): force RMSE (eV/Å, over Cartesian components) of the defect atoms (vacancy:
atoms on sites bonded to the empty site; interstitial: atoms on a doubly occupied site and
their neighbours within 2.6 Å) and of the atoms of perfect-crystal frames.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import ase
import numpy as np
from ase import units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, thermalize_momenta

from gdfnn.analysis.metrics import error_stats
from gdfnn.analysis.plots import learning_rounds
from gdfnn.analysis.tables import markdown_table
from gdfnn.calculator import NNPCalculator
from gdfnn.data.structure import Structure
from gdfnn.experiments.common import DEFAULT_REFERENCE, LATTICE, POTENTIALS, training_config
from gdfnn.experiments.report import write_results
from gdfnn.experiments.sampling import (
    diamond_si,
    interstitial_mask,
    labelled,
    sample_md,
    vacancy_neighbour_mask,
    with_tetrahedral_interstitial,
    with_vacancies,
    write_frames,
)
from gdfnn.model.potential import Potential
from gdfnn.reference import get_reference
from gdfnn.workflows.selection import select
from gdfnn.workflows.train import train

log = logging.getLogger("gdfnn")
STRATEGIES = ("coverage", "random")
#: Å; candidate MD stops when two atoms come closer (Si-Si bonds are 2.35 Å).
MIN_SAFE_DISTANCE = 1.9


@dataclass(frozen=True)
class Preset:
    """Sizes: start frames, rounds, frames picked per round, candidate MD steps and snapshot
    interval per structure (1 fs steps), test frames per kind, training epochs."""

    start_frames: int
    rounds: int
    pick: int
    md_steps: int
    md_interval: int
    test_frames: int
    epochs: int
    batch_size: int = 16


PRESETS = {
    # the size: 50 start frames, 5 rounds of 20 (150 labelled at the end); about
    # 16 minutes a seed on 2 cores
    "quick": Preset(start_frames=50, rounds=5, pick=20, md_steps=300, md_interval=5,
                    test_frames=20, epochs=150),
    "full": Preset(start_frames=50, rounds=5, pick=20, md_steps=2000, md_interval=10,
                   test_frames=50, epochs=1000),
    "tiny": Preset(start_frames=6, rounds=1, pick=2, md_steps=12, md_interval=3,
                   test_frames=2, epochs=2, batch_size=4),
}


def held_out_frames(reference: str, preset: Preset, seed: int, progress: bool
                    ) -> dict[str, list[ase.Atoms]]:
    """Labelled test frames at 1300 K: vacancy and interstitial (with ``defect`` masks) and
    perfect crystal, sampled by the reference with their own seed."""
    calc, perfect = get_reference(reference), diamond_si(2, LATTICE[reference])
    steps, interval = 20 * preset.test_frames, 20
    common = dict(temperature_start=1300, temperature_end=1300, steps=steps, interval=interval,
                  timestep_fs=1.0, progress=progress)
    return {"vacancy": sample_md(with_vacancies(perfect), calc, seed=seed + 1000,
                                 defect=lambda a: vacancy_neighbour_mask(a, perfect.positions),
                                 config_type="test_vacancy", **common),
            "interstitial": sample_md(with_tetrahedral_interstitial(perfect), calc,
                                      seed=seed + 2000,
                                      defect=lambda a: interstitial_mask(a, perfect.positions),
                                      config_type="test_interstitial", **common),
            "bulk": sample_md(perfect, calc, seed=seed + 3000, config_type="test_bulk",
                              **common)}


def candidate_pool(potential: Potential, preset: Preset, seed: int,
                   lattice: float = LATTICE[DEFAULT_REFERENCE]) -> list[Structure]:
    """Unlabelled snapshots of MD at 1300 K with ``potential`` on the vacancy and the
    interstitial cell, ``md_steps`` steps for each, in as many trajectories (fresh
    velocities) as it takes. A trajectory ends at the first snapshot with an atom less covered
    than the least covered training atom (the MD left the training data: that snapshot is its
    last candidate, what follows is extrapolation), or where atoms come closer than 1.9 Å
    (not a candidate)."""
    perfect = diamond_si(2, lattice)
    pool = []
    for k, start in enumerate((with_vacancies(perfect), with_tetrahedral_interstitial(perfect))):
        steps_left, trajectories = preset.md_steps, 0
        while steps_left > 0:
            atoms = start.copy()
            atoms.calc = NNPCalculator(potential)
            rng = np.random.default_rng([seed, k, trajectories])
            trajectories += 1
            thermalize_momenta(atoms, temperature_K=1300, rng=rng)
            Stationary(atoms)
            dyn = Langevin(atoms, timestep=1.0 * units.fs, temperature_K=1300,
                           friction=0.01 / units.fs, fixcm=False, rng=rng)
            while steps_left > 0:
                dyn.run(preset.md_interval)
                steps_left -= preset.md_interval
                distances = atoms.get_all_distances(mic=True)[np.triu_indices(len(atoms), 1)]
                if not np.isfinite(atoms.positions).all() or distances.min() < MIN_SAFE_DISTANCE:
                    break
                pool.append(Structure(atoms.copy(), source=f"candidate MD {k}.{trajectories}",
                                      index=dyn.nsteps, group=("vacancy", "interstitial")[k]))
                if atoms.calc.get_property("uncovered", atoms).any():
                    break
        log.info("candidate MD of structure %d: %d trajectories", k, trajectories)
    return pool


def train_on(frames: list[ase.Atoms], out: Path, gdf: bool, preset: Preset, seed: int,
             progress: bool) -> Potential:
    """Train from scratch on ``frames`` in ``out`` (the experiments' settings)."""
    out.mkdir(parents=True, exist_ok=True)
    write_frames(out / "train.xyz", frames)
    return train(training_config([out / "train.xyz"], out / "features.h5", out, gdf,
                                 preset.epochs, preset.batch_size, seed, progress))


def scores(potential: Potential, tests: dict[str, list[ase.Atoms]]) -> dict[str, float]:
    """Force RMSE (eV/Å) of the defect atoms of the vacancy and interstitial frames, of
    their other atoms, and of the perfect-crystal frames."""
    errors = {}
    for kind, frames in tests.items():
        preds = potential.predict_many(frames)
        errors[kind] = (np.concatenate([p["forces"] - a.get_forces() for p, a in
                                        zip(preds, frames, strict=True)]),
                        np.concatenate([a.arrays["defect"].astype(bool) if "defect" in a.arrays
                                        else np.zeros(len(a), bool) for a in frames]))
    defect = np.concatenate([e[m] for e, m in (errors["vacancy"], errors["interstitial"])])
    other = np.concatenate([e[~m] for e, m in (errors["vacancy"], errors["interstitial"])])
    return {"defect": error_stats(defect)["rmse"],
            "defect_cell_other": error_stats(other)["rmse"],
            "bulk": error_stats(errors["bulk"][0])["rmse"]}


def run_active_learning(output: str | Path = "active_learning", *, preset: str = "quick",
                        reference: str = DEFAULT_REFERENCE, seed: int = 0,
                        progress: bool = True) -> dict:
    """Run both strategies with and without GDF; writes results.json, report.md and
    active_learning.png into ``output``."""
    p = PRESETS[preset]
    out = Path(output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    calc = get_reference(reference)
    start = sample_md(diamond_si(2, LATTICE[reference]), calc, temperature_start=500,
                      temperature_end=1300, steps=10 * p.start_frames, interval=10,
                      timestep_fs=2.0, seed=seed, config_type="bulk_md", progress=progress)
    tests = held_out_frames(reference, p, seed, progress)
    curves = {}
    for gdf in (False, True):
        name = "nnp_gdf" if gdf else "nnp_c"
        initial = train_on(start, out / name / "round0", gdf, p, seed, progress)
        first = {"round": 0, "labelled": len(start), **scores(initial, tests)}
        for strategy in STRATEGIES:
            frames, potential, rows = list(start), initial, [first]
            rng = np.random.default_rng(seed)
            for r in range(1, p.rounds + 1):
                pool = candidate_pool(potential, p, seed * 100 + r, LATTICE[reference])
                if strategy == "coverage":
                    chosen = [pool[pick.frame] for pick in select(potential, pool, p.pick)]
                else:
                    chosen = [pool[i] for i in rng.choice(len(pool), min(p.pick, len(pool)),
                                                          replace=False)]
                frames += [labelled(s.atoms, calc) for s in chosen]
                potential = train_on(frames, out / name / f"{strategy}_round{r}", gdf, p,
                                     seed, progress)
                rows.append({"round": r, "labelled": len(frames), "pool": len(pool),
                             **scores(potential, tests)})
                log.info("%s %s round %d: %s", name, strategy, r, rows[-1])
            curves[f"{name} {strategy}"] = rows
    results = {"preset": preset, "reference": reference, "seed": seed, "settings": asdict(p),
               "test_frames": {k: len(v) for k, v in tests.items()}, "curves": curves}
    seeds_figure([results], out / "active_learning.png")
    write_results(out, results, report(results))
    return results


def seeds_figure(runs: list[dict], path: Path) -> None:
    """Defect and bulk force RMSE against labelled frames, mean over the ``runs`` (results of
    several seeds) with a band of one standard deviation (none for one run)."""
    metrics = ("defect", "bulk")
    curves, spread = {}, {}
    for name in runs[0]["curves"]:
        values = {m: np.array([[r[m] for r in run["curves"][name]] for run in runs])
                  for m in metrics}
        curves[name] = ([r["labelled"] for r in runs[0]["curves"][name]],
                        {m: v.mean(0).tolist() for m, v in values.items()})
        spread[name] = {m: (v.std(0, ddof=1) if len(runs) > 1 else 0 * v[0]).tolist()
                        for m, v in values.items()}
    learning_rounds(curves, path, spread)


def labels_to_match(curve: list[dict], target: float, metric: str) -> int | None:
    """Frames added (beyond the start set) by the first round after the start whose
    ``metric`` is at or below ``target``; None if no round reaches it."""
    start = curve[0]["labelled"]
    return next((r["labelled"] - start for r in curve[1:] if r[metric] <= target), None)


def table(results: dict) -> tuple[list[str], list[list]]:
    """One row per (potential, strategy, round): labelled frames and force RMSEs."""
    rows = [[f"{name} r{r['round']}", r["labelled"], r["defect"], r["defect_cell_other"],
             r["bulk"]] for name, curve in results["curves"].items() for r in curve]
    return ["potential strategy round", "labelled frames", "F RMSE defect atoms",
            "F RMSE other atoms of defect cells", "F RMSE perfect crystal"], rows


def report(results: dict) -> str:
    lines = [f"# Active learning on {results['reference']} ({results['preset']}, seed "
             f"{results['seed']})", "", "Force RMSE in eV/Å on test frames at 1300 K never "
             "trained on.", "", markdown_table(*table(results)), ""]
    for name in POTENTIALS:
        cov, rnd = results["curves"][f"{name} coverage"], results["curves"][f"{name} random"]
        for metric in ("defect", "bulk"):
            added = rnd[-1]["labelled"] - rnd[0]["labelled"]
            needed = labels_to_match(cov, rnd[-1][metric], metric)
            lines.append(f"- {name}, {metric} atoms: random selection ends at "
                         f"{rnd[-1][metric]:.4f} eV/Å after {added} added frames; coverage "
                         "selection reaches it after "
                         + (f"{needed} ({100 * needed / added:.0f} %)." if needed is not None
                            else "none of its rounds."))
    return "\n".join(lines)

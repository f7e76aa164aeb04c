"""Study: does coverage flag the familiar? The held-out floor (gdfnn.gdf.coverage) against the
old one (the least covered training atom, its own kernel term included, at the weighting sigma),
on the same potentials, in the same run.

``mlearn``: a potential trained on every 8th mlearn Si training frame (``::8``); the share of
atoms flagged among the other training frames (``4::8``, the same distribution) and the mlearn
test frames; the error map's calibration on the test atoms (predicted against observed RMS
|dF| per decile of the prediction).

``demo``: the NNP-c potential of a ``gdfnn demo`` folder; the share of its held-out test atoms
flagged; a relaxed 215-atom vacancy cell at the training lattice, heated by a Langevin ramp from
300 K to ``--t-end`` K, stopped by the coverage check: the temperature where each stop rule ends
it (the training frames span 500-1300 K): the old floor, the held-out floor on any atom, and the
held-out floor on the frame (more atoms below it than a training frame has by chance).

    python -m benchmarks.coverage_floor mlearn [--epochs 300] [--seeds 0 1 2] [--out DIR]
    python -m benchmarks.coverage_floor demo DEMO_FOLDER [--steps 10000] [--t-end 2000]
"""

from __future__ import annotations

import argparse
import copy
import csv
import logging
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.common import print_table, set_threads
from gdfnn import NNPCalculator, Potential, train
from gdfnn.config import config_from_dict
from gdfnn.data.sources import load_sources
from gdfnn.gdf.reference import DensityReference, legacy_floor
from gdfnn.workflows.md import FLOOR, MDSettings, MDUnstableError, run_md
from gdfnn.workflows.uncertainty import calibration


def legacy(potential: Potential) -> Potential:
    """The same potential with coverage of the old kind (weighting sigma, old floor)."""
    old = copy.copy(potential)
    old.metadata = {k: v for k, v in potential.metadata.items() if k != "coverage"}
    old.gdf_reference_floor = {e: legacy_floor(DensityReference(x, old.gdf_sigma(e)))
                               for e, x in potential.gdf_reference.items()}
    old._density_references = {}
    return old


def flagged(potential: Potential, frames) -> tuple[float, int, np.ndarray, np.ndarray]:
    """(share of atoms flagged, frames with a flagged atom, rho, |dF|) over labelled frames."""
    preds = [potential.predict(s.atoms, coverage=True, stress=False) for s in frames]
    flags = np.concatenate([p["uncovered"] for p in preds])
    per_frame = sum(bool(p["uncovered"].any()) for p in preds)
    error = np.concatenate([np.linalg.norm(p["forces"] - s.forces, axis=1)
                            for p, s in zip(preds, frames, strict=True)])
    predicted = np.concatenate([p["force_error"] for p in preds])
    return float(flags.mean()), per_frame, predicted, error


def mlearn(args) -> None:
    rows, calib = [], []
    others = load_sources(["dataset:mlearn-si/train 4::8"], progress=False)
    test = load_sources(["dataset:mlearn-si/test"], progress=False)
    for seed in args.seeds:
        out = Path(args.out) / f"mlearn_seed{seed}"
        config = config_from_dict({
            "data": {"train": ["dataset:mlearn-si/train ::8"], "valid_rate": 0.2,
                     "split_seed": seed},
            "model": {"hidden": [30, 30], "activation": "tanh"},
            "training": {"epochs": args.epochs, "batch_size": 8, "learning_rate": 3e-3,
                         "final_learning_rate": 1e-5, "seed": seed, "valid_every": 10},
            "output": {"directory": str(out), "progress": False, "plots": False,
                       "properties": False}}, base_dir=Path.cwd())
        potential = train(config)
        for name, frames in (("4::8 training frames", others), ("mlearn test", test)):
            new = flagged(potential, frames)
            old = flagged(legacy(potential), frames)
            rows.append([seed, name, sum(s.n_atoms for s in frames), 100 * old[0], old[1],
                         100 * new[0], new[1], len(frames)])
        c = calibration(*flagged(potential, test)[2:])
        calib.append(c)
        print(f"seed {seed}: calibration on the mlearn test atoms, predicted / observed RMS "
              f"|dF| per decile: " + ", ".join(f"{p:.3f}/{o:.3f}" for p, o in zip(
                  c["predicted_rms"], c["observed_rms"], strict=True))
              + f"; largest deviation {100 * c['max_deviation']:.0f} %")
    print_table(["seed", "atoms", "n", "old floor: % flagged", "frames", "new floor: % flagged",
                 "frames", "of frames"], rows)
    worst = [c["max_deviation"] for c in calib]
    print(f"calibration, largest decile deviation: {100 * np.mean(worst):.0f} ± "
          f"{100 * np.std(worst):.0f} % over {len(worst)} seeds")


def demo(args) -> None:
    from ase.build import bulk
    from ase.optimize import BFGS

    from gdfnn.experiments.common import DEFAULT_REFERENCE, LATTICE

    folder = Path(args.folder)
    potential = Potential.load(folder / "nnp_c" / "potential.pt")
    test = load_sources([str(folder / "test.xyz")], progress=False)
    rows = []
    for label, pot in (("old floor", legacy(potential)), ("new floor", potential)):
        share, frames, _, _ = flagged(pot, test)
        rows.append([label, sum(s.n_atoms for s in test), 100 * share, frames, len(test)])
    print_table(["floor", "held-out atoms", "% flagged", "frames with a flagged atom",
                 "of frames"], rows)
    cell = bulk("Si", "diamond", a=LATTICE[DEFAULT_REFERENCE], cubic=True) * 3
    del cell[0]
    cell.calc = NNPCalculator(potential)
    BFGS(cell, logfile=None).run(fmax=0.01)
    cell.calc = None
    heat = MDSettings("langevin", 300.0, temperature_end=args.t_end, steps=args.steps,
                      interval=20, coverage_stop=FLOOR, seed=args.seed)
    any_atom = replace(heat, coverage_stop=potential.coverage_of("Si").floor)  # allows none
    rows = []
    for label, pot, settings in (("old floor, any atom", legacy(potential), heat),
                                 ("held-out floor, any atom", potential, any_atom),
                                 (f"held-out floor, more than "
                                  f"{potential.allowed_uncovered(cell.get_chemical_symbols())} "
                                  "atoms", potential, heat)):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                run_md(cell, NNPCalculator(pot, coverage="check"), settings, tmp,
                       progress=False)
                stopped = None
            except MDUnstableError as exc:
                stopped = str(exc).split(":")[0]
            last = list(csv.DictReader(open(Path(tmp) / "thermo.csv")))[-1]
        rows.append([label, int(last["step"]), float(last["target_K"]),
                     float(last["temperature_K"]), stopped or "ran to the end"])
    print_table(["stop rule", "last step", "target K", "temperature K", "stop"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="study", required=True)
    m = sub.add_parser("mlearn")
    m.add_argument("--epochs", type=int, default=300)
    m.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    m.add_argument("--out", default="coverage_floor_runs")
    d = sub.add_parser("demo")
    d.add_argument("folder")
    d.add_argument("--steps", type=int, default=10000)
    d.add_argument("--t-end", type=float, default=2000.0)
    d.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    set_threads(2)
    logging.basicConfig(level=logging.WARNING)
    (mlearn if args.study == "mlearn" else demo)(args)


if __name__ == "__main__":
    main()

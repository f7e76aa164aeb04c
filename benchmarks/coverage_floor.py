"""Study: does coverage flag the familiar? The held-out floor (gdfnn.gdf.coverage) against the
old one (the least covered training atom, its own kernel term included, at the weighting sigma),
on the same potentials, in the same run.

``mlearn``: a potential trained on every 8th mlearn Si training frame (``::8``); the share of
atoms flagged among the other training frames (``4::8``, the same distribution) and the mlearn
test frames; the error map's calibration on the test atoms (predicted against observed RMS
|dF| per decile of the prediction).

``demo``: the NNP-c potential of a ``gdfnn demo`` folder; the share of its held-out test atoms
flagged; a relaxed 215-atom vacancy cell at the training lattice, heated by a Langevin ramp from
300 K to ``--t-end`` K, stopped by the coverage check: the temperature where each verdict ends
it (the training frames span 500-1300 K): the old floor on any atom, and the held-out rho floor
and the rigidity ceiling on the frame (more atoms outside than a training frame has by chance).

Each row reads one verdict on the same potential: the old floor (the least covered training
atom, its own kernel term included, at the weighting sigma), the held-out rho floor
(``coverage.signal: rho``) and the last-layer rigidity ceiling (``llpr``, the default).

    python -m benchmarks.coverage_floor mlearn [--epochs 300] [--seeds 0 1 2] [--out DIR]
    python -m benchmarks.coverage_floor demo DEMO_FOLDER [--steps 10000] [--t-end 2000]
        [--fixed 300 700 1000 1300 1600 2000]
"""

from __future__ import annotations

import argparse
import copy
import csv
import logging
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import print_table, set_threads, with_signal
from gdfnn import NNPCalculator, Potential, train
from gdfnn.config import config_from_dict
from gdfnn.data.sources import load_sources
from gdfnn.gdf.coverage import LLPR, RHO
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


def verdicts(potential: Potential) -> list[tuple[str, Potential]]:
    """The old floor, the held-out rho floor and the rigidity ceiling, on one potential."""
    return [("old floor", legacy(potential)), ("rho floor", with_signal(potential, RHO)),
            ("llpr ceiling", with_signal(potential, LLPR))]


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
            row = [seed, name, sum(s.n_atoms for s in frames)]
            for _, pot in verdicts(potential):
                share, frames_flagged = flagged(pot, frames)[:2]
                row += [100 * share, frames_flagged]
            rows.append([*row, len(frames)])
        c = calibration(*flagged(potential, test)[2:])
        calib.append(c)
        print(f"seed {seed}: calibration on the mlearn test atoms, predicted / observed RMS "
              f"|dF| per decile: " + ", ".join(f"{p:.3f}/{o:.3f}" for p, o in zip(
                  c["predicted_rms"], c["observed_rms"], strict=True))
              + f"; largest deviation {100 * c['max_deviation']:.0f} %")
    print_table(["seed", "atoms", "n", *[h for name, _ in verdicts(potential)
                                         for h in (f"{name}: % flagged", "frames")],
                 "of frames"], rows)
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
    for label, pot in verdicts(potential):
        share, frames, _, _ = flagged(pot, test)
        rows.append([label, sum(s.n_atoms for s in test), 100 * share, frames, len(test)])
    print_table(["verdict", "held-out atoms", "% flagged", "frames with a flagged atom",
                 "of frames"], rows)
    cell = bulk("Si", "diamond", a=LATTICE[DEFAULT_REFERENCE], cubic=True) * 3
    del cell[0]
    cell.calc = NNPCalculator(potential)
    BFGS(cell, logfile=None).run(fmax=0.01)
    cell.calc = None
    heat = MDSettings("langevin", 300.0, temperature_end=args.t_end, steps=args.steps,
                      interval=20, coverage_stop=FLOOR, seed=args.seed)
    allowed = potential.allowed_uncovered(cell.get_chemical_symbols())
    rows = []
    for label, pot in verdicts(potential):
        label += ", any atom" if pot.legacy_coverage else f", more than {allowed} atoms"
        with tempfile.TemporaryDirectory() as tmp:
            try:
                run_md(cell, NNPCalculator(pot, coverage="check"), heat, tmp,
                       progress=False)
                stopped = None
            except MDUnstableError as exc:
                stopped = str(exc).split(":")[0]
            last = list(csv.DictReader(open(Path(tmp) / "thermo.csv")))[-1]
        rows.append([label, int(last["step"]), float(last["target_K"]),
                     float(last["temperature_K"]), stopped or "ran to the end"])
    print_table(["stop rule", "last step", "target K", "temperature K", "stop"], rows)
    if args.fixed:
        fixed_temperatures(potential, cell, args.fixed)


def fixed_temperatures(potential: Potential, cell, temperatures: list[float]) -> None:
    """Per temperature: Langevin NVT of ``cell`` (1 ps, then 6 frames 100 fs apart); the
    share of atoms outside and the frames stopped by each verdict, and the potential's real
    force error against the demo's reference (SNAP)."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    from gdfnn.experiments.common import DEFAULT_REFERENCE
    from gdfnn.reference.calculators import make_calculator

    reference = make_calculator(DEFAULT_REFERENCE)
    judges = verdicts(potential)[1:]
    allowed = potential.allowed_uncovered(cell.get_chemical_symbols())
    rows = []
    for temperature in temperatures:
        atoms = cell.copy()
        atoms.calc = NNPCalculator(potential)
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature,
                                     rng=np.random.default_rng(0))
        dyn = Langevin(atoms, units.fs, temperature_K=temperature, friction=0.02 / units.fs,
                       fixcm=False, rng=np.random.default_rng(1))
        dyn.run(1000)
        outside, stopped, errors = np.zeros(len(judges)), np.zeros(len(judges)), []
        for _ in range(6):
            dyn.run(100)
            frame = atoms.copy()
            for k, (_, pot) in enumerate(judges):
                flags = pot.predict(frame, coverage=True, stress=False)["uncovered"]
                outside[k] += flags.mean() / 6
                stopped[k] += flags.sum() > allowed
            forces = potential.predict(frame, stress=False)["forces"]
            frame.calc = reference
            errors.append(np.linalg.norm(forces - frame.get_forces(), axis=1))
        rows.append([f"{temperature:.0f}"]
                    + [v for k in range(len(judges))
                       for v in (f"{100 * outside[k]:.1f} %", f"{int(stopped[k])} of 6")]
                    + [f"{np.sqrt(np.mean(np.square(np.concatenate(errors)))):.3f}"])
    print_table(["T K", *[h for name, _ in judges for h in (f"{name}: outside", "frames stopped")],
                 "real RMS |dF| eV/Å"], rows)


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
    d.add_argument("--fixed", type=float, nargs="*", default=[], metavar="K",
                   help="also: at each of these fixed temperatures, the share outside by each "
                   "verdict and the real force error against the reference")
    args = parser.parse_args()
    set_threads(2)
    logging.basicConfig(level=logging.WARNING)
    (mlearn if args.study == "mlearn" else demo)(args)


if __name__ == "__main__":
    main()

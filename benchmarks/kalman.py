"""Benchmark: the Kalman filter against Adam at equal wall time, and against n2p2's nnp-train.

mlearn Si (the default): per seed, ``gdfnn train`` with ``training.optimizer: kalman`` for
``--kalman-epochs`` epochs, then with Adam for the wall time that run took (its epoch count
from a 20-epoch probe of the same config); the packaged set (26 functions, 30-30 tanh, no
stress), errors of each run's ``metrics.json`` (test split), mean ± std over the seeds.

An n2p2 training folder (``--n2p2 DIR``, e.g. n2p2's ``examples/nnp-train/H2O_RPBE-D3``, in
its units): ``mpirun -np RANKS nnp-train`` on a copy of the folder as it is, timed; then, on
n2p2's own split (its ``train.data`` / ``test.data``, nothing else held out), ``gdfnn train``
on the same folder settings with the Kalman filter (n2p2's epochs, and n2p2's wall time) and
with Adam for n2p2's wall time, per seed (n2p2's own seed as given); all evaluated by one tool (``gdfnn
evaluate``, n2p2's last epoch). Skipped, with the reason, where ``nnp-train`` is not found
(``--nnp-train``, else on PATH). n2p2 is GPL-3.0 and not shipped: build it from its source
(CompPhysVienna/n2p2; Debian's libeigen3-dev, libgsl-dev, libopenmpi-dev; ``cd src && make
libnnptrain && make nnp-train``).

    python -m benchmarks.kalman [--seeds 0 1 2] [--kalman-epochs 40] [--kalman KEY=VALUE ...]
    python -m benchmarks.kalman --n2p2 DIR --length-unit bohr --energy-unit hartree [--epochs N]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from benchmarks.common import print_table
from benchmarks.memory import run_child

PROBE_EPOCHS = 20


def gdfnn(*args: str, log: Path) -> float:
    """Run ``python -m gdfnn ARGS`` (output into ``log``); its wall time (s)."""
    start = time.perf_counter()
    run_child(list(args), log)
    return time.perf_counter() - start


def train(values: dict, directory: Path) -> float:
    """Train the config ``values`` into ``directory``; the seconds of its epochs."""
    values = {**values, "output": {"directory": str(directory), "progress": False,
                                   "plots": False, "properties": False}}
    directory.mkdir(parents=True, exist_ok=True)
    config = directory.with_suffix(".yaml")
    config.write_text(yaml.safe_dump(values))
    gdfnn("train", str(config), log=directory.with_suffix(".log"))
    rows = csv.DictReader(open(directory / "learning_curve.csv"))
    return sum(float(r["seconds"]) for r in rows)


def with_training(values: dict, **training) -> dict:
    return {**values, "training": {**values.get("training", {}), **training}}


def for_seconds(values: dict, optimizer: str, seconds: float, directory: Path,
                probe_epochs: int = PROBE_EPOCHS) -> tuple[int, float]:
    """``optimizer`` for about ``seconds`` of epochs, their count from a probe of
    ``probe_epochs``: (epochs, their seconds), the run in ``directory / optimizer``."""
    probe = train(with_training(values, optimizer=optimizer, epochs=probe_epochs,
                                valid_every=probe_epochs), directory / f"probe_{optimizer}")
    epochs = max(1, round(seconds / (probe / probe_epochs)))
    return epochs, train(with_training(values, optimizer=optimizer, epochs=epochs,
                                       valid_every=max(1, epochs // 40)),
                         directory / optimizer.lower())


def kalman_settings(pairs: list[str]) -> dict:
    """``training.kalman`` values from ``KEY=VALUE`` pairs (YAML values)."""
    try:
        return {k: yaml.safe_load(v) for k, v in (pair.split("=", 1) for pair in pairs)}
    except ValueError:
        raise SystemExit(f"--kalman: expected KEY=VALUE pairs, got {pairs}") from None


def mean_std(values: list[float], digits: int) -> str:
    v = np.asarray(values, float)
    spread = f" ± {v.std(ddof=1):.{digits}f}" if v.size > 1 else ""
    return f"{v.mean():.{digits}f}{spread}"


def mlearn(args: argparse.Namespace, work: Path) -> None:
    values = {"data": {"train": ["dataset:mlearn-si/train"], "test": ["dataset:mlearn-si/test"],
                       "valid_rate": 0.1, "use_stress": False},
              "gdf": {"enabled": False}, "model": {"hidden": [30, 30], "activation": "tanh"},
              "training": {"force_coeff": 0.1, "kalman": kalman_settings(args.kalman)}}
    runs: dict[str, list[dict]] = {"kalman": [], "adam": []}
    for seed in args.seeds:
        seeded = with_training(values, seed=seed)
        kalman = work / f"s{seed}" / "kalman"
        seconds = train(with_training(seeded, optimizer="kalman", epochs=args.kalman_epochs,
                                      valid_every=1), kalman)
        epochs, adam_seconds = for_seconds(seeded, "Adam", seconds, work / f"s{seed}")
        for name, folder, n, wall in (("kalman", kalman, args.kalman_epochs, seconds),
                                      ("adam", work / f"s{seed}" / "adam", epochs,
                                       adam_seconds)):
            m = json.loads((folder / "metrics.json").read_text())
            runs[name].append({"epochs": n, "seconds": wall,
                               "test E": m["test"]["energy_mev_atom"]["rmse"],
                               "test F": m["test"]["force"]["rmse"],
                               "train E": m["train"]["energy_mev_atom"]["rmse"],
                               "train F": m["train"]["force"]["rmse"]})
    columns = ["epochs", "seconds", "test E", "test F", "train E", "train F"]
    digits = {"epochs": 0, "seconds": 0, "test E": 2, "train E": 2, "test F": 4, "train F": 4}
    print(f"mlearn Si, seeds {args.seeds}: energies meV/atom, forces eV/Å, seconds of epochs")
    print_table(["optimiser", *columns],
                [[name, *(mean_std([r[c] for r in rows], digits[c]) for c in columns)]
                 for name, rows in runs.items()])


def nnp_train_binary(given: str | None) -> Path | None:
    found = given or shutil.which("nnp-train")
    return Path(found) if found and Path(found).is_file() else None


def copy_folder(folder: Path, work: Path, epochs: int | None) -> Path:
    """A copy of the nnp-train ``folder`` in ``work``, its ``epochs`` keyword replaced
    where given."""
    work.mkdir(parents=True, exist_ok=True)
    for name in ("input.nn", "input.data", "scaling.data"):
        if not (folder / name).is_file():
            raise SystemExit(f"{folder}: no {name} (an nnp-train folder needs it)")
        shutil.copy(folder / name, work / name)
    if epochs is not None:
        lines = (work / "input.nn").read_text().splitlines()
        kept = [line for line in lines if line.split()[:1] != ["epochs"]]
        (work / "input.nn").write_text("\n".join([*kept, f"epochs {epochs}"]) + "\n")
    return work


def run_n2p2(binary: Path, work: Path, ranks: int, mpirun: str) -> float:
    """nnp-train in the nnp-train folder ``work`` under ``mpirun`` (the launcher of the MPI
    nnp-train was built with); its wall time (s)."""
    command = [mpirun, "-np", str(ranks), str(binary)]
    # Open MPI refuses to run as root (containers, CI) unless told; MPICH ignores these
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    start = time.perf_counter()
    with open(work / "nnp-train.log", "w") as out:
        done = subprocess.run(command, cwd=work, stdout=out, stderr=subprocess.STDOUT, env=env)
    if done.returncode:
        raise SystemExit(f"nnp-train failed:\n{(work / 'nnp-train.log').read_text()[-2000:]}")
    return time.perf_counter() - start


def evaluation(potentials: list[Path], data: Path, units: list[str], work: Path) -> dict:
    """``gdfnn evaluate`` of ``potentials`` on ``data``: label -> (E meV/atom, F eV/Å)."""
    out = work / f"eval_{data.stem}"
    gdfnn("evaluate", *map(str, potentials), "--data", str(data), "--output", str(out),
          "--no-plots", *units, log=out.with_suffix(".log"))
    result = json.loads((out / "evaluation.json").read_text())
    return {label: (t["energy_mev_atom"]["rmse"], t["force"]["rmse"])
            for label, t in result.items()}


def n2p2(args: argparse.Namespace, work: Path) -> None:
    from gdfnn.workflows.n2p2_setup import n2p2_config_values

    binary = nnp_train_binary(args.nnp_train)
    if binary is None:
        print("skipped: nnp-train not found (--nnp-train PATH, or on PATH); build n2p2 as the "
              "module docstring says")
        return
    folder = copy_folder(Path(args.n2p2).resolve(), work / "n2p2", args.epochs)
    n2p2_seconds = run_n2p2(binary, folder, args.ranks, args.mpirun)
    split = {"train": folder / "train.data", "test": folder / "test.data"}
    values = n2p2_config_values(folder, args.length_unit, args.energy_unit)
    values["training"].setdefault("kalman", {}).update(kalman_settings(args.kalman))
    values["data"].update(train=[str(split["train"])], test=[str(split["test"])], test_rate=0.0,
                          valid_rate=0.0)
    units = ["--length-unit", args.length_unit, "--energy-unit", args.energy_unit,
             "--potential-length-unit", args.length_unit, "--potential-energy-unit",
             args.energy_unit]
    rows = [["nnp-train (Kalman)", args.ranks, "as given", f"{n2p2_seconds:.1f}"]]
    potentials = [work / "n2p2"]
    for seed in args.seeds:
        seeded, here = with_training(values, seed=seed), work / f"s{seed}"
        kalman_seconds = train(with_training(seeded, valid_every=1), here / "n2p2_epochs")
        timed, timed_seconds = for_seconds(seeded, "kalman", n2p2_seconds, here, probe_epochs=2)
        epochs, adam_seconds = for_seconds(seeded, "Adam", n2p2_seconds, here)
        rows += [[f"gdfnn Kalman, n2p2's {values['training'].get('epochs')} epochs", 1, seed,
                  f"{kalman_seconds:.1f}"],
                 [f"gdfnn Kalman, {timed} epochs", 1, seed, f"{timed_seconds:.1f}"],
                 [f"gdfnn Adam, {epochs} epochs", 1, seed, f"{adam_seconds:.1f}"]]
        potentials += [here / name / "potential.pt" for name in ("n2p2_epochs", "kalman", "adam")]
    labelled = [f"s{p.parent.parent.name[1:]}_{p.parent.name}" if p.suffix else "n2p2"
                for p in potentials]
    named = []
    for label, path in zip(labelled, potentials, strict=True):
        if path.suffix:  # evaluate names a potential.pt by its folder: one name a run
            target = work / "potentials" / label / "potential.pt"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
            path = target
        named.append(path)
    errors = {part: evaluation(named, data, units, work) for part, data in split.items()}
    keys = ["n2p2", *[label for label in labelled if label != "n2p2"]]
    table = [[*row, *(f"{errors[part][key][0]:.3f}" for part in ("test", "train")),
              *(f"{errors[part][key][1]:.4f}" for part in ("test", "train"))]
             for row, key in zip(rows, keys, strict=True)]
    print(f"{Path(args.n2p2).name}: n2p2's split ({args.ranks} MPI ranks for nnp-train, gdfnn's "
          "threads); energies meV/atom, forces eV/Å; one evaluation (gdfnn evaluate)")
    print_table(["run", "ranks", "seed", "seconds", "test E", "train E", "test F", "train F"],
                table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--kalman-epochs", type=int, default=40)
    parser.add_argument("--n2p2", default=None, help="an nnp-train folder (input.nn, "
                        "input.data, scaling.data)")
    parser.add_argument("--length-unit", default="angstrom")
    parser.add_argument("--energy-unit", default="ev")
    parser.add_argument("--nnp-train", default=None, help="the nnp-train binary")
    parser.add_argument("--ranks", type=int, default=2, help="MPI ranks of nnp-train")
    parser.add_argument("--mpirun", default="mpirun", help="the MPI launcher nnp-train was "
                        "built for (e.g. mpirun.openmpi)")
    parser.add_argument("--epochs", type=int, default=None, help="n2p2 epochs (default: the "
                        "folder's), the Kalman filter's too")
    parser.add_argument("--kalman", nargs="*", default=[], metavar="KEY=VALUE",
                        help="training.kalman settings of gdfnn's filter (e.g. observations=2)")
    parser.add_argument("--work", default=None, help="folder for the runs (default: a "
                        "temporary one, removed at the end)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.work or scratch).resolve()
        n2p2(args, work) if args.n2p2 else mlearn(args, work)


if __name__ == "__main__":
    main()

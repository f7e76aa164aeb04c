"""Benchmark: the cost of coverage (GDF rho of every atom against the training atoms) beside
the force call it rides on.

Potential: the 26-D default Si set and 26-30-30-1 network of ``benchmarks.md``; its GDF
reference: the scaled features of rattled 64-atom diamond cells (0.05-0.25 Å), 12,800 and
51,200 atoms, with the coverage width and held-out floor gdfnn train gives them, exact and
compressed (``gdf.reference.compress_reference``, what ``gdfnn
train`` stores above 50 MB). Query: one rattled 64-atom cell. Printed: the force call alone
(``Potential.predict``) and with ``coverage=True`` (exact rho of every atom), and the ASE
calculator's call alone and with ``coverage="check"`` (which atoms are uncovered, by the
cluster search with per-atom hints, as an MD step makes them), measured in the same run.

    python -m benchmarks.coverage [--quick]
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
import torch
from ase.build import bulk

from benchmarks.common import best_time, print_table, set_threads
from benchmarks.md import potential
from gdfnn import Potential
from gdfnn.gdf.coverage import CoverageSettings, coverage_metadata, fit_element_coverage
from gdfnn.gdf.reference import compress_reference


def reference(pot, n_atoms: int) -> torch.Tensor:
    frames = []
    for seed in range(n_atoms // 64):
        atoms = bulk("Si", "diamond", a=5.43, cubic=True) * 2
        atoms.rattle(0.05 + 0.2 * (seed % 5) / 4, seed=seed)
        frames.append(atoms)
    blocks = pot.descriptor.compute_many(frames, progress=False)
    return pot.transforms["Si"].scaled(torch.cat([b.values for b in blocks]).double())


def calculator_time(pot, atoms, coverage, repeats: int) -> float:
    """One call of the ASE calculator on ``atoms`` (its neighbour list and, for the check,
    its per-atom hints warm from the call before, as in MD)."""
    from ase.calculators.calculator import all_changes

    from gdfnn import NNPCalculator

    calc = NNPCalculator(pot, coverage=coverage)
    calc.calculate(atoms, ["energy", "forces"], all_changes)  # warm: lists, hints, clusters
    return best_time(lambda: calc.calculate(atoms, ["energy", "forces"], all_changes),
                     repeats=repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    set_threads(2)
    pot = potential()
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * 2
    atoms.rattle(0.1, seed=12345)
    repeats = 3 if args.quick else 7
    plain = best_time(lambda: pot.predict(atoms), repeats=repeats)
    rows = [["-", "force call alone", f"{plain * 1e3:.2f}", "-"]]
    plain_calc = calculator_time(pot, atoms, False, repeats)
    rows.append(["-", "calculator call alone", f"{plain_calc * 1e3:.2f}", "-"])
    for n_atoms in (12_800, 51_200):
        points = reference(pot, n_atoms)
        settings = CoverageSettings()  # the width and floor gdfnn train would give
        coverage = fit_element_coverage(points, np.arange(n_atoms) // 64, None, settings)
        metadata = {"coverage": coverage_metadata({"Si": coverage}, settings)}
        compressed = compress_reference(points, coverage.sigma)
        for label, refs, counts in [("exact", points, None),
                                    (f"compressed to {compressed.centroids.shape[0]:,} "
                                     f"(rho error {compressed.max_rel_error:.1e})",
                                     compressed.centroids, compressed.counts)]:
            carrier = Potential(pot.descriptor, dict(pot.transforms), pot.networks, metadata,
                                {"Si": refs}, None if counts is None else {"Si": counts})
            t = best_time(partial(carrier.predict, atoms, coverage=True), repeats=repeats)
            rows.append([f"{n_atoms:,}", f"with coverage, {label}", f"{t * 1e3:.2f}",
                         f"{100 * (t - plain) / plain:+.0f} %"])
            t = calculator_time(carrier, atoms, "check", repeats)
            rows.append([f"{n_atoms:,}", f"calculator, coverage check, {label}",
                         f"{t * 1e3:.2f}", f"{100 * (t - plain_calc) / plain_calc:+.0f} %"])
    print_table(["reference atoms", "64-atom Si call", "ms", "extra vs force call"], rows)


if __name__ == "__main__":
    main()

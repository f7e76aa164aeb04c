"""Benchmark: one MD step (energy + forces + velocity Verlet) with a gdfnn potential.

Potential: SIMPLE-NN's 26-D default Si set, 26-30-30-1 sigmoid network (weights random: the
cost does not depend on them). Systems: 64-atom and 512-atom diamond Si at ~600 K. Ours with
the neighbour list reused (skin 0.5 Å) and rebuilt every step (skin 0), against, in the same
run, torchani's AEVComputer with a 26-30-30-1 MLP (energy + autograd forces) on the same atoms.

    python -m benchmarks.md [--quick]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TORCHANI_NO_WARN_EXTENSIONS", "1")

import numpy as np
import torch
from ase import units
from ase.build import bulk
from ase.md.velocitydistribution import thermalize_momenta
from ase.md.verlet import VelocityVerlet

from benchmarks.common import best_time, print_table, set_threads
from benchmarks.featurize import torchani_forces
from gdfnn import NNPCalculator, Potential, SymmetryFunctions
from gdfnn.model.network import AtomicEnergies
from gdfnn.model.scaling import ElementTransform


def potential() -> Potential:
    sf = SymmetryFunctions.default(["Si"])
    torch.manual_seed(0)
    model = AtomicEnergies(["Si"], sf.n_features, [30, 30], "sigmoid").double()
    transform = ElementTransform(torch.zeros(26, dtype=torch.float64),
                                 torch.ones(26, dtype=torch.float64) * 5)
    return Potential(sf, {"Si": transform}, model)


def md_step_time(pot: Potential, atoms, skin: float, steps: int) -> float:
    atoms = atoms.copy()
    thermalize_momenta(atoms, temperature_K=600, rng=np.random.default_rng(0))
    atoms.calc = NNPCalculator(pot, skin=skin)
    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    return best_time(lambda: dyn.run(steps), repeats=3) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    set_threads(2)
    pot = potential()
    rows = []
    for repeat in (2, 4):
        atoms = bulk("Si", "diamond", a=5.43, cubic=True) * repeat
        atoms.rattle(0.05, seed=1)
        steps = 5 if args.quick else 20
        reuse = md_step_time(pot, atoms, 0.5, steps)
        rebuild = md_step_time(pot, atoms, 0.0, steps)
        run, _ = torchani_forces([atoms])
        peer = best_time(run, repeats=3)
        for label, t in [("ours, skin 0.5 Å", reuse), ("ours, list rebuilt", rebuild),
                         ("torchani AEV + MLP, E+F", peer)]:
            rows.append([len(atoms), label, f"{t * 1000:.1f}", f"{1 / t:.1f}",
                         f"{peer / t:.2f}"])
    print_table(["atoms", "method", "ms/step", "steps/s", "speed vs torchani"], rows)


if __name__ == "__main__":
    main()

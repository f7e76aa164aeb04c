"""Benchmark: symmetry functions with and without the sparse Jacobian dG/dR.

Structures as in the paper (63-atom Si with a vacancy, 0.1 Å displacements, 26-D default set,
Rc 6 Å) and a 512-atom cell. Peers, measured in the same run: torchani's AEVComputer (26
features, forces by autograd through a linear energy) and dscribe's ACSF (values only; the
same G2/G4 functions). Prints atoms/s and the ratio of ours to the fastest peer that also
gives forces.

    python -m benchmarks.featurize [--quick]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TORCHANI_NO_WARN_EXTENSIONS", "1")

import numpy as np
import torch

from benchmarks.common import (
    best_time,
    print_table,
    set_threads,
    si_cell_512,
    si_vacancy_cell,
)
from gdfnn.descriptors import SymmetryFunctions
from gdfnn.descriptors.params import DEFAULT_G2_ETA, DEFAULT_G4_ETA


def ours(sf, frames, derivatives, dtype):
    return lambda: sf.compute_many(frames, derivatives, dtype=dtype, progress=False)


def torchani_forces(frames):
    import torchani

    aev = torchani.AEVComputer.from_constants(
        radial_cutoff=6.0, angular_cutoff=5.999, radial_eta=16.0,
        radial_shifts=np.linspace(0.9, 5.5, 8).tolist(), angular_eta=8.0, angular_zeta=32.0,
        angular_shifts=np.linspace(0.9, 5.5, 3).tolist(),
        sections=np.linspace(0.2, 2.95, 6).tolist(), num_species=1).double()
    weights = torch.randn(aev.out_dim, dtype=torch.float64)
    inputs = [(torch.zeros(1, len(a), dtype=torch.long),
               torch.tensor(a.positions[None]), torch.tensor(a.cell.array),
               torch.tensor([True, True, True])) for a in frames]

    def run():
        for species, pos, cell, pbc in inputs:
            pos = pos.clone().requires_grad_(True)
            energy = (aev(species, pos, cell, pbc) @ weights).sum()
            torch.autograd.grad(energy, pos)

    return run, aev.out_dim


def dscribe_values(frames):
    from dscribe.descriptors import ACSF

    g4 = [[eta, zeta, lam] for eta in DEFAULT_G4_ETA for zeta in (1, 2, 4) for lam in (-1, 1)]
    acsf = ACSF(species=["Si"], r_cut=6.0, g2_params=[[eta, 0.0] for eta in DEFAULT_G2_ETA],
                g4_params=g4, periodic=True)
    return lambda: acsf.create(frames, n_jobs=1)


def jacobian_bytes_per_atom(sf, atoms, dtype):
    block = sf.compute(atoms, derivatives=True, dtype=dtype)
    return (block.dG.numel() * block.dG.element_size() + block.pairs.numel() * 8) / len(atoms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer frames and repeats")
    args = parser.parse_args()
    sf = SymmetryFunctions.default(["Si"])
    cases = {"63-atom vacancy": [si_vacancy_cell(s) for s in range(8 if args.quick else 32)],
             "512-atom cell": [si_cell_512(s) for s in range(1 if args.quick else 4)]}
    repeats = 3 if args.quick else 5
    rows = []
    for name, frames in cases.items():
        n_atoms = sum(len(a) for a in frames)
        for threads in (1, 2):
            set_threads(threads)
            rate = {}
            for label, deriv, dtype in [("ours values f64", False, torch.float64),
                                        ("ours values f32", False, torch.float32),
                                        ("ours values+dG/dR f64", True, torch.float64),
                                        ("ours values+dG/dR f32", True, torch.float32)]:
                rate[label] = n_atoms / best_time(ours(sf, frames, deriv, dtype), repeats)
            run, _ = torchani_forces(frames)
            rate["torchani AEV+forces f64"] = n_atoms / best_time(run, repeats)
            rate["dscribe ACSF values"] = n_atoms / best_time(dscribe_values(frames), repeats)
            best_peer = rate["torchani AEV+forces f64"]
            for label, value in rate.items():
                ratio = value / best_peer
                rows.append([name, threads, label, f"{value:,.0f}", f"{ratio:.2f}"])
    print_table(["structure", "threads", "method", "atoms/s", "/ torchani forces"], rows)
    atoms = cases["63-atom vacancy"][0]
    for dtype in (torch.float64, torch.float32):
        kb = jacobian_bytes_per_atom(sf, atoms, dtype) / 1024
        print(f"sparse dG/dR + pair indices, {dtype}: {kb:.1f} KiB per atom "
              f"({kb * len(atoms) / 1024:.2f} MiB per 63-atom structure)")


if __name__ == "__main__":
    main()

"""Benchmark: which per-atom signal predicts the force error: gdfnn's GDF rho, QUESTS's dH,
a 4-model ensemble?

QUESTS (Schwalbe-Koda et al., Nat. Commun. 2025; ``pip install quests``, not a gdfnn
dependency) scores an environment by dH(x) = -log sum_j K(x, x_j), a Gaussian kernel sum
over the training environments as the GDF is, on its own descriptor: the sorted distances to
the k = 32 nearest neighbours and their neighbours' (cutoff 5 Å), bandwidth 0.015, its
defaults. Here it gets the same training atoms the potential carries as its GDF reference
(checked: the atom counts must agree). Each potential in turn is the model (its force error
|F_pred - F_ref|, eV/Å, is what the signals should predict) and the others its ensemble;
printed are Spearman's rank correlation with the error and the recall of the worst 5 % of
atoms among the 5 % each signal flags (``gdfnn.workflows.uncertainty.score``), mean ± std
over the rotations, and the cost of each signal in ms per atom measured in the same run
(rho: the kernel sum on the symmetry functions the force call has computed already; QUESTS:
its descriptor and its kernel sum, timed after a warm-up that compiles its numba kernels;
ensemble: the other models' force calls).

    python -m benchmarks.quests --potential RUN_SEED0/potential.pt ... --train TRAIN.xyz \\
        [--valid-rate 0.1] --test "mlearn test=TEST.xyz" [--groups] [--skip-group Elastic]

``--test LABEL=FILE[,FILE...]`` may repeat: one block of rows per label (with ``--groups``,
also per group of the frames).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import print_table
from gdfnn import load_potential
from gdfnn.data import read_structures, split_by_group
from gdfnn.workflows.uncertainty import ENSEMBLE, GDF, atom_signals, score

QUESTS = "quests dH"


def quests_signal(reference: list, frames: list) -> tuple[np.ndarray, float, float]:
    """(dH ``(N,)`` of every atom of ``frames`` against ``reference``'s atoms, seconds of
    the queries' descriptors, seconds of their kernel sums)."""
    from quests.descriptor import get_descriptors
    from quests.entropy import delta_entropy

    x_ref = get_descriptors(reference)
    delta_entropy(get_descriptors(frames[:1]), x_ref[:64])  # compiles the numba kernels
    start = time.perf_counter()
    x = get_descriptors(frames)
    middle = time.perf_counter()
    dh = delta_entropy(x, x_ref)
    return dh, middle - start, time.perf_counter() - middle


def training_atoms(path: str, valid_rate: float, split_seed: int) -> list:
    """The frames of ``path`` that training kept after its validation split."""
    frames = read_structures(path)
    return [frames[k].atoms for k in split_by_group(frames, valid_rate, 0.0, split_seed).train]


def rotation_scores(potentials: list, reference: list, frames: list, groups: bool,
                    skip: set[str]) -> tuple[list[dict], dict]:
    """Per rotation, {scope: {signal: score}}; and the mean cost of each signal, ms/atom
    (and of its parts: QUESTS's descriptor and kernel sum, gdfnn's symmetry functions)."""
    atoms = [s.atoms for s in frames]
    dh, describe, kernel = quests_signal(reference, atoms)
    n_atoms = len(dh)
    potentials[0].descriptor.compute_many(atoms[:1], progress=False)  # compiled, warm
    start = time.perf_counter()
    potentials[0].descriptor.compute_many(atoms, progress=False)
    features = time.perf_counter() - start
    results = []
    cost = {QUESTS: 1e3 * (describe + kernel) / n_atoms, "quests descriptor":
            1e3 * describe / n_atoms, "gdfnn symmetry functions": 1e3 * features / n_atoms}
    for k, potential in enumerate(potentials):
        carried = sum(len(v) for v in potential.gdf_reference.values())
        if carried != sum(len(a) for a in reference):
            raise SystemExit(f"the potential carries {carried} reference atoms, the training "
                             f"frames hold {sum(len(a) for a in reference)}: not the same "
                             "reference (check --valid-rate)")
        atom_signals(potential, frames[:1], [])  # prepares the reference once (as in MD)
        data = atom_signals(potential, frames, potentials[:k] + potentials[k + 1:])
        signals = {GDF: data.signals()[GDF], QUESTS: dh, ENSEMBLE: data.ensemble_std}
        scopes = {"all": np.ones(n_atoms, bool)}
        if groups:
            scopes.update({g: data.group == g for g in dict.fromkeys(data.group)
                           if g not in skip})
        results.append({scope: {name: score(data.force_error[mask], s[mask])
                                for name, s in signals.items()}
                        for scope, mask in scopes.items()})
        for name, seconds in ((GDF, data.seconds[GDF]), (ENSEMBLE, data.seconds[ENSEMBLE])):
            cost[name] = cost.get(name, 0.0) + 1e3 * seconds / n_atoms / len(potentials)
    return results, cost


def spread(values: list[float], sign: str = "+") -> str:
    return f"{np.mean(values):{sign}.2f} ± {np.std(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--potential", nargs="+", required=True, help="2 or more potential.pt")
    parser.add_argument("--train", required=True, help="the training file of the potentials")
    parser.add_argument("--valid-rate", type=float, default=0.0)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--test", action="append", required=True, metavar="LABEL=FILE[,FILE]")
    parser.add_argument("--groups", action="store_true", help="also score each group")
    parser.add_argument("--skip-group", action="append", default=[])
    args = parser.parse_args()
    potentials = [load_potential(p) for p in args.potential]
    reference = training_atoms(args.train, args.valid_rate, args.split_seed)
    rows, costs = [], {}
    for spec in args.test:
        label, files = spec.split("=", 1)
        frames = [s for f in files.split(",") for s in read_structures(f)]
        results, cost = rotation_scores(potentials, reference, frames, args.groups,
                                         set(args.skip_group))
        costs[label] = cost
        for scope in results[0]:
            for name in (GDF, QUESTS, ENSEMBLE):
                scores = [r[scope][name] for r in results]
                rows.append([label if scope == "all" else f"{label}: {scope}",
                             scores[0]["atoms"], name,
                             spread([s["spearman"] for s in scores]),
                             spread([s["recall"] for s in scores], ""), f"{cost[name]:.3f}"])
    print(f"{len(potentials)} rotations (each potential the model, the others its ensemble); "
          f"reference: {sum(len(a) for a in reference):,} training atoms")
    print_table(["atoms", "n", "signal", "Spearman with |dF|", "recall of worst 5 %",
                 "cost ms/atom"], rows)
    for label, cost in costs.items():
        print(f"{label}: QUESTS's descriptor {cost['quests descriptor']:.3f} ms/atom of its "
              f"{cost[QUESTS]:.3f}; gdfnn's symmetry functions (values only; the force call "
              f"computes them anyway) {cost['gdfnn symmetry functions']:.3f} ms/atom")


if __name__ == "__main__":
    main()

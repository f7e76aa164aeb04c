"""Benchmark: which per-atom signal predicts the force error: gdfnn's GDF rho on the symmetry
functions, the GDF rho on the network's last hidden layer, last-layer prediction rigidity
(LLPR, :mod:`gdfnn.model.rigidity`), QUESTS's dH, a 4-model ensemble?

Latent rho: each atom's last hidden layer (the force call computes it), standardised per unit
over the training atoms, its GDF against the training atoms' at the coverage width rule
(``gdfnn.gdf.coverage.knn_width``: median 10th-neighbour distance among them). LLPR (Bigi,
Chong, Ceriotti, Grasselli 2024): with h the last hidden layer and a bias 1, C = sum over the
training atoms of h h^T (+ 1e-8 trace/H on the diagonal); per atom, energy: h^T C^-1 h;
force: trace(J C^-1 J^T), J (3, H+1) = d(sum_j h_j)/d r_i, the derivative a force call gives
when the output layer is set to one unit (H+1 force calls).

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
import copy
import time

import numpy as np
import torch

from benchmarks.common import print_table
from gdfnn import load_potential
from gdfnn.data import read_structures, split_by_group
from gdfnn.gdf.coverage import knn_width
from gdfnn.gdf.density import density
from gdfnn.model.network import linear_layers
from gdfnn.model.rigidity import fit_rigidity, last_hidden, rigidity
from gdfnn.workflows.uncertainty import ENSEMBLE, GDF, atom_signals, score

QUESTS = "quests dH"
LATENT = "latent rho"
LLPR_ENERGY = "LLPR energy"
LLPR_FORCE = "LLPR force"
SIGNALS = (GDF, LATENT, LLPR_ENERGY, LLPR_FORCE, QUESTS, ENSEMBLE)


def hidden_of(potential, atoms: list) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """(network inputs ``(N, D)``, element indices ``(N,)``, element symbols ``(N,)``) of
    every atom of ``atoms``."""
    blocks = potential.descriptor.compute_many(atoms, progress=False)
    values, species = torch.cat([b.values for b in blocks]), torch.cat([b.species for b in blocks])
    with torch.no_grad():
        inputs = potential.network_inputs(values.to(potential.dtype), species)
    return inputs, species, np.array(potential.elements)[species.numpy()]


def unit_jacobians(potential, atoms: list) -> torch.Tensor:
    """``(N, 3, H+1)``: d(sum_j h_jk)/d r_i of each atom i and unit k of the last hidden
    layer (and the bias column), one force call per unit with the output layer set to it."""
    probe = copy.deepcopy(potential)
    width = potential.networks.hidden[-1] + 1
    columns = []
    for k in range(width):
        for net in probe.networks.nets.values():
            out = linear_layers(net)[-1]
            with torch.no_grad():
                out.weight.zero_()
                out.bias.zero_()
                if k < width - 1:
                    out.weight[0, k] = 1.0
                else:
                    out.bias.fill_(1.0)
        forces = np.concatenate([p["forces"] for p in probe.predict_many(atoms)])
        columns.append(torch.from_numpy(-forces))
    return torch.stack(columns, dim=2)


def latent_signals(potential, reference: list, atoms: list) -> tuple[dict, dict]:
    """({signal: (N,) larger = less trustworthy}, {signal: seconds}) of latent rho and LLPR
    for the atoms of ``atoms`` against the training atoms ``reference``. Timed: what a query
    adds to a force call, which computes the last hidden layer anyway (the kernel sum; the
    quadratic form; for LLPR force also its H+1 force calls), not the training side (the
    width, the standardisation, C^-1)."""
    train_inputs, train_species, train_symbols = hidden_of(potential, reference)
    inputs, species, symbols = hidden_of(potential, atoms)
    train = last_hidden(potential.networks, train_inputs, train_species)
    query = last_hidden(potential.networks, inputs, species)
    inverses = fit_rigidity(potential.networks, [(train_inputs, train_species)])
    start = time.perf_counter()
    jacobian = unit_jacobians(potential, atoms)
    seconds = {LATENT: 0.0, LLPR_ENERGY: 0.0, LLPR_FORCE: time.perf_counter() - start}
    out = {name: np.zeros(len(query)) for name in seconds}
    for element in dict.fromkeys(symbols):
        mine, known = symbols == element, train_symbols == element
        h_train, h = train[known], query[mine]
        mean, std = h_train[:, :-1].mean(0), h_train[:, :-1].std(0).clamp_min(1e-12)
        z_train, z = (h_train[:, :-1] - mean) / std, (h[:, :-1] - mean) / std
        width = knn_width(z_train)
        inverse = inverses[element]
        j = jacobian[torch.from_numpy(mine)]
        start = time.perf_counter()
        rho = density(z, width, reference=z_train).numpy()
        out[LATENT][mine] = -np.log10(np.maximum(rho, 1e-300))
        middle = time.perf_counter()
        out[LLPR_ENERGY][mine] = rigidity(h, inverse).numpy()
        end = time.perf_counter()
        out[LLPR_FORCE][mine] = torch.einsum("nai,ij,naj->n", j, inverse, j).numpy()
        seconds[LATENT] += middle - start
        seconds[LLPR_ENERGY] += end - middle
        seconds[LLPR_FORCE] += time.perf_counter() - end
    return out, seconds


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
        latent, latent_seconds = latent_signals(potential, reference, atoms)
        signals = {GDF: data.signals()[GDF], **latent, QUESTS: dh, ENSEMBLE: data.ensemble_std}
        scopes = {"all": np.ones(n_atoms, bool)}
        if groups:
            scopes.update({g: data.group == g for g in dict.fromkeys(data.group)
                           if g not in skip})
        results.append({scope: {name: score(data.force_error[mask], s[mask])
                                for name, s in signals.items()}
                        for scope, mask in scopes.items()})
        for name, seconds in ((GDF, data.seconds[GDF]), (ENSEMBLE, data.seconds[ENSEMBLE]),
                              ("force call", data.seconds["force call"]),
                              *latent_seconds.items()):
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
            for name in SIGNALS:
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
              f"computes them anyway) {cost['gdfnn symmetry functions']:.3f} ms/atom; one "
              f"force call {cost['force call']:.3f} ms/atom")


if __name__ == "__main__":
    main()

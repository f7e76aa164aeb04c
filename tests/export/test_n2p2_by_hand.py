"""An n2p2 potential written by hand and evaluated by a direct implementation of n2p2's
documented formulas (sorted symmetry functions, min-max scaling, tanh network, atom_energy,
Bohr/Hartree units), independent of gdfnn's featuriser and networks."""

import math

import numpy as np
import pytest
from ase import Atoms, units

from gdfnn import datasets, load_potential

# input.nn order is deliberately not n2p2's sorted order:
# sorted: radial(eta 0.02), radial(eta 0.05), angular(eta 0.01, zeta 1, lambda 1)
INPUT_NN = """number_of_elements 1
elements Si
atom_energy Si -0.5
cutoff_type 1
scale_symmetry_functions
scale_min_short 0.0
scale_max_short 1.0
global_hidden_layers_short 1
global_nodes_short 2
global_activation_short t l
symfunction_short Si 3 Si Si 0.01 1 1.0 9.0
symfunction_short Si 2 Si 0.05 0.0 9.0
symfunction_short Si 2 Si 0.02 1.0 9.0
"""
# per sorted function: min, max (mean, sigma unused)
SCALING = [(0.5, 2.5), (0.1, 1.9), (0.05, 0.8)]
W1 = np.array([[0.3, -0.7, 0.2], [-0.4, 0.5, 0.9]])  # (hidden, inputs)
B1 = np.array([0.1, -0.2])
W2 = np.array([0.8, -1.1])
B2 = 0.05


def write_files(directory):
    (directory / "input.nn").write_text(INPUT_NN)
    (directory / "scaling.data").write_text(
        "".join(f"1 {k + 1} {lo} {hi} 0.0 1.0\n" for k, (lo, hi) in enumerate(SCALING)))
    rows, n = [], 0
    for i in range(3):
        for j in range(2):
            n += 1
            rows.append(f"{W1[j, i]} a {n} 0 {i + 1} 1 {j + 1}")
    for j in range(2):
        n += 1
        rows.append(f"{B1[j]} b {n} 1 {j + 1}")
    for i in range(2):
        n += 1
        rows.append(f"{W2[i]} a {n} 1 {i + 1} 2 1")
    rows.append(f"{B2} b {n + 1} 2 1")
    (directory / "weights.014.data").write_text("\n".join(rows) + "\n")


def direct_energy(positions_bohr):
    """Total energy in Hartree of a Si cluster, straight from n2p2's formulas."""
    rc = 9.0

    def fc(r):
        return 0.5 * (math.cos(math.pi * r / rc) + 1) if r < rc else 0.0

    n = len(positions_bohr)
    total = 0.0
    for i in range(n):
        g = [0.0, 0.0, 0.0]
        others = [j for j in range(n) if j != i]
        for j in others:
            r = np.linalg.norm(positions_bohr[j] - positions_bohr[i])
            g[0] += math.exp(-0.02 * (r - 1.0) ** 2) * fc(r)
            g[1] += math.exp(-0.05 * r**2) * fc(r)
        for a, j in enumerate(others):
            for k in others[a + 1:]:
                rij = positions_bohr[j] - positions_bohr[i]
                rik = positions_bohr[k] - positions_bohr[i]
                rjk = np.linalg.norm(positions_bohr[k] - positions_bohr[j])
                dij, dik = np.linalg.norm(rij), np.linalg.norm(rik)
                cos = rij @ rik / (dij * dik)
                g[2] += (1 + cos) * math.exp(-0.01 * (dij**2 + dik**2 + rjk**2)) * fc(dij) * \
                    fc(dik) * fc(rjk)  # 2^(1 - zeta) = 1 for zeta = 1
        x = np.array([(g[k] - lo) / (hi - lo) for k, (lo, hi) in enumerate(SCALING)])
        total += W2 @ np.tanh(W1 @ x + B1) + B2 - 0.5
    return total


def test_hand_built_n2p2_potential_matches_direct_formulas(tmp_path):
    write_files(tmp_path)
    pot = load_potential(tmp_path, length_unit="bohr", energy_unit="hartree")
    rng = np.random.default_rng(0)
    positions = rng.uniform(0, 4.0, (5, 3))  # Å
    atoms = Atoms("Si5", positions=positions)
    out = pot.predict(atoms)
    bohr = positions / units.Bohr
    assert out["energy"] == pytest.approx(direct_energy(bohr) * units.Hartree, rel=1e-12)
    h = 1e-6
    for atom, axis in [(0, 0), (3, 2)]:
        plus, minus = bohr.copy(), bohr.copy()
        plus[atom, axis] += h
        minus[atom, axis] -= h
        force = -(direct_energy(plus) - direct_energy(minus)) / (2 * h) * units.Hartree / units.Bohr
        assert out["forces"][atom, axis] == pytest.approx(force, rel=1e-6, abs=1e-8)


def test_published_n2p2_si_potential_reproduces_n2p2_accuracy():
    from gdfnn.data import read_structures

    pot = load_potential("dataset:mlearn-n2p2-si", length_unit="bohr", energy_unit="hartree")
    e_err, f_err = [], []
    for s in read_structures(datasets.path("mlearn-si", "test")):
        out = pot.predict(s.atoms)
        e_err.append((out["energy"] - s.energy) / s.n_atoms)
        f_err.append(out["forces"] - s.forces)
    f_err = np.concatenate(f_err)
    # n2p2 itself: 5.6 meV/atom energy MAE, 0.11 eV/Å force MAE, 0.17 eV/Å force RMSE
    assert 1000 * np.abs(e_err).mean() == pytest.approx(5.6, abs=0.2)
    assert np.abs(f_err).mean() == pytest.approx(0.11, abs=0.005)
    assert np.sqrt((f_err**2).mean()) == pytest.approx(0.17, abs=0.005)

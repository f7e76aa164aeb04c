"""Hand-written n2p2 potentials, one per scaling mode, activation, cutoff type and the
normalisation keys, read by gdfnn and compared with a direct implementation of n2p2's
documented formulas written here (plain loops; no gdfnn code): energies to 1e-10, forces
(five-point differences of the direct energy) to 1e-8 eV/Å."""

import itertools
import math

import numpy as np
import pytest
from ase import Atoms, units
from ase.data import atomic_numbers

from gdfnn import load_potential
from gdfnn.errors import InputError

ACTIVATION = {
    "l": lambda x: x, "t": math.tanh, "s": lambda x: 1 / (1 + math.exp(-x)),
    "p": lambda x: math.log(1 + math.exp(x)), "r": lambda x: max(0.0, x),
    "g": lambda x: math.exp(-x * x / 2), "c": math.cos, "S": lambda x: 1 - 1 / (1 + math.exp(-x)),
    "e": lambda x: math.exp(-x), "h": lambda x: x * x,
}
SCALING_KEYS = {"none": [], "scale": ["scale_symmetry_functions"],
                "center": ["center_symmetry_functions"],
                "scale_center": ["scale_symmetry_functions", "center_symmetry_functions"],
                "sigma": ["scale_symmetry_functions_sigma"]}


def sort_key(f):
    """n2p2's order: type, rc, eta, rs, zeta, lambda, neighbour elements by atomic number."""
    t, e1, e2, eta, rs, lam, zeta, rc = f
    tail = (zeta, lam, *sorted(atomic_numbers[e] for e in (e1, e2))) if t != 2 else \
        (atomic_numbers[e1],)
    return (t, rc, eta, rs, *tail)


def make_case(elements=("Si",), scaling="scale", smin=0.0, smax=1.0, codes=("t",),
              cutoff=(1, 0.0), normalise=None, seed=0):
    """A random but fixed potential: per element, its functions (n2p2 order), scaling
    statistics and weights; ``normalise`` = (mean_energy, conv_energy, conv_length)."""
    rng = np.random.default_rng(seed)
    functions = {}
    for centre in elements:
        fs = [(2, e, "", eta, rs, 0, 0, 7.0) for e in elements for eta, rs in
              [(0.02, 1.0), (0.05, 0.0)]]
        fs += [(t, a, b, eta, rs, lam, zeta, 7.0) for a, b in itertools.combinations_with_replacement(
            elements, 2) for t, eta, rs, lam, zeta in [(3, 0.01, 0.0, 1.0, 1.0),
                                                       (9, 0.02, 0.5, -1.0, 2.0)]]
        functions[centre] = sorted(fs, key=sort_key)
    hidden = [3] * len(codes)
    case = {"elements": list(elements), "functions": functions, "scaling": scaling,
            "smin": smin, "smax": smax, "codes": list(codes), "cutoff": cutoff,
            "normalise": normalise, "atom_energy": {e: -0.3 - 0.1 * k
                                                    for k, e in enumerate(elements)},
            "stats": {}, "weights": {}}
    for e in elements:
        d = len(functions[e])
        gmin = rng.uniform(0.0, 0.5, d)
        case["stats"][e] = np.stack([gmin, gmin + rng.uniform(0.5, 2.0, d),
                                     gmin + rng.uniform(0.1, 0.5, d), rng.uniform(0.2, 0.9, d)], 1)
        widths = [d, *hidden, 1]
        case["weights"][e] = [(rng.normal(0, 0.5, (widths[k + 1], widths[k])),
                               rng.normal(0, 0.2, widths[k + 1])) for k in range(len(widths) - 1)]
    return case


def write_case(case, directory):
    elements = sorted(case["elements"], key=atomic_numbers.get)
    kind, alpha = case["cutoff"]
    lines = [f"number_of_elements {len(elements)}", "elements " + " ".join(elements),
             f"cutoff_type {kind} {alpha}", f"global_hidden_layers_short {len(case['codes'])}",
             "global_nodes_short " + " ".join("3" for _ in case["codes"]),
             "global_activation_short " + " ".join(case["codes"]) + " l"]
    lines += [f"atom_energy {e} {v}" for e, v in case["atom_energy"].items()]
    lines += SCALING_KEYS[case["scaling"]]
    if case["scaling"] != "none":
        lines += [f"scale_min_short {case['smin']}", f"scale_max_short {case['smax']}"]
    if case["normalise"]:  # as nnp-norm writes it: the three keys switch normalisation on
        mean, conv_e, conv_l = case["normalise"]
        lines += [f"mean_energy {mean}", f"conv_energy {conv_e}", f"conv_length {conv_l}"]
    for e in elements:  # written in reverse: n2p2 (and gdfnn) sort them
        for t, e1, e2, eta, rs, lam, zeta, rc in reversed(case["functions"][e]):
            if t == 2:
                lines.append(f"symfunction_short {e} 2 {e1} {eta} {rs} {rc}")
            else:
                lines.append(f"symfunction_short {e} {t} {e1} {e2} {eta} {lam} {zeta} {rc} {rs}")
    (directory / "input.nn").write_text("\n".join(lines) + "\n")
    rows = [f"{n + 1} {k + 1} " + " ".join(repr(float(v)) for v in case["stats"][e][k])
            for n, e in enumerate(elements) for k in range(len(case["functions"][e]))]
    (directory / "scaling.data").write_text("\n".join(rows) + "\n")
    for e in elements:
        out, count = [], 0
        for layer, (w, b) in enumerate(case["weights"][e]):
            for i in range(w.shape[1]):
                for j in range(w.shape[0]):
                    count += 1
                    out.append(f"{float(w[j, i])!r} a {count} {layer} {i + 1} {layer + 1} {j + 1}")
            for j in range(w.shape[0]):
                count += 1
                out.append(f"{float(b[j])!r} b {count} {layer + 1} {j + 1}")
        (directory / f"weights.{atomic_numbers[e]:03d}.data").write_text("\n".join(out) + "\n")


def direct_energy(case, symbols, positions, fc):
    """Total energy (file units) of a cluster from n2p2's formulas."""
    kind, alpha = case["cutoff"]
    total = 0.0
    for i, centre in enumerate(symbols):
        g = []
        others = [j for j in range(len(symbols)) if j != i]
        for t, e1, e2, eta, rs, lam, zeta, rc in case["functions"][centre]:
            value = 0.0
            if t == 2:
                for j in others:
                    r = np.linalg.norm(positions[j] - positions[i])
                    if symbols[j] == e1:
                        value += math.exp(-eta * (r - rs) ** 2) * fc(r, rc, kind, alpha)
            else:
                for a, j in enumerate(others):
                    for k in others[a + 1:]:
                        if sorted((symbols[j], symbols[k])) != sorted((e1, e2)):
                            continue
                        u, v = positions[j] - positions[i], positions[k] - positions[i]
                        rij, rik = np.linalg.norm(u), np.linalg.norm(v)
                        rjk = np.linalg.norm(positions[k] - positions[j])
                        cos = u @ v / (rij * rik)
                        term = 2 ** (1 - zeta) * (1 + lam * cos) ** zeta * fc(rij, rc, kind, alpha) \
                            * fc(rik, rc, kind, alpha)
                        exponent = (rij - rs) ** 2 + (rik - rs) ** 2
                        if t == 3:
                            exponent += (rjk - rs) ** 2
                            term *= fc(rjk, rc, kind, alpha)
                        value += term * math.exp(-eta * exponent)
            g.append(value)
        gmin, gmax, mean, sigma = case["stats"][centre].T
        g = np.array(g)
        smin, smax = case["smin"], case["smax"]
        x = {"none": g, "scale": smin + (smax - smin) * (g - gmin) / (gmax - gmin),
             "center": g - mean, "scale_center": smin + (smax - smin) * (g - mean) / (gmax - gmin),
             "sigma": smin + (smax - smin) * (g - mean) / sigma}[case["scaling"]]
        layers = case["weights"][centre]
        for (w, b), code in zip(layers[:-1], case["codes"], strict=True):
            x = np.array([ACTIVATION[code](v) for v in w @ x + b])
        w, b = layers[-1]
        energy = float((w @ x + b)[0])
        if case["normalise"]:
            mean_energy, conv_energy, _ = case["normalise"]
            energy = energy / conv_energy + mean_energy
        total += energy + case["atom_energy"][centre]
    return total


CASES = {
    "scale, tanh": make_case(),
    "no scaling, logistic + linear": make_case(scaling="none", codes=("s", "l")),
    "center, softplus + relu": make_case(scaling="center", codes=("p", "r"), seed=1),
    "scale_center [-1, 1], gaussian + cos": make_case(scaling="scale_center", smin=-1.0, smax=1.0,
                                                      codes=("g", "c"), seed=2),
    "sigma [0.2, 0.9], revlogistic + exp + harmonic": make_case(
        scaling="sigma", smin=0.2, smax=0.9, codes=("S", "e", "h"), seed=3),
    "normalisation (mean_energy, conv_energy, conv_length)": make_case(
        normalise=(-0.7, 2.5, 1.3), seed=4),
    **{f"cutoff_type {k} alpha {a}": make_case(cutoff=(k, a), seed=5 + k)
       for k, a in [(0, 0.0), (1, 0.25), (2, 0.0), (3, 0.0), (4, 0.3), (5, 0.0), (6, 0.2),
                    (7, 0.1), (8, 0.0)]},
    "two elements, types 2 3 9 (shifted), poly2": make_case(
        elements=("O", "Si"), cutoff=(6, 0.1), codes=("t", "s"), seed=20),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hand_written_n2p2_potential_matches_its_formulas(tmp_path, cutoff_formula, name):
    case = CASES[name]
    write_case(case, tmp_path)
    pot = load_potential(tmp_path, length_unit="bohr", energy_unit="hartree")
    assert pot.descriptor.cutoff_type == case["cutoff"][0]
    rng = np.random.default_rng(7)
    symbols = [case["elements"][k % len(case["elements"])] for k in range(5)]
    positions = rng.uniform(0, 3.6, (5, 3))  # Å
    out = pot.predict(Atoms(symbols, positions=positions))
    bohr = positions / units.Bohr
    expected = direct_energy(case, symbols, bohr, cutoff_formula) * units.Hartree
    assert out["energy"] == pytest.approx(expected, rel=1e-10, abs=1e-10)
    if case["cutoff"][0] == 0:
        return  # the hard cutoff jumps: no finite differences across it
    h = 1e-3  # five-point stencil: truncation ~h^4, rounding ~1e-16 / h

    def shifted(atom, axis, step):
        moved = bohr.copy()
        moved[atom, axis] += step
        return direct_energy(case, symbols, moved, cutoff_formula)

    for atom in range(5):
        for axis in range(3):
            slope = (-shifted(atom, axis, 2 * h) + 8 * shifted(atom, axis, h)
                     - 8 * shifted(atom, axis, -h) + shifted(atom, axis, -2 * h)) / (12 * h)
            assert out["forces"][atom, axis] == pytest.approx(
                -slope * units.Hartree / units.Bohr, abs=1e-8)


def test_round_trip_keeps_cutoff_type_activations_and_shifts(tmp_path):
    case = CASES["two elements, types 2 3 9 (shifted), poly2"]
    (tmp_path / "in").mkdir()
    write_case(case, tmp_path / "in")
    pot = load_potential(tmp_path / "in", length_unit="bohr", energy_unit="hartree")
    from gdfnn.export import write_n2p2_potential

    write_n2p2_potential(pot, tmp_path / "out")
    text = (tmp_path / "out" / "input.nn").read_text()
    assert "cutoff_type 6 0.1" in text and "global_activation_short t s l" in text
    back = load_potential(tmp_path / "out")
    atoms = Atoms("OSiOSi", positions=np.random.default_rng(2).uniform(0, 3.5, (4, 3)))
    a, b = pot.predict(atoms), back.predict(atoms)
    assert b["energy"] == pytest.approx(a["energy"], rel=1e-12)
    np.testing.assert_allclose(b["forces"], a["forces"], atol=1e-11)
    path = tmp_path / "p.pt"
    pot.save(path)
    assert load_potential(path).descriptor == pot.descriptor


@pytest.mark.parametrize(("line", "message"), [
    ("normalize_nodes", "normalised node propagation"),
    ("element_nodes_short Si 5 5", "per-element network shapes"),
    ("nnp_generation 4", "nnp_generation 4 is not supported"),
    ("symfunction_short Si 20 Si 0 1 2", r"type 20 \(compact polynomial\)"),
    ("cutoff_type 11", "unknown cutoff_type 11"),
])
def test_what_gdfnn_does_not_read_is_one_clear_error(tmp_path, line, message):
    write_case(make_case(), tmp_path)
    with open(tmp_path / "input.nn", "a") as f:
        f.write(line + "\n")
    with pytest.raises(InputError, match=message) as info:
        load_potential(tmp_path)
    assert str(info.value).startswith(str(tmp_path / "input.nn"))

"""Fixtures of the descriptor tests: direct, loop-based symmetry functions written from the
formulas (independent of gdfnn's kernels): explicit periodic images, every neighbour pair
j < k visited once."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest


def neighbour_images(atoms, i: int, cutoff: float) -> list[tuple[int, np.ndarray]]:
    """(j, D_ij) for every image of every atom within ``cutoff`` of atom i (not i itself)."""
    cell = atoms.cell.array
    reach = []
    for axis in range(3):
        if atoms.pbc[axis]:
            # number of images needed along this axis: cutoff / layer spacing, rounded up
            normal = np.cross(cell[(axis + 1) % 3], cell[(axis + 2) % 3])
            spacing = abs(np.dot(cell[axis], normal)) / np.linalg.norm(normal)
            reach.append(range(-math.ceil(cutoff / spacing) - 1, math.ceil(cutoff / spacing) + 2))
        else:
            reach.append(range(1))
    out = []
    for j, pos in enumerate(atoms.positions):
        for shift in itertools.product(*reach):
            if j == i and shift == (0, 0, 0):
                continue
            vec = pos + np.dot(shift, cell) - atoms.positions[i]
            if np.linalg.norm(vec) < cutoff:
                out.append((j, vec))
    return out


def reference_features(atoms, sf, fc) -> np.ndarray:
    """(n_atoms, D) features of ``atoms`` for SymmetryFunctions ``sf``, by plain loops, with
    ``fc(r, rc, kind, alpha)`` the cutoff formula."""
    symbols = atoms.get_chemical_symbols()
    values = np.zeros((len(atoms), sf.width))
    kind, alpha = sf.cutoff_type, sf.cutoff_alpha

    def cut(r, rc):
        return fc(r, rc, kind, alpha)

    for i in range(len(atoms)):
        funcs = sf.functions[symbols[i]]
        nbrs = neighbour_images(atoms, i, sf.cutoff)
        for col, f in enumerate(funcs):
            total = 0.0
            if f.kind == 2:
                for j, vec in nbrs:
                    r = np.linalg.norm(vec)
                    if symbols[j] == f.neighbors[0]:
                        total += math.exp(-f.eta * (r - f.rs) ** 2) * cut(r, f.cutoff)
            else:
                for (j, a), (k, b) in itertools.combinations(nbrs, 2):
                    if sorted((symbols[j], symbols[k])) != sorted(f.neighbors):
                        continue
                    ra, rb, rjk = np.linalg.norm(a), np.linalg.norm(b), np.linalg.norm(b - a)
                    cos = min(max(float(np.dot(a, b)) / (ra * rb), -1.0), 1.0)  # rounding
                    term = 2.0 ** (1 - f.zeta) * (1 + f.lam * cos) ** f.zeta
                    xa, xb, xjk = ra - f.rs, rb - f.rs, rjk - f.rs
                    if f.kind == 4:
                        term *= math.exp(-f.eta * (xa**2 + xb**2 + xjk**2))
                        term *= cut(ra, f.cutoff) * cut(rb, f.cutoff) * cut(rjk, f.cutoff)
                    else:
                        term *= math.exp(-f.eta * (xa**2 + xb**2))
                        term *= cut(ra, f.cutoff) * cut(rb, f.cutoff)
                    total += term
            values[i, col] = total
    return values


@pytest.fixture(name="reference_features")
def reference_features_fixture(cutoff_formula):
    """``reference_features(atoms, sf)`` -> ``(n_atoms, D)`` from explicit loops."""
    return lambda atoms, sf: reference_features(atoms, sf, cutoff_formula)

"""Symmetry functions chosen from the data: a large candidate pool and a greedy selection of
the functions that best span the pool's features on the training atoms.

The pool (:func:`candidate_pool`), per neighbour element or pair, lengths in Å:

- radial G2 centred at 0 with widths r (eta = 1 / (2 r^2)), r evenly spaced in
  [``r_min``, ``cutoff``], and n2p2-style shifted G2: centres Rs evenly spaced from
  ``r_min`` to one spacing short of ``cutoff`` (where the cutoff function leaves nothing),
  each as wide as the spacing (eta = 1 / (2 spacing^2));
- narrow (G4) and wide (G5) angular functions, zeta 1, 2, 4, 8, 16, lambda +-1, and the
  Gaussian widths of :data:`POOL_ANGULAR_WIDTHS`.

The selection (:func:`select_columns`) is the greedy CUR selection of Imbalzano et al. (J.
Chem. Phys. 148, 241730, 2018) on the standardised features (each column zero mean, unit
variance): take the function with the largest weight (leverage) in the first principal
direction, project it out of all the others, repeat; a near-duplicate of a function taken is
left with nothing and comes last. Neither n2p2 nor SIMPLE-NN ships one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gdfnn.descriptors.params import ANGULAR_NARROW, ANGULAR_WIDE, RADIAL, SymmetryFunction

#: Radial functions of each kind (centred and shifted) per neighbour element, and the
#: smallest distance their widths and centres start from (Å).
POOL_RADIAL = 12
POOL_R_MIN = 1.5
#: Gaussian widths r (eta = 1 / (2 r^2), Å) of the angular functions, their zeta and lambda.
POOL_ANGULAR_WIDTHS = (1.5, 2.5, 4.0, 8.0)
POOL_ZETAS = (1.0, 2.0, 4.0, 8.0, 16.0)
POOL_LAMBDAS = (-1.0, 1.0)
#: Atoms of one element the selection looks at, at most (a fixed random subset of them).
SELECTION_ATOMS = 50_000


def candidate_pool(elements: list[str], cutoff: float, r_min: float = POOL_R_MIN,
                   n_radial: int = POOL_RADIAL) -> list[SymmetryFunction]:
    """The candidate functions of one centre element (the same for every centre element):
    ``2 n_radial`` radial functions per neighbour element and ``2 x 4 x 5 x 2`` angular
    ones per unordered neighbour pair (104 for one element)."""
    if not 0 < r_min < cutoff:
        raise ValueError(f"the pool needs 0 < r_min < cutoff, got {r_min} and {cutoff}")
    widths = np.linspace(r_min, cutoff, n_radial)
    centres = np.linspace(r_min, cutoff, n_radial + 1)[:-1]
    spacing = centres[1] - centres[0]
    functions = []
    for t in elements:
        functions += [SymmetryFunction(RADIAL, (t,), cutoff, float(1 / (2 * r**2)))
                      for r in widths]
        functions += [SymmetryFunction(RADIAL, (t,), cutoff, float(1 / (2 * spacing**2)),
                                       rs=float(rs)) for rs in centres]
    pairs = [(a, b) for n, a in enumerate(elements) for b in elements[n:]]
    functions += [SymmetryFunction(kind, pair, cutoff, float(1 / (2 * r**2)), zeta=zeta,
                                   lam=lam)
                  for kind in (ANGULAR_NARROW, ANGULAR_WIDE) for pair in pairs
                  for r in POOL_ANGULAR_WIDTHS for zeta in POOL_ZETAS for lam in POOL_LAMBDAS]
    return functions


def select_columns(x: np.ndarray, count: int, seed: int = 0,
                   keep: Sequence[int] = ()) -> np.ndarray:
    """The ``count`` columns of ``x (N, P)`` (atoms x candidate functions) chosen by greedy
    CUR on the standardised columns, in the order chosen: each time the column with the
    largest squared component in the top eigenvector of the (deflated) Gram matrix, then
    every column made orthogonal to it. The columns ``keep`` are taken first (and count
    towards ``count``); constant columns, and columns that nothing is left of, are never
    chosen. More than :data:`SELECTION_ATOMS` rows are subsampled (``seed``)."""
    if len(keep) > count:
        raise ValueError(f"asked for {count} functions, but {len(keep)} are to be kept")
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] > SELECTION_ATOMS:
        rows = np.random.default_rng(seed).choice(x.shape[0], SELECTION_ATOMS, replace=False)
        x = x[np.sort(rows)]
    spread = x.std(axis=0)
    varying = np.flatnonzero(spread > 1e-12 * np.maximum(np.abs(x).max(axis=0), 1e-300))
    if count > varying.size:
        raise ValueError(f"asked for {count} functions, but only {varying.size} of the "
                         f"{x.shape[1]} candidates vary over these atoms")
    z = (x[:, varying] - x[:, varying].mean(axis=0)) / spread[varying]
    gram = z.T @ z
    floor = 1e-10 * z.shape[0]  # a column's squared norm is N before any deflation
    position = {int(c): n for n, c in enumerate(varying)}
    kept = [position[int(c)] for c in keep if int(c) in position]
    constant = [int(c) for c in keep if int(c) not in position]  # kept, but not in z
    picks: list[int] = []
    while len(picks) < count - len(constant):
        if kept[len(picks):]:
            j = kept[len(picks)]
        elif gram.diagonal().max() <= floor:
            raise ValueError(f"asked for {count} functions, but the candidates span only "
                             f"{len(picks)} independent directions over these atoms")
        else:
            j = int(np.argmax(np.linalg.eigh(gram)[1][:, -1] ** 2))
        picks.append(j)
        column = gram[:, j].copy()
        if column[j] > floor:
            gram -= np.outer(column, column) / column[j]
    return np.concatenate([np.asarray(constant, dtype=int), varying[picks]]).astype(int)

"""Frames chosen or dropped by GDF coverage: greedy selection (what to label next) and
greedy pruning (what a training set can lose), on plain arrays.

Both keep, for every candidate atom i of element e, the unnormalised kernel sum
S_i = sum_j c_j exp(-|x_i - y_j|^2 / (2 sigma_e^2 D_e)) over the current reference atoms j
of that element (weights c_j: cluster counts of a compressed reference, else 1) and the
reference size T_e = sum_j c_j, so that rho_i = S_i / T_e (eq. 2). Adding or removing a
frame updates S by one kernel sum against that frame's atoms: every step is exact, never an
approximation of recomputing rho from scratch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from gdfnn.errors import InputError
from gdfnn.gdf.density import as_points, check_sigma
from gdfnn.gdf.kernel import gaussian_sums


@dataclass
class FramePick:
    """One step of a greedy selection or pruning: the frame (its index in the pool), its
    score then (min rho of its atoms for selection, mean rho for pruning), and, for
    selection, the atom (index in the frame) with that rho."""

    frame: int
    score: float
    atom: int


class FrameDensities:
    """Per-atom GDF of candidate frames against a reference that grows or shrinks by frames.

    Args:
        features: per element, the candidates' scaled features ``(N_e, D_e)``.
        frame_of: per element, the frame index ``(N_e,)`` of each row.
        atom_of: per element, the atom index within its frame ``(N_e,)`` of each row.
        n_frames: number of candidate frames.
        sigma: per element, the GDF width.
        reference: per element, ``(points (M_e, D_e), counts (M_e,) or None)`` the candidates
            are compared with besides each other; None: the candidates themselves (pruning).
    """

    def __init__(self, features: dict[str, torch.Tensor], frame_of: dict[str, np.ndarray],
                 atom_of: dict[str, np.ndarray], n_frames: int, sigma: dict[str, float],
                 reference: dict[str, tuple[torch.Tensor, torch.Tensor | None]] | None = None):
        self.x = {e: as_points(x, f"features of {e}", torch.float64, "cpu")
                  for e, x in features.items()}
        self.frame_of = {e: np.asarray(f) for e, f in frame_of.items()}
        self.atom_of = {e: np.asarray(a) for e, a in atom_of.items()}
        self.n_frames = n_frames
        self.inv_h = {e: 1.0 / (2.0 * check_sigma(sigma[e]) ** 2 * x.shape[1])
                      for e, x in self.x.items()}
        self.active = np.ones(n_frames, bool)  # candidates still in the pool
        if reference is None:  # the pool is its own reference (self term included)
            self.sums = {e: gaussian_sums(x, None, self.inv_h[e]) for e, x in self.x.items()}
            self.total = {e: float(x.shape[0]) for e, x in self.x.items()}
            return
        missing = sorted(set(self.x) - set(reference))
        if missing:
            raise InputError(f"no GDF reference for element(s) {', '.join(missing)}")
        self.sums, self.total = {}, {}
        for e, x in self.x.items():
            points, counts = reference[e]
            points = as_points(points, f"GDF reference of {e}", torch.float64, "cpu")
            weights = None if counts is None else counts.double()
            self.sums[e] = gaussian_sums(x, points, self.inv_h[e], weights)
            self.total[e] = float(points.shape[0] if counts is None else counts.sum())

    def rho(self, element: str) -> torch.Tensor:
        """Current rho ``(N_e,)`` of the candidates of ``element``."""
        return self.sums[element] / self.total[element]

    def frame_scores(self, reduce: Callable[[np.ndarray], float]
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Per frame, ``reduce`` over its atoms' rho (``np.min`` or ``np.mean``), and the
        index of its lowest-rho atom; NaN for frames no longer in the pool."""
        rho = np.concatenate([self.rho(e).numpy() for e in self.x])
        frame = np.concatenate([self.frame_of[e] for e in self.x])
        atom = np.concatenate([self.atom_of[e] for e in self.x])
        scores, lowest = np.full(self.n_frames, np.nan), np.zeros(self.n_frames, int)
        order = np.argsort(frame, kind="stable")
        starts = np.searchsorted(frame[order], np.arange(self.n_frames + 1))
        for f in np.flatnonzero(self.active):
            rows = order[starts[f]:starts[f + 1]]
            if len(rows):
                scores[f] = reduce(rho[rows])
                lowest[f] = atom[rows[np.argmin(rho[rows])]]
        return scores, lowest

    def update(self, frame: int, sign: float) -> None:
        """Add (``sign = +1``) or remove (``-1``) ``frame``'s atoms to or from the reference,
        and take the frame out of the pool."""
        for e, x in self.x.items():
            rows = self.frame_of[e] == frame
            if rows.any():
                self.sums[e] += sign * gaussian_sums(x, x[torch.from_numpy(rows)], self.inv_h[e])
                self.total[e] += sign * float(rows.sum())
        self.active[frame] = False


def select_frames(densities: FrameDensities, k: int) -> list[FramePick]:
    """Greedy selection of ``k`` frames: each pick is the frame whose least covered atom has
    the lowest rho, counting the frames already picked as reference (ties: lowest index)."""
    picks = []
    for _ in range(min(k, int(densities.active.sum()))):
        scores, lowest = densities.frame_scores(np.min)
        frame = int(np.nanargmin(scores))
        picks.append(FramePick(frame, float(scores[frame]), int(lowest[frame])))
        densities.update(frame, +1.0)
    return picks


def prune_frames(densities: FrameDensities, keep: int) -> list[FramePick]:
    """Greedy pruning down to ``keep`` frames: each step drops the frame with the highest
    mean rho of its atoms against the frames still kept (itself included), then updates
    rho (ties: lowest index). Returns the dropped frames in order."""
    dropped = []
    while int(densities.active.sum()) > keep:
        scores, lowest = densities.frame_scores(np.mean)
        frame = int(np.nanargmax(scores))
        dropped.append(FramePick(frame, float(scores[frame]), int(lowest[frame])))
        densities.update(frame, -1.0)
    return dropped

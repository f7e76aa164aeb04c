"""Error tables: RMSE and MAE of energies (meV/atom) and forces (eV/Å, over Cartesian
components) overall, per element, per group, per atom subset and per GDF bin."""

from __future__ import annotations

import itertools

import numpy as np


def error_stats(errors: np.ndarray) -> dict[str, float]:
    """RMSE and MAE over all entries, and the count of rows."""
    if errors.size == 0:
        return {"rmse": float("nan"), "mae": float("nan"), "n": 0}
    return {"rmse": float(np.sqrt((errors**2).mean())), "mae": float(np.abs(errors).mean()),
            "n": len(errors)}


def log_bins(values: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """``n_bins + 1`` log-spaced edges spanning the positive ``values``."""
    low, high = np.log10(values.min()), np.log10(values.max())
    return np.logspace(low, high + 1e-9, n_bins + 1)


def binned(values: np.ndarray, errors: np.ndarray, edges: np.ndarray) -> list[dict]:
    """Per bin of ``values``: edges, count, RMSE, mean, 25 % and 75 % quantile of the
    per-row error norms."""
    norms = np.linalg.norm(errors.reshape(len(errors), -1), axis=1)
    rows = []
    for lo, hi in itertools.pairwise(edges):
        inside = (values >= lo) & (values < hi)
        entry = {"low": float(lo), "high": float(hi), "n": int(inside.sum())}
        if inside.any():
            entry.update(error_stats(errors[inside]), mean_norm=float(norms[inside].mean()),
                         q25=float(np.quantile(norms[inside], 0.25)),
                         q75=float(np.quantile(norms[inside], 0.75)))
        rows.append(entry)
    return rows


def coordination(atoms, cutoff: float) -> np.ndarray:
    """Number of neighbours of each atom within ``cutoff`` Å (periodic images included)."""
    from vesin import NeighborList

    nl = NeighborList(cutoff=cutoff, full_list=True)
    box = atoms.cell.array if atoms.pbc.any() else np.zeros((3, 3))
    (i,) = nl.compute(atoms.positions, box, atoms.pbc.tolist(), quantities="i")
    return np.bincount(i, minlength=len(atoms))

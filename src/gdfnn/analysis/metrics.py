"""Error tables: RMSE and MAE of energies (meV/atom), forces (eV/Å, over Cartesian
components) and stress (GPa, over Voigt components, frames with a stress label) overall, per
element, per group, per atom subset and per GDF bin.

:func:`error_table` is the one implementation behind the training report (``metrics.json``)
and ``gdfnn evaluate`` (``evaluation.json``); docs/metrics.md describes its schema.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

from gdfnn.units import GPA

# keys of an error table (nested dicts; every leaf "stats" is {"rmse", "mae", "n"})
STRUCTURES = "structures"  # int, structures in the table
ATOMS = "atoms"  # int, atoms in the table
ENERGY = "energy_mev_atom"  # stats of the per-atom energy error (E_pred - E_ref) / n, meV/atom
FORCE = "force"  # stats of force components F_pred - F_ref, eV/Å
FORCE_GDF = "force_gdf_weighted"  # {"rmse", "n"}: force RMSE with atoms weighted by GDF weights
STRESS = "stress_gpa"  # stats of the Voigt stress components sigma_pred - sigma_ref, GPa, over
#                        the structures with a stress label ("n": structures); absent without
PER_ELEMENT = "per_element"  # {element: {FORCE: stats}}
PER_GROUP = "per_group"  # {group: {ENERGY: stats, FORCE: stats[, STRESS: stats]}}
SUBSETS = "subsets"  # {name: {FORCE: stats}}, atom subsets such as defect_atoms / other_atoms
PER_GDF_BIN = "per_gdf_bin"  # [{low, high, n, rmse, mae, mean_norm, q25, q75}], by GDF rho
ATOMIC_ENERGY = "atomic_energy_mev"  # stats of atomic-energy errors, meV (reference has them)
ATOMIC_PER_GDF_BIN = "atomic_energy_per_gdf_bin"  # PER_GDF_BIN of atomic-energy errors, meV
LOSS = "loss"  # float, the training loss of the set (training report only)


def error_stats(errors: np.ndarray, scale: float = 1.0) -> dict[str, float]:
    """RMSE and MAE over all entries (times ``scale``), and the count of rows."""
    if errors.size == 0:
        return {"rmse": float("nan"), "mae": float("nan"), "n": 0}
    return {"rmse": scale * float(np.sqrt((errors**2).mean())),
            "mae": scale * float(np.abs(errors).mean()), "n": len(errors)}


def weighted_rmse(errors: np.ndarray, weights: np.ndarray) -> float:
    """sqrt(sum_i w_i mean(e_i^2) / sum_i w_i) over the rows of ``errors``."""
    if errors.size == 0:
        return float("nan")
    squares = (errors.reshape(len(errors), -1) ** 2).mean(1)
    return float(np.sqrt((weights * squares).sum() / weights.sum()))


def error_table(energy_error: np.ndarray, force_error: np.ndarray, *, symbols: np.ndarray,
                groups: np.ndarray, atom_structure: np.ndarray,
                atom_weight: np.ndarray | None = None,
                subsets: Mapping[str, np.ndarray] | None = None,
                stress_error: np.ndarray | None = None) -> dict:
    """The nested error table of one potential on one set of structures.

    Args:
        energy_error: ``(S,)`` per-atom energy error of each structure, eV/atom.
        force_error: ``(N, 3)`` force error of each atom, eV/Å.
        symbols: ``(N,)`` element of each atom; groups ``(S,)`` group tag of each structure;
            atom_structure ``(N,)`` structure index of each atom.
        atom_weight: ``(N,)`` GDF weights, for the GDF-weighted force RMSE.
        subsets: named ``(N,)`` boolean masks of atoms (e.g. defect atoms).
        stress_error: ``(S, 6)`` Voigt stress error of each structure, eV/Å^3, NaN where a
            structure has no stress label; the table gets :data:`STRESS` (GPa) when at least
            one structure has one.
    """
    symbols, groups = np.asarray(symbols), np.asarray(groups)
    atom_group = groups[atom_structure] if len(groups) else groups
    table = {STRUCTURES: len(energy_error), ATOMS: len(force_error),
             ENERGY: error_stats(energy_error, 1000.0), FORCE: error_stats(force_error),
             PER_ELEMENT: {e: {FORCE: error_stats(force_error[symbols == e])}
                           for e in dict.fromkeys(symbols.tolist())},
             PER_GROUP: {g: {ENERGY: error_stats(energy_error[groups == g], 1000.0),
                             FORCE: error_stats(force_error[atom_group == g])}
                         for g in dict.fromkeys(groups.tolist())}}
    if atom_weight is not None:
        table[FORCE_GDF] = {"rmse": weighted_rmse(force_error, atom_weight),
                            "n": len(force_error)}
    if stress_error is not None:
        labelled = np.isfinite(stress_error).all(1)
        if labelled.any():
            table[STRESS] = error_stats(stress_error[labelled], GPA)
            for g, row in table[PER_GROUP].items():
                mine = labelled & (groups == g)
                if mine.any():
                    row[STRESS] = error_stats(stress_error[mine], GPA)
    if subsets:
        table[SUBSETS] = {name: {FORCE: error_stats(force_error[mask])}
                          for name, mask in subsets.items()}
    return table


def log_bins(values: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """``n_bins + 1`` log-spaced edges spanning the positive ``values``: the first is their
    minimum and the last lies just above their maximum, so every value falls in a bin
    (``10 ** log10(x)`` need not give back x, so both ends are set exactly)."""
    low, high = values.min(), values.max()
    edges = np.logspace(np.log10(low), np.log10(high), n_bins + 1)
    edges[0], edges[-1] = low, np.nextafter(high, np.inf)
    return edges


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


def flat_metrics(table: dict) -> dict[str, float]:
    """An error table (:func:`error_table`) flat: force and energy RMSE (eV/Å, meV/atom), the
    stress RMSE (GPa) where the table has it, and the force RMSE of each subset and the force
    and energy RMSE of each group, by column name (sweep.csv, learn.csv)."""
    out = {"force_rmse": table[FORCE]["rmse"], "energy_rmse_mev_atom": table[ENERGY]["rmse"]}
    if STRESS in table:
        out["stress_rmse_gpa"] = table[STRESS]["rmse"]
    for name, values in table.get(SUBSETS, {}).items():
        out[f"force_rmse_{name}"] = values[FORCE]["rmse"]
    for group, values in table[PER_GROUP].items():
        out[f"force_rmse[{group}]"] = values[FORCE]["rmse"]
        out[f"energy_rmse_mev_atom[{group}]"] = values[ENERGY]["rmse"]
    return out

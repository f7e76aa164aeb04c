"""``gdfnn evaluate``: errors of one or more potentials on labelled data, with tables per
element, group, atom subset and GDF bin, CSV/JSON results and the paper's plots."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gdfnn.analysis import plots
from gdfnn.analysis.metrics import (
    ATOMIC_ENERGY,
    ATOMIC_PER_GDF_BIN,
    ENERGY,
    FORCE,
    PER_GDF_BIN,
    PER_GROUP,
    STRESS,
    SUBSETS,
    binned,
    error_stats,
    error_table,
    log_bins,
)
from gdfnn.data.structure import Structure
from gdfnn.errors import InputError
from gdfnn.fileio import atomic_write
from gdfnn.model.potential import Potential
from gdfnn.neighbors import coordination

#: Names of the atom subsets of a defect rule in the error tables.
DEFECT_ATOMS, OTHER_ATOMS = "defect_atoms", "other_atoms"
#: eV/atom; a median energy error above it means data and potential are in other units
#: (no fitted potential is that wrong; Si in Hartree read as eV errs by 5.2, H2O by hundreds;
#: a potential fitted to binding energies, compared with total energies, errs by its atoms'
#: energies: refused too, as that comparison means nothing).
UNIT_MISMATCH_EV = 2.0


@dataclass
class DefectRule:
    """Atoms with fewer than ``coordination`` neighbours within ``cutoff`` Å are defects."""

    cutoff: float
    coordination: int


def _check_units(label: str, energy_errors: np.ndarray) -> None:
    """Refuse (one line) energy errors (eV/atom) that only a unit mismatch explains."""
    median = float(np.median(np.abs(energy_errors)))
    if median > UNIT_MISMATCH_EV:
        raise InputError(f"{label}: its energies differ from the data's by {median:.4g} eV/atom "
                         "(median): data or potential in other units? (gdfnn evaluate: "
                         "--length-unit/--energy-unit for the data, --potential-length-unit/"
                         "--potential-energy-unit for an n2p2 potential)")


def atom_labels(frames: list[Structure]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(symbols (N,), groups (F,), structure of each atom (N,))`` of the atoms of
    ``frames``, as the error tables take them."""
    return (np.concatenate([s.atoms.get_chemical_symbols() for s in frames]),
            np.array([s.group for s in frames]),
            np.repeat(np.arange(len(frames)), [s.n_atoms for s in frames]))


def array_mask(frames: list[Structure], name: str) -> np.ndarray | None:
    """``(N,)`` bool: the per-atom array ``name`` (e.g. ``"defect"``) of every frame, or
    None when a frame has none."""
    if not all(name in s.atoms.arrays for s in frames):
        return None
    return np.concatenate([s.atoms.arrays[name].astype(bool) for s in frames])


def prediction_errors(potential: Potential, frames: list[Structure],
                      subsets: dict[str, np.ndarray] | None = None
                      ) -> tuple[dict, list[dict], np.ndarray, np.ndarray]:
    """``(error table, predictions, energy errors (F,) eV/atom, force errors (N, 3) eV/Å)``
    of ``potential`` on the labelled ``frames``; the table (docs/metrics.md) per element,
    group and atom subset (``subsets``: name -> ``(N,)`` bool), with stress errors (GPa) of
    the frames that have a stress label and a 3-D periodic cell."""
    preds = potential.predict_many([s.atoms for s in frames])
    e_err = np.array([(p["energy"] - s.energy) / s.n_atoms
                      for p, s in zip(preds, frames, strict=True)])
    f_err = np.concatenate([p["forces"] - s.forces for p, s in zip(preds, frames, strict=True)])
    s_err = np.array([p["stress"] - s.stress if s.stress is not None and "stress" in p
                      else np.full(6, np.nan) for p, s in zip(preds, frames, strict=True)])
    symbols, groups, atom_structure = atom_labels(frames)
    table = error_table(e_err, f_err, symbols=symbols, groups=groups,
                        atom_structure=atom_structure, subsets=subsets,
                        stress_error=s_err.reshape(-1, 6))
    return table, preds, e_err, f_err


def gdf_of_atoms(potential: Potential, frames: list[Structure], sigma: float | None = None
                 ) -> np.ndarray | None:
    """``(N,)`` GDF rho of every atom of ``frames`` against the potential's training atoms
    (its stored GDF reference), on the same scaled features; None without a reference."""
    if not potential.gdf_reference:
        return None
    blocks = potential.descriptor.compute_many([s.atoms for s in frames], progress=False)
    return potential.coverage(torch.cat([b.values for b in blocks]),
                              torch.cat([b.species for b in blocks]), sigma)[0]


def evaluate(potentials: dict[str, Potential], frames: list[Structure], *,
             sigma: float | None = None, defect: DefectRule | str | None = None,
             output: str | Path | None = None, plot: bool = True) -> dict:
    """Error tables (docs/metrics.md) of every potential on ``frames`` (which need energies
    and forces), with force errors per GDF bin of the potential's own training density.

    ``defect``: a :class:`DefectRule`, or the name of a per-atom array of the frames (e.g.
    ``"defect"`` as written by :mod:`gdfnn.experiments.sampling`) marking the defect atoms.
    ``sigma``: GDF width for the bins (default: each potential's own).
    """
    subsets = None
    if isinstance(defect, str):
        mask = array_mask(frames, defect)
        if mask is None:
            raise InputError(f"defect atoms: not every frame has the per-atom array "
                             f"{defect!r}")
    elif defect is not None:
        mask = np.concatenate([coordination(s.atoms, defect.cutoff) < defect.coordination
                               for s in frames])
    if defect is not None:
        subsets = {DEFECT_ATOMS: mask, OTHER_ATOMS: ~mask}
    result, per_atom, curves = {}, {}, {}
    for label, pot in potentials.items():
        table, preds, e_err, f_err = prediction_errors(pot, frames, subsets)
        _check_units(label, e_err)
        rho = gdf_of_atoms(pot, frames, sigma)
        if rho is not None and np.isfinite(rho).any():
            known = np.isfinite(rho)  # atoms of elements without a reference have no rho
            curves[label] = binned(rho[known], f_err[known], log_bins(rho[known]))
            table[PER_GDF_BIN] = curves[label]
        atomic = [(s.energies, p["energies"]) for p, s in zip(preds, frames, strict=True)
                  if s.energies is not None]
        if atomic:
            ref_e = np.concatenate([a for a, _ in atomic])
            pred_e = np.concatenate([b for _, b in atomic])
            table[ATOMIC_ENERGY] = error_stats(pred_e - ref_e, 1000.0)
        if atomic and len(atomic) == len(frames):  # per atom: defect subsets and GDF bins
            a_err = 1000.0 * (pred_e - ref_e)
            for name, m in (subsets or {}).items():
                table[SUBSETS][name][ATOMIC_ENERGY] = error_stats(a_err[m])
            if rho is not None and np.isfinite(rho).any():
                table[ATOMIC_PER_GDF_BIN] = binned(rho[known], a_err[known],
                                                   log_bins(rho[known]))
        result[label] = table
        per_atom[label] = {"force_error": f_err, "rho": rho, "preds": preds, "atomic": atomic}
    if output is not None:
        symbols, _, atom_structure = atom_labels(frames)
        _write(Path(output), result, per_atom, frames, symbols, atom_structure,
               subsets[DEFECT_ATOMS] if subsets else None, curves, plot)
    return result


def _write(out: Path, result, per_atom, frames, symbols, structure, defect_mask, curves,
           plot) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "evaluation.json") as f:
        json.dump(result, f, indent=2)
    index = np.concatenate([np.arange(s.n_atoms) for s in frames])
    atom_group = np.array([s.group for s in frames])[structure]
    with atomic_write(out / "per_atom.csv") as f:
        writer = csv.writer(f)
        writer.writerow(["potential", "structure", "atom", "element", "group", "defect", "rho",
                         "force_error_eV_per_A"])
        for label, d in per_atom.items():
            norms = np.linalg.norm(d["force_error"], axis=1)
            for k in range(len(norms)):
                writer.writerow([label, structure[k], index[k], symbols[k], atom_group[k],
                                 "" if defect_mask is None else int(defect_mask[k]),
                                 "" if d["rho"] is None else f"{d['rho'][k]:.6e}",
                                 f"{norms[k]:.6f}"])
    if not plot:
        return
    plots.parity({k: (np.array([s.energy / s.n_atoms for s in frames]),
                      np.array([p["energy"] / s.n_atoms for p, s in zip(d["preds"], frames,
                                                                         strict=True)]))
                  for k, d in per_atom.items()}, "energy", "eV/atom", out / "parity_energy.png")
    ref_f = np.concatenate([s.forces for s in frames]).ravel()
    plots.parity({k: (ref_f, ref_f + d["force_error"].ravel()) for k, d in per_atom.items()},
                 "force component", "eV/Å", out / "parity_forces.png")
    if curves:
        plots.error_vs_gdf(curves, out / "force_error_vs_gdf.png")
    atomic = {k: (np.concatenate([a for a, _ in d["atomic"]]),
                  np.concatenate([b for _, b in d["atomic"]]))
              for k, d in per_atom.items() if d["atomic"]}
    if atomic:
        plots.parity(atomic, "atomic energy", "eV", out / "atomic_energy_correlation.png")
    atomic_curves = {k: t[ATOMIC_PER_GDF_BIN] for k, t in result.items()
                     if ATOMIC_PER_GDF_BIN in t}
    if atomic_curves:
        plots.error_vs_gdf(atomic_curves, out / "atomic_energy_error_vs_gdf.png",
                           "|E_i,ref - E_i| (meV)")


def format_result(result: dict) -> str:
    lines = []
    for label, t in result.items():
        stress = (f", stress RMSE {t[STRESS]['rmse']:.3f} GPa ({t[STRESS]['n']} frames)"
                  if STRESS in t else "")
        lines.append(f"{label}: energy RMSE {t[ENERGY]['rmse']:.2f} meV/atom "
                     f"(MAE {t[ENERGY]['mae']:.2f}), force RMSE "
                     f"{t[FORCE]['rmse']:.4f} eV/Å (MAE {t[FORCE]['mae']:.4f}){stress}")
        for g, v in t[PER_GROUP].items():
            lines.append(f"  group {g:<12} E RMSE {v[ENERGY]['rmse']:8.2f} meV/atom  "
                         f"F RMSE {v[FORCE]['rmse']:.4f} eV/Å ({v[FORCE]['n']} atoms)")
        for name, v in t.get(SUBSETS, {}).items():
            lines.append(f"  {name.replace('_', ' ')} F RMSE {v[FORCE]['rmse']:.4f} eV/Å "
                         f"({v[FORCE]['n']})")
        for row in t.get(PER_GDF_BIN, []):
            if row["n"]:
                lines.append(f"  rho {row['low']:.2e}-{row['high']:.2e}: F RMSE "
                             f"{row['rmse']:.4f} eV/Å ({row['n']} atoms)")
        if ATOMIC_ENERGY in t:
            lines.append(f"  atomic energies vs reference: MAE {t[ATOMIC_ENERGY]['mae']:.2f} meV")
    return "\n".join(lines)

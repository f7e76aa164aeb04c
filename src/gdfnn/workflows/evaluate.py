"""``gdfnn evaluate``: errors of one or more potentials on labelled data, with tables per
element, group, atom subset and GDF bin, CSV/JSON results and the paper's plots."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from gdfnn.analysis import plots
from gdfnn.analysis.metrics import binned, coordination, error_stats, log_bins
from gdfnn.data.split import split_by_group
from gdfnn.data.store import FEATURES, SPECIES, FeatureStore
from gdfnn.data.structure import Structure
from gdfnn.fileio import atomic_write
from gdfnn.gdf.density import density
from gdfnn.model.potential import Potential


@dataclass
class DefectRule:
    """Atoms with fewer than ``coordination`` neighbours within ``cutoff`` Å are defects."""

    cutoff: float
    coordination: int


def training_features(potential: Potential) -> dict[str, torch.Tensor] | None:
    """Scaled pre-PCA features of the potential's training atoms, per element, from the
    feature store its training run left (None when there is none)."""
    config = potential.metadata.get("config")
    if not config:
        return None
    store_path = Path(config["descriptor"]["store"] or Path(config["output"]["directory"])
                      / "features.h5")
    if not store_path.is_file():
        return None
    store = FeatureStore(store_path)
    split = split_by_group([SimpleNamespace(group=g) for g in store.groups],
                           config["data"]["valid_rate"], config["data"]["test_rate"],
                           config["data"]["split_seed"])
    data = store.load(split.train)
    return reference_from_features(potential, data.arrays[FEATURES], data.arrays[SPECIES])


def reference_from_features(potential: Potential, features: torch.Tensor,
                            species: torch.Tensor) -> dict[str, torch.Tensor]:
    out = {}
    for n, element in enumerate(potential.elements):
        t = potential.transforms[element]
        d = t.shift.numel()
        out[element] = t.scaled(features[species == n][:, :d].double().to(t.shift.device)).cpu()
    return out


def evaluate(potentials: dict[str, Potential], frames: list[Structure], *,
             references: dict[str, dict[str, torch.Tensor] | None] | None = None,
             sigma: float = 0.02, defect: DefectRule | str | None = None,
             output: str | Path | None = None, plot: bool = True) -> dict:
    """Errors of every potential on ``frames`` (which need energies and forces).

    ``defect``: a :class:`DefectRule`, or the name of a per-atom array of the frames (e.g.
    ``"defect"`` as written by :mod:`gdfnn.experiments.sampling`) marking the defect atoms.
    """
    references = references or {}
    defect_mask = None
    if isinstance(defect, str):
        defect_mask = np.concatenate([s.atoms.arrays[defect].astype(bool) for s in frames])
    elif defect is not None:
        defect_mask = np.concatenate([coordination(s.atoms, defect.cutoff) < defect.coordination
                                      for s in frames])
    result, per_atom, curves = {}, {}, {}
    for label, pot in potentials.items():
        preds = pot.predict_many([s.atoms for s in frames])
        e_err = np.array([(p["energy"] - s.energy) / s.n_atoms for p, s in zip(
            preds, frames, strict=True)])
        f_err = np.concatenate([p["forces"] - s.forces for p, s in zip(preds, frames, strict=True)])
        symbols = np.concatenate([s.atoms.get_chemical_symbols() for s in frames])
        groups = np.array([s.group for s in frames])
        atom_group = np.repeat(groups, [s.n_atoms for s in frames])
        table = {"energy_mev_atom": {k: v * (1000 if k != "n" else 1) for k, v in
                                     error_stats(e_err).items()},
                 "force": error_stats(f_err),
                 "force_per_element": {e: error_stats(f_err[symbols == e])
                                       for e in pot.elements if (symbols == e).any()},
                 "per_group": {g: {"energy_rmse_mev_atom": 1000 * error_stats(e_err[groups == g])
                                   ["rmse"], "force": error_stats(f_err[atom_group == g])}
                               for g in dict.fromkeys(groups)}}
        if defect_mask is not None:
            table["defect_atoms"] = error_stats(f_err[defect_mask])
            table["other_atoms"] = error_stats(f_err[~defect_mask])
        rho = _rho(pot, frames, references.get(label), sigma)
        if rho is not None:
            curves[label] = binned(rho, f_err, log_bins(rho))
            table["per_gdf_bin"] = curves[label]
        atomic = [(s.energies, p["energies"]) for p, s in zip(preds, frames, strict=True)
                  if s.energies is not None]
        if atomic:
            ref_e = np.concatenate([a for a, _ in atomic])
            pred_e = np.concatenate([b for _, b in atomic])
            table["atomic_energy_mev"] = {k: v * (1000 if k != "n" else 1)
                                          for k, v in error_stats(pred_e - ref_e).items()}
        result[label] = table
        per_atom[label] = {"force_error": f_err, "rho": rho, "symbols": symbols,
                           "group": atom_group, "preds": preds, "atomic": atomic}
    if output is not None:
        _write(Path(output), result, per_atom, frames, defect_mask, curves, plot)
    return result


def _rho(pot, frames, reference, sigma) -> np.ndarray | None:
    if reference is None:
        return None
    blocks = pot.descriptor.compute_many([s.atoms for s in frames], progress=False)
    features = torch.cat([b.values for b in blocks]).cpu()
    species = torch.cat([b.species for b in blocks]).cpu()
    scaled = reference_from_features(pot, features, species)
    rho = np.empty(len(species))
    for n, element in enumerate(pot.elements):
        mine = (species == n).numpy()
        if mine.any() and element in reference:
            rho[mine] = density(scaled[element], sigma, reference=reference[element]).numpy()
    return rho


def _write(out: Path, result, per_atom, frames, defect_mask, curves, plot) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "evaluation.json") as f:
        json.dump(result, f, indent=2)
    structure = np.repeat(np.arange(len(frames)), [s.n_atoms for s in frames])
    index = np.concatenate([np.arange(s.n_atoms) for s in frames])
    with atomic_write(out / "per_atom.csv") as f:
        writer = csv.writer(f)
        writer.writerow(["potential", "structure", "atom", "element", "group", "defect", "rho",
                         "force_error_eV_per_A"])
        for label, d in per_atom.items():
            norms = np.linalg.norm(d["force_error"], axis=1)
            for k in range(len(norms)):
                writer.writerow([label, structure[k], index[k], d["symbols"][k], d["group"][k],
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


def format_result(result: dict) -> str:
    lines = []
    for label, t in result.items():
        lines.append(f"{label}: energy RMSE {t['energy_mev_atom']['rmse']:.2f} meV/atom "
                     f"(MAE {t['energy_mev_atom']['mae']:.2f}), force RMSE "
                     f"{t['force']['rmse']:.4f} eV/Å (MAE {t['force']['mae']:.4f})")
        for g, v in t["per_group"].items():
            lines.append(f"  group {g:<12} E RMSE {v['energy_rmse_mev_atom']:8.2f} meV/atom  "
                         f"F RMSE {v['force']['rmse']:.4f} eV/Å ({v['force']['n']} atoms)")
        if "defect_atoms" in t:
            lines.append(f"  defect atoms F RMSE {t['defect_atoms']['rmse']:.4f} eV/Å "
                         f"({t['defect_atoms']['n']}); other atoms "
                         f"{t['other_atoms']['rmse']:.4f} ({t['other_atoms']['n']})")
        for row in t.get("per_gdf_bin", []):
            if row["n"]:
                lines.append(f"  rho {row['low']:.2e}-{row['high']:.2e}: F RMSE "
                             f"{row['rmse']:.4f} eV/Å ({row['n']} atoms)")
        if "atomic_energy_mev" in t:
            lines.append(f"  atomic energies vs reference: MAE "
                         f"{t['atomic_energy_mev']['mae']:.2f} meV")
    return "\n".join(lines)

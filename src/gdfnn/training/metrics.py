"""Errors of a model on a :class:`TrainingSet`: energy RMSE (meV/atom), force RMSE (eV/Å,
over Cartesian components), unweighted and GDF-weighted, per element and per group."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from gdfnn.training.batches import TrainingSet
from gdfnn.training.loss import loss_terms, predict


@dataclass
class Residuals:
    """Per-structure energy errors per atom ``(S,)`` eV/atom, per-atom force errors
    ``(N, 3)`` eV/Å, with species, GDF weights, structure index of atoms and groups."""

    energy_per_atom: np.ndarray
    forces: np.ndarray
    species: np.ndarray
    atom_weight: np.ndarray
    structure: np.ndarray
    group: list[str]
    loss: float


def residuals(model, data: TrainingSet, force_coeff: float, batch_size: int = 64) -> Residuals:
    """Predict every structure of ``data`` (no parameter gradients)."""
    e_err, f_err, structure = [], [], []
    loss, weight_sum = 0.0, 0
    for start in range(0, data.n_structures, batch_size):
        index = torch.arange(start, min(start + batch_size, data.n_structures),
                             device=data.x.device)
        batch = data.batch(index)
        pred = predict(model, batch, forces=True)
        terms = loss_terms(pred, batch, force_coeff)
        loss += terms["total"].item() * index.numel()
        weight_sum += index.numel()
        e_err.append(((pred.energy - batch.energy) / batch.n_atoms).detach().cpu())
        f_err.append((pred.forces - batch.forces).detach().cpu())
        structure.append((batch.structure + start).cpu())
    return Residuals(torch.cat(e_err).double().numpy(), torch.cat(f_err).double().numpy(),
                     data.species.cpu().numpy(), data.atom_weight.cpu().double().numpy(),
                     torch.cat(structure).numpy(), list(data.group), loss / max(weight_sum, 1))


def merge(parts: list[Residuals]) -> Residuals:
    """Residuals of several sets (e.g. streamed chunks) as one."""
    offsets = np.cumsum([0] + [len(p.energy_per_atom) for p in parts[:-1]])
    total = sum(len(p.energy_per_atom) for p in parts)
    return Residuals(
        np.concatenate([p.energy_per_atom for p in parts]),
        np.concatenate([p.forces for p in parts]),
        np.concatenate([p.species for p in parts]),
        np.concatenate([p.atom_weight for p in parts]),
        np.concatenate([p.structure + o for p, o in zip(parts, offsets, strict=True)]),
        [g for p in parts for g in p.group],
        sum(p.loss * len(p.energy_per_atom) for p in parts) / max(total, 1))


def rmse(x: np.ndarray, weights: np.ndarray | None = None) -> float:
    """sqrt(sum w x^2 / sum w) over all entries (rows weighted by ``weights``)."""
    if x.size == 0:
        return math.nan
    sq = (x.reshape(len(x), -1) ** 2).mean(1) if x.ndim > 1 else x**2
    w = np.ones(len(sq)) if weights is None else weights
    return float(np.sqrt((w * sq).sum() / w.sum()))


def summarize(res: Residuals, elements: list[str]) -> dict[str, float]:
    """Flat metrics: ``energy_rmse_mev_atom``, ``force_rmse``, ``force_rmse_gdf`` and
    per-element / per-group variants (``force_rmse[Si]``, ``force_rmse{Vacancy}``)."""
    out = {"loss": res.loss, "energy_rmse_mev_atom": 1000 * rmse(res.energy_per_atom),
           "force_rmse": rmse(res.forces), "force_rmse_gdf": rmse(res.forces, res.atom_weight)}
    for n, element in enumerate(elements):
        mine = res.species == n
        out[f"force_rmse[{element}]"] = rmse(res.forces[mine])
    groups = np.array(res.group)
    atom_group = groups[res.structure] if len(groups) else groups
    for tag in dict.fromkeys(res.group):
        out[f"energy_rmse_mev_atom{{{tag}}}"] = 1000 * rmse(res.energy_per_atom[groups == tag])
        out[f"force_rmse{{{tag}}}"] = rmse(res.forces[atom_group == tag])
    return out

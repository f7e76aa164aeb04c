"""Errors of a model on a :class:`TrainingSet`, as the error table of
:func:`gdfnn.analysis.metrics.error_table` (energy RMSE in meV/atom, force RMSE in eV/Å over
Cartesian components, unweighted and GDF-weighted, per element and per group; stress RMSE in
GPa when the set keeps stress) plus the loss."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gdfnn.analysis.metrics import LOSS, error_table
from gdfnn.training.batches import TrainingSet
from gdfnn.training.loss import loss_terms, predict


@dataclass
class Residuals:
    """Per-structure energy errors per atom ``(S,)`` eV/atom, per-atom force errors
    ``(N, 3)`` eV/Å, with species, GDF weights, structure index of atoms and groups; stress
    errors ``(S, 6)`` eV/Å^3 (NaN for a structure without a label) when the set keeps stress."""

    energy_per_atom: np.ndarray
    forces: np.ndarray
    species: np.ndarray
    atom_weight: np.ndarray | None
    structure: np.ndarray
    group: list[str]
    loss: float
    stress: np.ndarray | None = None


def residuals(model, data: TrainingSet, force_coeff: float, stress_coeff: float = 0.0,
              batch_size: int = 64) -> Residuals:
    """Predict every structure of ``data`` (no parameter gradients); the loss with
    ``force_coeff`` and, when ``data`` keeps stress, ``stress_coeff``."""
    with_stress = data.virial is not None
    e_err, f_err, s_err, structure = [], [], [], []
    loss, weight_sum = 0.0, 0
    for start in range(0, data.n_structures, batch_size):
        index = torch.arange(start, min(start + batch_size, data.n_structures),
                             device=data.x.device)
        batch = data.batch(index)
        pred = predict(model, batch, forces=True, stress=with_stress)
        terms = loss_terms(pred, batch, force_coeff, stress_coeff)
        loss += terms["total"].item() * index.numel()
        weight_sum += index.numel()
        e_err.append(((pred.energy - batch.energy) / batch.n_atoms).detach().cpu())
        f_err.append((pred.forces - batch.forces).detach().cpu())
        if with_stress:
            error = (pred.stress - batch.stress).detach().double()
            s_err.append(torch.where(batch.stress_mask[:, None] > 0, error, torch.nan).cpu())
        structure.append((batch.structure + start).cpu())
    return Residuals(torch.cat(e_err).double().numpy(), torch.cat(f_err).double().numpy(),
                     data.species.cpu().numpy(),
                     data.atom_weight.cpu().double().numpy() if data.use_gdf else None,
                     torch.cat(structure).numpy(), list(data.group), loss / max(weight_sum, 1),
                     torch.cat(s_err).numpy() if s_err else None)


def merge(parts: list[Residuals]) -> Residuals:
    """Residuals of several sets (e.g. streamed chunks) as one."""
    offsets = np.cumsum([0] + [len(p.energy_per_atom) for p in parts[:-1]])
    total = sum(len(p.energy_per_atom) for p in parts)
    return Residuals(
        np.concatenate([p.energy_per_atom for p in parts]),
        np.concatenate([p.forces for p in parts]),
        np.concatenate([p.species for p in parts]),
        None if parts[0].atom_weight is None else np.concatenate([p.atom_weight for p in parts]),
        np.concatenate([p.structure + o for p, o in zip(parts, offsets, strict=True)]),
        [g for p in parts for g in p.group],
        sum(p.loss * len(p.energy_per_atom) for p in parts) / max(total, 1),
        None if parts[0].stress is None else np.concatenate([p.stress for p in parts]))


def summarize(res: Residuals, elements: list[str]) -> dict:
    """The nested error table of ``res`` (see :mod:`gdfnn.analysis.metrics`) with its loss."""
    table = error_table(res.energy_per_atom, res.forces,
                        symbols=np.asarray(elements)[res.species], groups=np.asarray(res.group),
                        atom_structure=res.structure, atom_weight=res.atom_weight,
                        stress_error=res.stress)
    table[LOSS] = res.loss
    return table

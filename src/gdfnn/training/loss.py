"""The loss of paper eq. 1 (conventional, "NNP-c") and eq. 3 (GDF-weighted, "NNP-GDF").

    Gamma = (1/N) sum_s w_s ((E_s^ref - E_s) / n_s)^2
          + mu / (3 M) sum_j w_s(j) w_j |F_j^ref - F_j|^2
          [+ nu / (6 N) sum_s w_s |sigma_s^ref - sigma_s|^2]

with N structures and M atoms of the (global) batch, w_s the structure weight of the group,
w_j = 1 (eq. 1) or the GDF weight Theta(1/rho_j) (eq. 3). Units: eV, eV/Å, eV/Å^3.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gdfnn.model.potential import VOIGT
from gdfnn.training.batches import Batch


@dataclass
class Prediction:
    """Energies ``(B,)`` eV, atomic energies ``(N,)``, forces ``(N, 3)`` eV/Å, stress ``(B, 6)``."""

    energy: torch.Tensor
    atomic: torch.Tensor
    forces: torch.Tensor | None
    stress: torch.Tensor | None


def predict(model, batch: Batch, *, forces: bool = True, stress: bool = False,
            create_graph: bool = False) -> Prediction:
    """Energies and (with ``forces``) F_j = -sum_pairs dE_i/dx_i . dx_i/dr_j, and (with
    ``stress``) sigma = (1/V) sum_i dE_i/dx_i . W_i, symmetrised, ASE sign."""
    x = batch.x.detach().requires_grad_(forces or stress)
    with torch.enable_grad() if (forces or stress) else torch.no_grad():
        atomic = model(x, batch.species)
        energy = atomic.new_zeros(batch.n_atoms.numel()).index_add(0, batch.structure, atomic)
        if not (forces or stress):
            return Prediction(energy, atomic, None, None)
        (de_dx,) = torch.autograd.grad(atomic.sum(), x, create_graph=create_graph)
    f = s = None
    if forces:
        per_pair = torch.einsum("pd,pdx->px", de_dx[batch.pairs[:, 0]], batch.dx)
        f = -x.new_zeros(x.shape[0], 3).index_add(0, batch.pairs[:, 1], per_pair)
    if stress:
        per_atom = torch.einsum("nd,ndab->nab", de_dx, batch.virial)
        full = x.new_zeros(energy.numel(), 3, 3).index_add(0, batch.structure, per_atom)
        full = 0.5 * (full + full.transpose(1, 2)) / batch.volume[:, None, None]
        s = torch.stack([full[:, a, b] for a, b in VOIGT], dim=1)
    return Prediction(energy, atomic, f, s)


def loss_terms(pred: Prediction, batch: Batch, force_coeff: float, stress_coeff: float = 0.0,
               n_structures: int | None = None, n_atoms: int | None = None
               ) -> dict[str, torch.Tensor]:
    """The terms of eq. 1/3 for a batch; ``n_structures``/``n_atoms`` are N and M of the
    global batch when the batch is one rank's share (default: this batch's)."""
    n_s = n_structures or batch.n_atoms.numel()
    n_a = n_atoms or batch.x.shape[0]
    per_atom_error = (batch.energy - pred.energy) / batch.n_atoms
    terms = {"energy": (batch.weight * per_atom_error**2).sum() / n_s}
    if pred.forces is not None and force_coeff > 0:
        w = batch.weight[batch.structure] * batch.atom_weight
        terms["force"] = force_coeff / (3 * n_a) * (w * ((batch.forces - pred.forces) ** 2)
                                                    .sum(1)).sum()
    if pred.stress is not None and stress_coeff > 0:
        terms["stress"] = stress_coeff / (6 * n_s) * (batch.weight * (
            (batch.stress - pred.stress) ** 2).sum(1)).sum()
    terms["total"] = sum(terms.values())
    return terms

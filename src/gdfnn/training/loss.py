"""The loss of paper eq. 1 (conventional, "NNP-c") and eq. 3 (GDF-weighted, "NNP-GDF").

    Gamma = (1/N) sum_s w_s v_s ((E_s^ref - E_s) / n_s)^2
          + mu / (3 M) sum_j w_s(j) w_j |F_j^ref - F_j|^2
          [+ nu / (6 N) sum_s w_s m_s |sigma_s^ref - sigma_s|^2]

with N structures and M atoms of the (global) batch, w_s the structure weight of the group,
m_s = 1 for a structure with a stress label (else 0: frames without stress are masked, not
refused),
w_j = 1 (eq. 1) or the GDF weight Theta(1/rho_j) (eq. 3), v_s = 1 (the paper) or, with
``gdf.energy_weighting``, the mean GDF weight of structure s. Units: eV, eV/Å, eV/Å^3.
"""

from __future__ import annotations

import torch

from gdfnn.model.outputs import Prediction, atomistic_outputs
from gdfnn.training.batches import Batch


def predict(model, batch: Batch, *, forces: bool = True, stress: bool = False,
            create_graph: bool = False) -> Prediction:
    """Energies, forces and stress of a batch (see
    :func:`gdfnn.model.outputs.atomistic_outputs`, the path ``Potential.predict`` takes too);
    ``model`` maps ``(network inputs, species)`` to atomic energies, the batch's raw features
    pass through its feature transform first (:attr:`Batch.inputs`), inside the
    differentiated function: the Jacobian stays raw."""
    return atomistic_outputs(lambda x, species: model(batch.inputs(x, species), species),
                             batch.x, batch.species, batch.structure, batch.n_atoms.numel(),
                             batch.pairs, batch.dx, virial=batch.virial, volume=batch.volume,
                             forces=forces, stress=stress, create_graph=create_graph)


def loss_terms(pred: Prediction, batch: Batch, force_coeff: float, stress_coeff: float = 0.0,
               n_structures: int | None = None, n_atoms: int | None = None
               ) -> dict[str, torch.Tensor]:
    """The terms of eq. 1/3 for a batch; ``n_structures``/``n_atoms`` are N and M of the
    global batch when the batch is one rank's share (default: this batch's)."""
    n_s = n_structures or batch.n_atoms.numel()
    n_a = n_atoms or batch.x.shape[0]
    per_atom_error = (batch.energy - pred.energy) / batch.n_atoms
    terms = {"energy": (batch.weight * batch.energy_weight * per_atom_error**2).sum() / n_s}
    if pred.forces is not None and force_coeff > 0:
        w = batch.weight[batch.structure] * batch.atom_weight
        terms["force"] = force_coeff / (3 * n_a) * (w * ((batch.forces - pred.forces) ** 2)
                                                    .sum(1)).sum()
    if pred.stress is not None and stress_coeff > 0:
        terms["stress"] = stress_coeff / (6 * n_s) * (batch.weight * batch.stress_mask * (
            (batch.stress - pred.stress) ** 2).sum(1)).sum()
    terms["total"] = sum(terms.values())
    return terms

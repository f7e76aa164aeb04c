"""Energies, forces and stress of a batch of structures from per-atom inputs and their
sparse Jacobian: the one code path behind the training loss, ``Potential.predict`` and the
ASE calculator.

    E_s     = sum_{i in s} E_i(x_i)                              (eV)
    F_j     = -sum_{(i, j) in pairs} dE_i/dx_i . dx_i/dr_j       (eV/Å)
    sigma_s = (1/V_s) sym(sum_{i in s} dE_i/dx_i . W_i)          (eV/Å^3, ASE sign, Voigt)

``x`` are whatever ``energy_fn`` takes (raw symmetry functions for a :class:`Potential`,
transformed network inputs in training); ``jacobian`` and ``virial`` are taken in the
same space.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from ase.stress import voigt_6_to_full_3x3_stress

#: Row and column of each Voigt component (xx, yy, zz, yz, xz, xy), read off ASE's own map.
_FULL_INDEX = voigt_6_to_full_3x3_stress(np.arange(6))
VOIGT_ROWS, VOIGT_COLS = (tuple(int(np.argwhere(_FULL_INDEX == k)[0][axis]) for k in range(6))
                          for axis in (0, 1))


@dataclass
class Prediction:
    """``energy (B,)`` eV, ``atomic (N,)`` eV, ``forces (N, 3)`` eV/Å or None,
    ``stress (B, 6)`` eV/Å^3 (Voigt, ASE sign) or None."""

    energy: torch.Tensor
    atomic: torch.Tensor
    forces: torch.Tensor | None
    stress: torch.Tensor | None


def voigt(full: torch.Tensor) -> torch.Tensor:
    """``(..., 3, 3)`` symmetric tensors to ``(..., 6)`` in ASE's Voigt order."""
    return full[..., VOIGT_ROWS, VOIGT_COLS]


def atomistic_outputs(energy_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                      x: torch.Tensor, species: torch.Tensor, structure: torch.Tensor,
                      n_structures: int, pairs: torch.Tensor, jacobian: torch.Tensor | None,
                      *, virial: torch.Tensor | None = None, volume: torch.Tensor | None = None,
                      forces: bool = True, stress: bool = False, create_graph: bool = False
                      ) -> Prediction:
    """Energies, forces and stress of ``n_structures`` structures.

    Args:
        energy_fn: ``(x (N, D), species (N,)) -> (N,)`` atomic energies, eV.
        x: ``(N, D)`` per-atom inputs; species ``(N,)``; structure ``(N,)`` index of each
            atom's structure in ``0..n_structures-1``.
        pairs: ``(P, 2)`` [centre, neighbour] atom indices; jacobian ``(P, D, 3)`` =
            dx[centre]/dr[neighbour] (1/Å).
        virial: ``(N, D, 3, 3)`` per-atom virial terms; volume ``(n_structures,)`` Å^3.
        create_graph: keep the graph of the forces (training differentiates through them).
    """
    need_grad = forces or stress
    x = x.detach().requires_grad_(need_grad)
    with torch.enable_grad() if need_grad else torch.no_grad():
        atomic = energy_fn(x, species)
        energy = atomic.new_zeros(n_structures).index_add(0, structure, atomic)
        if not need_grad:
            return Prediction(energy, atomic, None, None)
        (de_dx,) = torch.autograd.grad(atomic.sum(), x, create_graph=create_graph)
    f = s = None
    if forces:
        per_pair = torch.einsum("pd,pdx->px", de_dx[pairs[:, 0]], jacobian)
        f = -x.new_zeros(x.shape[0], 3).index_add(0, pairs[:, 1], per_pair)
    if stress:
        per_atom = torch.einsum("nd,ndab->nab", de_dx, virial)
        full = x.new_zeros(n_structures, 3, 3).index_add(0, structure, per_atom)
        s = voigt(0.5 * (full + full.transpose(1, 2)) / volume[:, None, None])
    return Prediction(energy, atomic, f, s)

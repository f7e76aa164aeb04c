"""Last-layer prediction rigidity (LLPR; Bigi, Chong, Ceriotti, Grasselli, 2024): how well the
training atoms pin down an atom's energy, read in the network's own space.

With ``h`` an atom's last hidden layer (its element network without the output layer) and
``h~ = (h, 1)``, the training atoms of the element give ``C = sum h~ h~^T`` (``(H+1, H+1)``,
plus ``1e-8 trace(C) / (H+1)`` on the diagonal); an atom's rigidity signal is
``h~^T C^-1 h~`` (dimensionless: the variance of its energy under the output layer's
posterior, up to one scale). It grows where the training atoms left the network's last layer
unconstrained: the larger, the less trustworthy. ``python -m benchmarks.quests`` compares it
with the GDF rho, QUESTS and an ensemble (docs/coverage.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

from gdfnn.model.network import AtomicEnergies

#: Relative ridge added to C's diagonal (C is singular when units are tied).
RIDGE = 1e-8
#: Version of the record in a potential's metadata (``metadata["rigidity"]``).
RIGIDITY_VERSION = 1


def last_hidden(networks: AtomicEnergies, inputs: torch.Tensor, species: torch.Tensor
                ) -> torch.Tensor:
    """``(N, H+1)``: each atom's last hidden layer and a 1, from network inputs ``(N, D)``
    and element indices ``(N,)`` (float64, no gradient)."""
    width = networks.hidden[-1] if networks.hidden else 0
    out = torch.ones(len(inputs), width + 1, dtype=torch.float64, device=inputs.device)
    with torch.no_grad():
        for n, element in enumerate(networks.elements):
            mine = species == n
            if mine.any():
                h = inputs[mine, : networks.n_features[element]]
                for layer in list(networks.nets[element])[:-1]:
                    h = layer(h)
                out[mine, :-1] = h.double()
    return out


def rigidity_gram(networks: AtomicEnergies,
                  batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Per element, ``C`` ``(H+1, H+1)`` (with its ridge) from the training atoms' network
    inputs and element indices, given in batches ``(inputs (n, D), species (n,))`` (memory
    follows a batch). Elements without atoms get none."""
    width = (networks.hidden[-1] if networks.hidden else 0) + 1
    sums = {e: torch.zeros(width, width, dtype=torch.float64) for e in networks.elements}
    seen = dict.fromkeys(networks.elements, 0)
    for inputs, species in batches:
        h = last_hidden(networks, inputs, species)
        for n, element in enumerate(networks.elements):
            mine = species == n
            sums[element] += h[mine].T @ h[mine]
            seen[element] += int(mine.sum())
    return {element: c + RIDGE * torch.trace(c) / width * torch.eye(width, dtype=c.dtype)
            for element, c in sums.items() if seen[element]}


def fit_rigidity(networks: AtomicEnergies, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
                 ) -> dict[str, torch.Tensor]:
    """Per element, ``C^-1`` ``(H+1, H+1)``: the inverse of :func:`rigidity_gram`."""
    return {e: torch.linalg.inv(c) for e, c in rigidity_gram(networks, batches).items()}


def heldout_rigidity(hidden: torch.Tensor, frame: torch.Tensor, gram: torch.Tensor
                     ) -> torch.Tensor:
    """``(N,)``: the rigidity signal of training atoms held out with their frame, ``h~^T
    (C - H_f^T H_f)^-1 h~``, from their last hidden layers ``hidden (N, H+1)`` (all of one
    element), their frames ``frame (N,)`` (every atom of the element in each frame given) and
    the element's ``gram`` (``C``, :func:`rigidity_gram`). Exact: as if the networks' last
    layer had been constrained without the frame."""
    out = torch.empty(len(hidden), dtype=torch.float64)
    for f in torch.unique(frame):
        mine = frame == f
        h = hidden[mine]
        out[mine] = (h * torch.linalg.solve(gram - h.T @ h, h.T).T).sum(1)
    return out


def rigidity(hidden: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """``(N,)``: ``h~^T C^-1 h~`` of atoms with last hidden layers ``hidden (N, H+1)``."""
    return torch.einsum("ni,ij,nj->n", hidden, inverse, hidden)


def rigidity_metadata(inverses: Mapping[str, torch.Tensor]) -> dict:
    """What a potential records (``metadata["rigidity"]``): each element's ``C^-1``."""
    return {"version": RIGIDITY_VERSION,
            "elements": {e: c.tolist() for e, c in inverses.items()}}


def read_rigidity_metadata(metadata: Mapping) -> dict[str, torch.Tensor]:
    """Each element's ``C^-1`` recorded in a potential's metadata; empty when none is."""
    record = metadata.get("rigidity")
    if not record or record.get("version") != RIGIDITY_VERSION:
        return {}
    return {e: torch.tensor(c, dtype=torch.float64) for e, c in record["elements"].items()}

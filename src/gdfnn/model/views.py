"""Format-neutral views of a potential, for the writers and readers of other formats.

An :class:`ElementModel` is one element's feature transform and network as plain float64 CPU
tensors: the scaling ``x* = (G - shift) / scale``, the optional PCA whitening
``x = (x* - pca_mean) @ pca_matrix`` and the layers ``y = act(x W^T + b)``. The folding of
scaling and PCA into the first layer, which every exported format needs in one of three
forms, lives here once: :meth:`ElementModel.on_raw` (LAMMPS ``pair_style gdfnn``: the layers
read raw G), :meth:`ElementModel.on_scaled` (n2p2: they read ``x*``) and
:meth:`ElementModel.pca_layer` (SIMPLE-NN: PCA as a linear layer of its own).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gdfnn.descriptors import SymmetryFunctions
from gdfnn.model.network import AtomicEnergies, hidden_activations, linear_layers, set_layers
from gdfnn.model.potential import Potential
from gdfnn.model.scaling import ElementTransform

Layer = tuple[torch.Tensor, torch.Tensor]  # (weight (out, in), bias (out,)), float64


@dataclass(frozen=True)
class ElementModel:
    """One element: ``shift``, ``scale`` ``(D,)``; ``pca_mean`` ``(D,)`` and ``pca_matrix``
    ``(D, D)`` or None; ``layers`` input to output on the network inputs; ``activations``,
    one per layer (the last ``"linear"``)."""

    shift: torch.Tensor
    scale: torch.Tensor
    pca_mean: torch.Tensor | None
    pca_matrix: torch.Tensor | None
    layers: list[Layer]
    activations: list[str]

    @property
    def hidden(self) -> list[int]:
        return [w.shape[0] for w, _ in self.layers[:-1]]

    def on_scaled(self) -> list[Layer]:
        """The layers with PCA folded into the first: they read ``x* = (G - shift) / scale``
        (``W' = W M^T``, ``b' = b - W M^T mean``)."""
        if self.pca_matrix is None:
            return list(self.layers)
        (w, b), m = self.layers[0], self.pca_matrix
        return [(w @ m.T, b - (self.pca_mean @ m) @ w.T), *self.layers[1:]]

    def on_raw(self) -> list[Layer]:
        """The layers with scaling and PCA folded into the first: they read raw G."""
        layers = self.on_scaled()
        w, b = layers[0]
        return [(w / self.scale, b - (w / self.scale) @ self.shift), *layers[1:]]

    def pca_layer(self) -> Layer | None:
        """PCA whitening as a linear layer on ``x*`` (``(x* - mean) @ M = x* M + (-mean M)``),
        or None without PCA."""
        if self.pca_matrix is None:
            return None
        return self.pca_matrix.T.contiguous(), -(self.pca_mean @ self.pca_matrix)


def element_model(potential: Potential, element: str) -> ElementModel:
    """The view of ``element`` in ``potential`` (copies, float64, CPU)."""
    t = potential.transforms[element]

    def plain(x: torch.Tensor | None) -> torch.Tensor | None:
        return None if x is None else x.detach().double().cpu().clone()

    layers = [(plain(lin.weight), plain(lin.bias))
              for lin in linear_layers(potential.networks.nets[element])]
    return ElementModel(plain(t.shift), plain(t.scale), plain(t.pca_mean), plain(t.pca_matrix),
                        layers, [*hidden_activations(potential.networks), "linear"])


def build_potential(descriptor: SymmetryFunctions, models: dict[str, ElementModel],
                    metadata: dict | None = None) -> Potential:
    """A float64 :class:`Potential` from one :class:`ElementModel` per element (every element
    with the same hidden widths and activations, as gdfnn's networks have)."""
    first = models[descriptor.elements[0]]
    networks = AtomicEnergies(descriptor.elements, descriptor.n_features, first.hidden,
                              first.activations[:-1]).double()
    transforms = {}
    for element in descriptor.elements:
        m = models[element]
        set_layers(networks.nets[element], m.layers)
        transforms[element] = ElementTransform(m.shift, m.scale, m.pca_mean, m.pca_matrix)
    return Potential(descriptor, transforms, networks, metadata)


def training_range(potential: Potential, element: str, margin: float = 1e-9
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """(min, max) ``(D,)`` of each raw symmetry function over the training atoms, from the
    GDF reference the potential carries (None without one), widened by ``margin`` of the
    range: a training value recomputed by another code (rounding ~1e-13) is not outside."""
    if element not in potential.gdf_reference:
        return None
    t = potential.transforms[element]
    scale, shift = t.scale.detach().double().cpu(), t.shift.detach().double().cpu()
    low, high = (r * scale + shift for r in potential.reference_range(element))
    low, high = low.numpy(), high.numpy()
    pad = margin * (high - low + np.abs(low) + np.abs(high))
    return low - pad, high + pad

"""The format-neutral views of a potential: each folded form of the first layer computes what
the potential computes, and a potential built back from its views is the same potential."""

from __future__ import annotations

import pytest
import torch

from gdfnn.model.network import ACTIVATIONS
from gdfnn.model.views import build_potential, element_model


def run(layers, activations, x):
    for (w, b), name in zip(layers, activations, strict=True):
        x = ACTIVATIONS[name]()(x @ w.T + b)
    return x.squeeze(-1)


@pytest.mark.parametrize("pca", [False, True])
def test_every_folded_form_gives_the_potentials_atomic_energies(random_potential, pca):
    pot = random_potential(pca=pca, elements=("Si",))
    m = element_model(pot, "Si")
    g = torch.randn(20, pot.descriptor.n_features["Si"], dtype=torch.float64)
    expected = pot(g, torch.zeros(20, dtype=torch.long)).detach()
    scaled = (g - m.shift) / m.scale
    torch.testing.assert_close(run(m.on_raw(), m.activations, g), expected)
    torch.testing.assert_close(run(m.on_scaled(), m.activations, scaled), expected)
    layers, activations = list(m.layers), list(m.activations)
    if pca:
        layers.insert(0, m.pca_layer())
        activations.insert(0, "linear")
    else:
        assert m.pca_layer() is None and m.on_scaled() == m.layers
    torch.testing.assert_close(run(layers, activations, scaled), expected)


def test_a_potential_built_from_its_views_is_the_same(random_potential):
    pot = random_potential(pca=True, elements=("Si", "C"), activation="tanh")
    back = build_potential(pot.descriptor, {e: element_model(pot, e) for e in pot.elements})
    g = torch.randn(30, max(pot.descriptor.n_features.values()), dtype=torch.float64)
    species = torch.arange(30) % 2
    torch.testing.assert_close(back(g, species), pot(g, species))
    assert element_model(back, "C").activations == ["tanh", "tanh", "linear"]

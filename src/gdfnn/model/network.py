"""Per-element multilayer perceptrons and the Behler-Parrinello sum over atoms."""

from __future__ import annotations

import torch
from torch import nn


class _Gaussian(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-0.5 * x * x)


class _Cos(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cos(x)


class _RevLogistic(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(-x)  # 1 - 1 / (1 + exp(-x))


class _NegExp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-x)


class _Harmonic(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x


#: Hidden-layer activations by name (the output layer is linear): gdfnn's own and every one
#: n2p2 writes (see ``export.n2p2.ACTIVATION_CODES`` for its one-letter codes).
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "silu": nn.SiLU, "softplus": nn.Softplus,
               "linear": nn.Identity, "relu": nn.ReLU, "gaussian": _Gaussian, "cos": _Cos,
               "revlogistic": _RevLogistic, "exp": _NegExp, "harmonic": _Harmonic}
#: Precisions of features and networks by name (float64 is the default everywhere).
DTYPES = {"float64": torch.float64, "float32": torch.float32}


def layer_activations(activation: str | list[str], n_hidden: int) -> list[str]:
    """One activation name per hidden layer from one name or a list of them."""
    names = [activation] * n_hidden if isinstance(activation, str) else list(activation)
    if len(names) != n_hidden:
        raise ValueError(f"{len(names)} activations for {n_hidden} hidden layers")
    unknown = sorted(set(names) - set(ACTIVATIONS))
    if unknown:
        raise ValueError(f"unknown activation(s) {unknown}; known: {', '.join(ACTIVATIONS)}")
    return names


class ElementNet(nn.Sequential):
    """MLP ``D -> hidden... -> 1`` with the given activation(s) (one name, or one per hidden
    layer) and a linear output (eV)."""

    def __init__(self, n_in: int, hidden: list[int], activation: str | list[str] = "sigmoid"):
        layers: list[nn.Module] = []
        width = n_in
        for n_out, name in zip(hidden, layer_activations(activation, len(hidden)), strict=True):
            layers += [nn.Linear(width, n_out), ACTIVATIONS[name]()]
            width = n_out
        layers.append(nn.Linear(width, 1))
        super().__init__(*layers)


class AtomicEnergies(nn.Module):
    """One :class:`ElementNet` per element; atomic energies scattered back with index_add_.

    ``forward(x, species)`` takes network inputs ``x (N, D)`` (transformed features; element
    e reads its first ``n_features[e]`` columns) and ``species (N,)``, and returns ``(N,)``
    atomic energies in eV. No Python loop runs over atoms or structures, only over elements.
    """

    def __init__(self, elements: list[str], n_features: dict[str, int], hidden: list[int],
                 activation: str | list[str] = "sigmoid"):
        super().__init__()
        self.elements = list(elements)
        self.n_features = dict(n_features)
        self.hidden = list(hidden)
        self.activation = activation  # one name, or one per hidden layer
        self.nets = nn.ModuleDict({e: ElementNet(n_features[e], hidden, activation)
                                   for e in elements})

    def forward(self, x: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        if len(self.elements) == 1:  # one element: no selection, no scatter
            element = self.elements[0]
            return self.nets[element](x[:, : self.n_features[element]]).squeeze(-1)
        energies = x.new_zeros(x.shape[0])
        for n, element in enumerate(self.elements):
            rows = torch.nonzero(species == n).flatten()
            if rows.numel():
                out = self.nets[element](x[rows, : self.n_features[element]]).squeeze(-1)
                energies = energies.index_add(0, rows, out)
        return energies

    def set_reference_energies(self, per_atom: dict[str, float]) -> None:
        """Start each element's output bias at its fitted per-atom energy (eV)."""
        with torch.no_grad():
            for element, value in per_atom.items():
                self.nets[element][-1].bias.fill_(value)


def fit_reference_energies(energies: torch.Tensor, counts: torch.Tensor,
                           elements: list[str]) -> dict[str, float]:
    """Least-squares per-atom energies from totals ``(S,)`` eV and element counts ``(S, E)``."""
    solution = torch.linalg.lstsq(counts.to(torch.float64), energies.to(torch.float64)[:, None])
    return {e: float(v) for e, v in zip(elements, solution.solution.flatten(), strict=True)}


def linear_layers(net: ElementNet) -> list[nn.Linear]:
    """The Linear layers of an element network, input to output."""
    return [m for m in net if isinstance(m, nn.Linear)]


def set_layers(net: ElementNet, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Load ``(weight (out, in), bias (out,))`` pairs into the Linear layers of ``net``."""
    targets = linear_layers(net)
    if len(targets) != len(layers):
        raise ValueError(f"network has {len(targets)} layers, got {len(layers)}")
    with torch.no_grad():
        for linear, (w, b) in zip(targets, layers, strict=True):
            if tuple(w.shape) != tuple(linear.weight.shape):
                raise ValueError(f"layer shape {tuple(w.shape)} does not match "
                                 f"{tuple(linear.weight.shape)}")
            linear.weight.copy_(w)
            linear.bias.copy_(b)


def hidden_activations(networks: AtomicEnergies) -> list[str]:
    """The activation name of each hidden layer of ``networks``."""
    return layer_activations(networks.activation, len(networks.hidden))

"""GDF of a featurised data set: per element, on scaled pre-PCA training features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gdfnn.config import GdfConfig
from gdfnn.data.store import FEATURES, SPECIES, FeatureSet
from gdfnn.gdf.approximate import approximate_density
from gdfnn.gdf.density import auto_sigma, density
from gdfnn.gdf.modifiers import auto_c, theta
from gdfnn.model.scaling import ElementTransform


@dataclass
class ElementGdf:
    """GDF of one element: sigma and c used, rho and weights of its atoms (in data order)."""

    element: str
    sigma: float
    c: float | None
    rho: torch.Tensor  # (n_atoms_of_element,) against the training atoms
    weights: torch.Tensor  # (n_atoms_of_element,) Theta(1/rho) / mean over training atoms
    is_train: torch.Tensor  # (n_atoms_of_element,) bool
    approximate_error: float | None = None

    def stats(self) -> dict:
        """Weight statistics over the training atoms: min/median/max, fraction above 1 and
        the effective sample size (sum w)^2 / sum w^2 as a fraction of the atom count."""
        w = self.weights[self.is_train].to(torch.float64)
        return {"element": self.element, "sigma": self.sigma, "c": self.c,
                "atoms": int(w.numel()), "min": float(w.min()), "median": float(w.median()),
                "max": float(w.max()), "fraction_above_1": float((w > 1).double().mean()),
                "effective_sample_size": float(w.sum() ** 2 / (w**2).sum() / w.numel()),
                "approximate_max_rel_error": self.approximate_error}


def dataset_gdf(data: FeatureSet, is_train_atom: torch.Tensor,
                transforms: dict[str, ElementTransform], elements: list[str], config: GdfConfig,
                progress: bool = False) -> dict[str, ElementGdf]:
    """rho of every atom against the training atoms of its element (paper eq. 2) and weights
    Theta(1/rho) normalised to mean 1 over the training atoms (eq. 3-4): the training loss
    uses the training atoms' weights; other atoms get the same function of their rho, for
    GDF-weighted validation and test errors."""
    result = {}
    species = data.arrays[SPECIES]
    for n, element in enumerate(elements):
        mine = species == n
        transform = transforms[element]
        d = transform.shift.numel()
        x = transform.scaled(data.arrays[FEATURES][mine][:, :d].to(torch.float64))
        train = is_train_atom[mine]
        sigma = config.sigma if not isinstance(config.sigma, dict) else config.sigma[element]
        if sigma == "auto":
            sigma = auto_sigma(x[train])
        error = None
        if config.approximate:
            approx = approximate_density(x[train], sigma, modifier=config.modifier,
                                         b=config.b, c=config.c, progress=progress)
            rho_train, error = approx.rho, approx.max_rel_error_weights
        else:
            rho_train = density(x[train], sigma, progress=progress)
        rho = torch.empty(x.shape[0], dtype=torch.float64)
        rho[train] = rho_train
        if (~train).any():
            rho[~train] = density(x[~train], sigma, reference=x[train])
        c = config.c
        if config.modifier == "sigmoid-shifted" and c == "auto":
            c = auto_c(1.0 / rho_train)
        w = theta(1.0 / rho, config.modifier, config.b, c)
        w = w / w[train].mean()
        c_used = float(c) if config.modifier.startswith("sigmoid") else None
        result[element] = ElementGdf(element, float(sigma), c_used, rho, w, train, error)
    return result


def scatter_to_atoms(per_element: dict[str, ElementGdf], species: torch.Tensor,
                     elements: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-atom ``(N,)`` rho and weights in data order from the per-element results."""
    rho = np.full(species.numel(), np.nan)
    w = np.ones(species.numel())
    for n, element in enumerate(elements):
        mine = (species == n).numpy()
        rho[mine] = per_element[element].rho.numpy()
        w[mine] = per_element[element].weights.numpy()
    return rho, w

"""GDF of a data set: per element, on scaled pre-PCA features, against the training atoms."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from gdfnn.gdf.approximate import approximate_density
from gdfnn.gdf.density import DEFAULT_SIGMA, auto_sigma, density
from gdfnn.gdf.modifiers import DEFAULT_B, DEFAULT_C, DEFAULT_MODIFIER, auto_c, normalise, theta


@dataclass
class ElementGdf:
    """GDF of one element: sigma and c used, rho and weights of its atoms (in data order)."""

    element: str
    sigma: float
    c: float | None
    rho: torch.Tensor  # (n_atoms_of_element,) against the training atoms
    weights: torch.Tensor  # (n_atoms_of_element,) Theta(1/rho)^alpha / mean over training atoms
    raw: torch.Tensor  # (n_atoms_of_element,) Theta(1/rho)^alpha before normalisation
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


def element_gdf(element: str, x: torch.Tensor, is_train: torch.Tensor, *,
                sigma: float | str = DEFAULT_SIGMA, modifier: str = DEFAULT_MODIFIER,
                b: float = DEFAULT_B, c: float | str = DEFAULT_C, alpha: float = 1.0,
                max_weight: float | None = None, approximate: bool = False,
                chunk: int | None = None, progress: bool = False, distributed: bool = False
                ) -> ElementGdf:
    """GDF of one element's atoms.

    Args:
        x: ``(n, D)`` scaled pre-PCA features of every atom of the element (data order).
        is_train: ``(n,)`` bool, the training atoms: the references of rho, and the atoms
            over which the weights are normalised to mean 1.
        sigma: Gaussian width, or ``"auto"`` (SIMPLE-NN's rule on the training atoms).
        modifier, b, c: Theta of eq. 3-4 (``c="auto"``: SIMPLE-NN's fit, shifted sigmoid).
        alpha: tempering, w ∝ Theta(1/rho)^alpha (0: all weights 1, NNP-c; 1: the paper).
        max_weight: weights clipped at this value, the rest renormalised to mean 1.
        approximate: merged-cell references (for 1e6+ atoms), its error checked.
        distributed: split the kernel sums over the ranks of torch.distributed.

    Other atoms (validation, test) get rho against the training atoms and the same Theta
    with the training normalisation, for GDF-weighted error reports.
    """
    x = x.to(torch.float64)
    if sigma == "auto":
        sigma = auto_sigma(x[is_train])
    error = None
    if approximate:
        approx = approximate_density(x[is_train], sigma, modifier=modifier, b=b, c=c,
                                     progress=progress)
        rho_train, error = approx.rho, approx.max_rel_error_weights
    else:
        rho_train = density(x[is_train], sigma, chunk=chunk, progress=progress,
                            distributed=distributed)
    rho = torch.empty(x.shape[0], dtype=torch.float64)
    rho[is_train] = rho_train
    if (~is_train).any():
        rho[~is_train] = density(x[~is_train], sigma, reference=x[is_train], chunk=chunk,
                                 distributed=distributed)
    if modifier == "sigmoid-shifted" and c == "auto":
        c = auto_c(1.0 / rho_train)
    raw = theta(1.0 / rho, modifier, b, c) ** alpha
    c_used = float(c) if modifier.startswith("sigmoid") else None
    return ElementGdf(element, float(sigma), c_used, rho, normalise(raw, is_train, max_weight),
                      raw, is_train, error)


def normalise_jointly(per_element: dict[str, ElementGdf], max_weight: float | None = None
                      ) -> dict[str, ElementGdf]:
    """Weights normalised to mean 1 over the training atoms of all elements together (not per
    element): an element whose atoms are rarer keeps its larger weights."""
    raw = torch.cat([r.raw for r in per_element.values()])
    train = torch.cat([r.is_train for r in per_element.values()])
    weights = normalise(raw, train, max_weight).split([r.raw.numel() for r in
                                                       per_element.values()])
    return {e: replace(r, weights=w) for (e, r), w in zip(per_element.items(), weights,
                                                          strict=True)}


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

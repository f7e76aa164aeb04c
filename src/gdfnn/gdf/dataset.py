"""GDF of a data set: per element, on scaled pre-PCA features, against the training atoms."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from gdfnn.gdf.approximate import approximate_density
from gdfnn.gdf.density import density
from gdfnn.gdf.modifiers import effective_sample_size, normalise
from gdfnn.gdf.settings import GdfSettings


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
                "effective_sample_size": effective_sample_size(w),
                "approximate_max_rel_error": self.approximate_error}


#: Effective sample sizes (fractions of the atoms) above which GDF weighting changes nearly
#: nothing, and below which a few atoms carry the force loss.
INERT_ESS, EXTREME_ESS = 0.99, 0.1


def weight_warning(stats: dict) -> str | None:
    """What is wrong with an element's weights (:meth:`ElementGdf.stats`), in one line, or
    None: inert (effective sample size above :data:`INERT_ESS`) or extreme (below
    :data:`EXTREME_ESS`)."""
    ess, e = stats["effective_sample_size"], stats["element"]
    spread = f"weights {stats['min']:.3g}-{stats['max']:.3g}, effective sample size {ess:.3f}"
    if ess > INERT_ESS:
        return (f"GDF weighting of {e} is inert ({spread}): at sigma {stats['sigma']:.3g} the "
                "training atoms look equally dense; NNP-GDF will train like NNP-c (try other "
                "gdf.sigma values: gdfnn sweep --set gdf.sigma=...)")
    if ess < EXTREME_ESS:
        return (f"GDF weighting of {e} is extreme ({spread}): a few atoms carry the force "
                "loss (gdf.alpha < 1 tempers it)")
    return None


def element_gdf(element: str, x: torch.Tensor, is_train: torch.Tensor,
                settings: GdfSettings, *, chunk: int | None = None,
                progress: bool = False, distributed: bool = False) -> ElementGdf:
    """GDF of one element's atoms, weights normalised over its own training atoms.

    Args:
        x: ``(n, D)`` scaled pre-PCA features of every atom of the element (data order).
        is_train: ``(n,)`` bool, the training atoms: the references of rho, and the atoms
            over which the weights are normalised to mean 1.
        settings: sigma, Theta, tempering, cap (``settings.normalize`` is applied by
            :func:`dataset_gdf`).
        chunk: query rows per GEMM block (``None``: automatic); changes no result.
        distributed: split the kernel sums over the ranks of torch.distributed.

    Other atoms (validation, test) get rho against the training atoms and the same Theta
    with the training normalisation, for GDF-weighted error reports.
    """
    x = x.to(torch.float64)
    sigma = settings.resolved_sigma(element, x[is_train])
    error = None
    if settings.approximate:
        approx = approximate_density(x[is_train], sigma, modifier=settings.modifier,
                                     b=settings.b, c=settings.c, progress=progress)
        rho_train, error = approx.rho, approx.max_rel_error_weights
    else:
        rho_train = density(x[is_train], sigma, chunk=chunk, progress=progress,
                            distributed=distributed)
    rho = torch.empty(x.shape[0], dtype=torch.float64)
    rho[is_train] = rho_train
    if (~is_train).any():
        rho[~is_train] = density(x[~is_train], sigma, reference=x[is_train], chunk=chunk,
                                 distributed=distributed)
    raw, c_used = settings.raw_weights(rho, rho_train)
    return ElementGdf(element, sigma, c_used, rho,
                      normalise(raw, is_train, settings.max_weight), raw, is_train, error)


def dataset_gdf(scaled: dict[str, tuple[torch.Tensor, torch.Tensor]], settings: GdfSettings,
                *, chunk: int | None = None, progress: bool = False,
                distributed: bool = False) -> dict[str, ElementGdf]:
    """GDF rho and weights of every atom per element (paper eq. 2-4 with the tempering, cap
    and normalisation of ``settings``) from ``{element: (x (n, D), is_train (n,))}``."""
    per_element = {e: element_gdf(e, x, train, settings, chunk=chunk, progress=progress,
                                  distributed=distributed)
                   for e, (x, train) in scaled.items()}
    if settings.normalize == "all":
        per_element = normalise_jointly(per_element, settings.max_weight)
    return per_element


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

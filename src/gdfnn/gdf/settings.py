"""The GDF settings, written once: every value that changes rho or the weights (paper eq. 2-4
and gdfnn's tempering, cap and normalisation). The config's ``gdf`` section builds one
(:meth:`gdfnn.config.GdfConfig.settings`); it feeds the density (:func:`gdfnn.gdf.dataset.
dataset_gdf`), the key of the GDF cache (:meth:`GdfSettings.key`) and what a potential records
of its GDF (:meth:`GdfSettings.metadata`)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import torch

from gdfnn.gdf.density import DEFAULT_SIGMA, auto_sigma, density
from gdfnn.gdf.modifiers import (
    DEFAULT_B,
    DEFAULT_C,
    DEFAULT_MODIFIER,
    auto_c,
    effective_sample_size,
    normalise,
    theta,
)

log = logging.getLogger("gdfnn")

#: How the weights are normalised to mean 1: over each element's training atoms, or all.
NORMALIZATIONS = ("element", "all")
#: The effective sample size ``sigma="ess"`` aims at, the grid of widths it searches (from
#: wide to narrow on [-1, 1]-scaled features) and the training atoms it searches on at most.
DEFAULT_TARGET_ESS = 0.5
ESS_SIGMA_GRID = tuple(float(s) for s in np.geomspace(1.0, 1e-3, 31))
ESS_SEARCH_ATOMS = 20_000


@dataclass(frozen=True)
class GdfSettings:
    """How rho and the weights are computed.

    Attributes:
        sigma: Gaussian width on [-1, 1]-scaled features: one value (a number, ``"auto"``,
            SIMPLE-NN's rule on the training atoms, or ``"ess"``, the largest width whose
            weights have the effective sample size ``target_ess``) or a number per element.
        modifier, b, c: Theta of eq. 3-4 (``c="auto"``: SIMPLE-NN's fit, shifted sigmoid).
        alpha: tempering, w ∝ Theta(1/rho)^alpha (0: all weights 1; 1: the paper).
        max_weight: weights clipped at this value, the rest renormalised to mean 1.
        normalize: mean 1 over each ``"element"``'s training atoms, or over ``"all"``.
        approximate: merged-cell references (for 1e6+ atoms), its error checked.
        target_ess: the effective sample size (fraction of the training atoms) that
            ``sigma="ess"`` aims at.
    """

    sigma: float | str | Mapping[str, float] = DEFAULT_SIGMA
    modifier: str = DEFAULT_MODIFIER
    b: float = DEFAULT_B
    c: float | str = DEFAULT_C
    alpha: float = 1.0
    max_weight: float | None = None
    normalize: str = "element"
    approximate: bool = False
    target_ess: float = DEFAULT_TARGET_ESS

    def sigma_of(self, element: str) -> float | str:
        """The configured width of ``element`` (a number or ``"auto"``)."""
        return self.sigma[element] if isinstance(self.sigma, Mapping) else self.sigma

    def resolved_sigma(self, element: str, train_x: torch.Tensor) -> float:
        """The width of ``element`` as a number: ``"auto"`` is SIMPLE-NN's rule and
        ``"ess"`` :func:`ess_sigma` on its scaled training features ``train_x (M, D)``."""
        sigma = self.sigma_of(element)
        if sigma == "auto":
            return auto_sigma(train_x.to(torch.float64))
        if sigma == "ess":
            return ess_sigma(train_x, self, element)
        return float(sigma)

    def raw_weights(self, rho: torch.Tensor, rho_train: torch.Tensor
                    ) -> tuple[torch.Tensor, float | None]:
        """Theta(1/rho)^alpha of ``rho (n,)`` before normalisation, and the c used (None
        for the modifiers without one); ``c="auto"`` is fitted on ``rho_train``, the
        training atoms' rho."""
        c = self.c
        if self.modifier == "sigmoid-shifted" and c == "auto":
            c = auto_c(1.0 / rho_train)
        raw = theta(1.0 / rho, self.modifier, self.b, c) ** self.alpha
        return raw, (float(c) if self.modifier.startswith("sigmoid") else None)

    def key(self) -> str:
        """A digest of every setting (with the data it is the GDF cache's key)."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True, default=str)
                              .encode()).hexdigest()

    def as_dict(self) -> dict:
        values = asdict(self)
        if isinstance(self.sigma, Mapping):
            values["sigma"] = dict(self.sigma)
        return values

    def metadata(self, enabled: bool, sigma: Mapping[str, float],
                 c: Mapping[str, float | None] | None = None) -> dict:
        """What a potential records of its GDF: every setting, with the widths used per
        element (numbers, ``"auto"`` resolved) and, where computed, the c used per element."""
        return {**self.as_dict(), "enabled": enabled, "sigma": dict(sigma),
                **({"c": dict(c)} if c is not None else {})}


def ess_sigma(train_x: torch.Tensor, settings: GdfSettings, element: str = "") -> float:
    """The largest width whose weights (``settings``' Theta, alpha and cap) have the
    effective sample size ``settings.target_ess`` on the training features ``train_x (M,
    D)``.

    The effective sample size is 1 for very wide Gaussians (every atom equally dense) and
    falls as the width shrinks, until the self term dominates and it rises again: the widths
    of :data:`ESS_SIGMA_GRID` are tried from the widest down, and the first step that
    crosses the target is bisected (in log width, to 1 %). Where no width reaches the target,
    the width with the smallest effective sample size is taken and a warning says so. More
    than :data:`ESS_SEARCH_ATOMS` atoms are searched on a fixed random subset of them.
    """
    x = train_x.to(torch.float64)
    if x.shape[0] > ESS_SEARCH_ATOMS:
        pick = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
        x = x[pick[:ESS_SEARCH_ATOMS]]
    all_atoms = torch.ones(x.shape[0], dtype=torch.bool)

    def ess(sigma: float) -> float:
        rho = density(x, sigma)
        return effective_sample_size(normalise(settings.raw_weights(rho, rho)[0], all_atoms,
                                               settings.max_weight))

    target, wide = settings.target_ess, None
    tried = []
    for sigma in ESS_SIGMA_GRID:
        value = ess(sigma)
        tried.append((value, sigma))
        if value <= target:
            if wide is None:
                return sigma
            lo, hi = math.log(sigma), math.log(wide)  # ess(lo) <= target < ess(hi)
            while hi - lo > 0.01:
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if ess(math.exp(mid)) <= target else (lo, mid)
            return math.exp(lo)
        wide = sigma
    value, sigma = min(tried)
    log.warning("GDF %s: no width gives effective sample size %.3g (smallest %.3g, at sigma "
                "%.3g): using that width", element, target, value, sigma)
    return sigma

"""The GDF settings, written once: every value that changes rho or the weights (paper eq. 2-4
and gdfnn's tempering, cap and normalisation). The config's ``gdf`` section builds one
(:meth:`gdfnn.config.GdfConfig.settings`); it feeds the density (:func:`gdfnn.gdf.dataset.
dataset_gdf`), the key of the GDF cache (:meth:`GdfSettings.key`) and what a potential records
of its GDF (:meth:`GdfSettings.metadata`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import torch

from gdfnn.gdf.density import DEFAULT_SIGMA, auto_sigma
from gdfnn.gdf.modifiers import DEFAULT_B, DEFAULT_C, DEFAULT_MODIFIER

#: How the weights are normalised to mean 1: over each element's training atoms, or all.
NORMALIZATIONS = ("element", "all")


@dataclass(frozen=True)
class GdfSettings:
    """How rho and the weights are computed.

    Attributes:
        sigma: Gaussian width on [-1, 1]-scaled features: one value (a number or
            ``"auto"``, SIMPLE-NN's rule on the training atoms) or a number per element.
        modifier, b, c: Theta of eq. 3-4 (``c="auto"``: SIMPLE-NN's fit, shifted sigmoid).
        alpha: tempering, w ∝ Theta(1/rho)^alpha (0: all weights 1; 1: the paper).
        max_weight: weights clipped at this value, the rest renormalised to mean 1.
        normalize: mean 1 over each ``"element"``'s training atoms, or over ``"all"``.
        approximate: merged-cell references (for 1e6+ atoms), its error checked.
    """

    sigma: float | str | Mapping[str, float] = DEFAULT_SIGMA
    modifier: str = DEFAULT_MODIFIER
    b: float = DEFAULT_B
    c: float | str = DEFAULT_C
    alpha: float = 1.0
    max_weight: float | None = None
    normalize: str = "element"
    approximate: bool = False

    def sigma_of(self, element: str) -> float | str:
        """The configured width of ``element`` (a number or ``"auto"``)."""
        return self.sigma[element] if isinstance(self.sigma, Mapping) else self.sigma

    def resolved_sigma(self, element: str, train_x: torch.Tensor) -> float:
        """The width of ``element`` as a number: ``"auto"`` is SIMPLE-NN's rule on its scaled
        training features ``train_x (M, D)``."""
        sigma = self.sigma_of(element)
        return float(auto_sigma(train_x.to(torch.float64)) if sigma == "auto" else sigma)

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


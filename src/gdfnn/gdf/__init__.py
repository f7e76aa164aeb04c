"""Gaussian density function (paper eq. 2), sigma, modifiers and weights (eq. 3-4)."""

from gdfnn.gdf.approximate import ApproximateDensity, approximate_density
from gdfnn.gdf.density import auto_sigma, density
from gdfnn.gdf.modifiers import MODIFIERS, auto_c, theta, weights

__all__ = ["MODIFIERS", "ApproximateDensity", "approximate_density", "auto_c", "auto_sigma",
           "density", "theta", "weights"]

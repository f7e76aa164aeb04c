"""Behler-Parrinello symmetry functions with exact analytic derivatives."""

from gdfnn.descriptors.params import SymmetryFunction, default_functions
from gdfnn.descriptors.symmetry import FeatureBlock, SymmetryFunctions

__all__ = ["FeatureBlock", "SymmetryFunction", "SymmetryFunctions", "default_functions"]

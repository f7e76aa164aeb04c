"""gdfnn: Behler-Parrinello neural-network potentials with Gaussian-density-function weighting.

Units everywhere: eV, Å, eV/Å, eV/Å^3 (stress, ASE sign).

The public names below are imported on first use, so ``import gdfnn`` is cheap and has no
side effects (no plotting backend, no warning filters, no threads set).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

try:
    __version__ = version("gdfnn")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

#: public name -> module that defines it
_LAZY = {
    "FeatureBlock": "gdfnn.descriptors",
    "SymmetryFunctions": "gdfnn.descriptors",
    "Potential": "gdfnn.model.potential",
    "load_potential": "gdfnn.export.formats",
    "NNPCalculator": "gdfnn.calculator",
    "train": "gdfnn.workflows.train",
    "learn": "gdfnn.workflows.learn",
}
_SUBMODULES = ("datasets", "gdf")

__all__ = ["FeatureBlock", "NNPCalculator", "Potential", "SymmetryFunctions", "__version__",
           "datasets", "gdf", "learn", "load_potential", "train"]

if TYPE_CHECKING:
    from gdfnn import datasets, gdf
    from gdfnn.calculator import NNPCalculator
    from gdfnn.descriptors import FeatureBlock, SymmetryFunctions
    from gdfnn.export.formats import load_potential
    from gdfnn.model.potential import Potential
    from gdfnn.workflows.learn import learn
    from gdfnn.workflows.train import train


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"gdfnn.{name}")
    else:
        raise AttributeError(f"module 'gdfnn' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""gdfnn: Behler-Parrinello neural-network potentials with Gaussian-density-function weighting.

Units everywhere: eV, Å, eV/Å, eV/Å^3 (stress, ASE sign).
"""

from importlib.metadata import PackageNotFoundError, version

from gdfnn import gdf
from gdfnn.descriptors import FeatureBlock, SymmetryFunctions
from gdfnn.model.potential import Potential
from gdfnn.workflows.train import train

try:
    __version__ = version("gdfnn")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["FeatureBlock", "Potential", "SymmetryFunctions", "__version__", "gdf", "train"]

"""gdfnn: Behler-Parrinello neural-network potentials with Gaussian-density-function weighting.

Units everywhere: eV, Å, eV/Å, eV/Å^3 (stress, ASE sign).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gdfnn")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

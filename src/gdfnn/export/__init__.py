"""Potential files: gdfnn's own ``potential.pt``, SIMPLE-NN ``potential_saved`` (LAMMPS
``pair_style nn``) and n2p2 (``input.nn``, ``scaling.data``, ``weights.NNN.data``; LAMMPS
``pair_style hdnnp``): :func:`load_potential` reads any of them, :func:`convert` writes."""

from gdfnn.export.formats import FORMATS, convert, detect_format, load_potential
from gdfnn.export.n2p2 import read_n2p2_potential, write_n2p2_potential
from gdfnn.export.simple_nn import read_simple_nn_potential, write_simple_nn_potential

__all__ = ["FORMATS", "convert", "detect_format", "load_potential", "read_n2p2_potential",
           "read_simple_nn_potential", "write_n2p2_potential", "write_simple_nn_potential"]

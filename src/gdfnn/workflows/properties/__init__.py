"""Physical properties of a potential against DFT and its peers (``gdfnn properties``):
lattice constant and equation of state, the elastic tensor with relaxed ions, vacancy
formation and low-index surface energies, phonons at the high-symmetry points.

One module per job: ``crystal`` (the lattices and cells), ``relax``, ``bulk`` (equation of
state, elastic tensor, pressure), ``defects``, ``phonons``, ``compute`` (all of them with one
calculator), ``references`` (values files and other potentials), ``report`` (table, JSON,
plots), ``run`` (the command's workflow). Units: Å, eV, GPa, J/m^2, THz.
"""

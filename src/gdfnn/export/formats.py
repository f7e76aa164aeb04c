"""Load a potential from any supported file, and write it in another format."""

from __future__ import annotations

import os
from pathlib import Path

from gdfnn import datasets
from gdfnn.errors import InputError
from gdfnn.export.lammps import (
    gdfnn_lines,
    hdnnp_lines,
    read_lammps_potential,
    simple_nn_lines,
    write_lammps_potential,
)
from gdfnn.export.n2p2 import n2p2_elements, read_n2p2_potential, write_n2p2_potential
from gdfnn.export.simple_nn import read_simple_nn_potential, write_simple_nn_potential
from gdfnn.model.potential import Potential

#: Formats a potential is read from and written to (``format="auto"`` detects each);
#: ``lammps`` is the file of gdfnn's own ``pair_style gdfnn`` plugin.
FORMATS = ("gdfnn", "n2p2", "simple-nn", "lammps")


def detect_format(path: str | os.PathLike) -> str:
    """``gdfnn`` (a ``.pt`` file), ``n2p2`` (a directory with ``input.nn``), ``simple-nn``
    (a file whose first word is ``ELEM_LIST``) or ``lammps`` (first word ``gdfnn_potential``
    after the comments)."""
    path = Path(path)
    if path.is_dir():
        if not (path / "input.nn").is_file():
            raise InputError(f"{path}: a directory without input.nn is not an n2p2 potential")
        return "n2p2"
    if not path.is_file():
        raise InputError(f"{path}: no such potential")
    if path.suffix == ".pt":
        return "gdfnn"
    with open(path, errors="replace") as f:
        first = next((line.split() for line in f if line.split() and
                      not line.lstrip().startswith("#")), [])
    if first[:1] == ["ELEM_LIST"]:
        return "simple-nn"
    if first[:1] == ["gdfnn_potential"]:
        return "lammps"
    raise InputError(f"{path}: not a potential.pt, an n2p2 directory, a SIMPLE-NN "
                     "potential_saved or a gdfnn LAMMPS potential file")


def load_potential(path: str | os.PathLike, format: str = "auto", *,
                   length_unit: float | str = 1.0, energy_unit: float | str = 1.0,
                   epoch: int | None = None, device: str = "cpu") -> Potential:
    """A potential from ``path``: a gdfnn ``potential.pt``, an n2p2 directory (``input.nn``,
    ``scaling.data``, ``weights.NNN.data``) or a SIMPLE-NN ``potential_saved`` file; a
    packaged one by ``dataset:NAME`` (e.g. ``dataset:mlearn-n2p2-si``, Bohr and Hartree).

    Args:
        format: ``"auto"`` (detected from the path) or one of :data:`FORMATS`.
        length_unit, energy_unit: units an n2p2 potential was trained in (``"bohr"``,
            ``"hartree"`` or a factor in Å / eV per unit); predictions are in eV and Å.
        epoch: an ``nnp-train`` folder's epoch whose ``weights.NNN.EEEEEE.out`` are read
            (default: ``weights.NNN.data``, else the last epoch written).
        device: where the potential is placed.
    """
    path = datasets.local_path(path) if isinstance(path, str) else path
    if format == "auto":
        format = detect_format(path)
    if format == "gdfnn":
        return Potential.load(path, device)
    if format == "n2p2":
        pot = read_n2p2_potential(path, length_unit=length_unit, energy_unit=energy_unit,
                                  epoch=epoch)
    elif format == "simple-nn":
        pot = read_simple_nn_potential(path)
    elif format == "lammps":
        pot = read_lammps_potential(path)
    else:
        raise InputError(f"unknown potential format {format!r}: auto, {', '.join(FORMATS)}")
    return pot.to(device)


def convert(potential: Potential, fmt: str, output: str | Path, *,
            length_unit: float | str = 1.0, energy_unit: float | str = 1.0) -> str:
    """Write ``potential`` as ``fmt`` into ``output``; returns how to use it."""
    output = Path(output)
    if fmt == "gdfnn":
        potential.save(output)
        return f"potential.pt written: gdfnn.load_potential({str(output)!r})"
    if fmt == "simple-nn":
        write_simple_nn_potential(potential, output)
        return simple_nn_lines(str(output), potential.elements)
    if fmt == "lammps":
        write_lammps_potential(potential, output)
        return gdfnn_lines(str(output), "PLUGIN   # the path 'gdfnn lammps build' prints",
                           potential.elements)
    if fmt == "n2p2":
        write_n2p2_potential(potential, output, length_unit=length_unit, energy_unit=energy_unit)
        return hdnnp_lines(str(output), n2p2_elements(potential.elements),
                           potential.descriptor.cutoff, length_unit, energy_unit)
    raise InputError(f"unknown format {fmt!r}: {', '.join(FORMATS)}")

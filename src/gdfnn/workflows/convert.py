"""Load a potential from any supported file, and write it in another format."""

from __future__ import annotations

from pathlib import Path

from gdfnn.errors import InputError
from gdfnn.export.lammps import hdnnp_lines, simple_nn_lines
from gdfnn.export.n2p2 import n2p2_elements, read_n2p2_potential, write_n2p2_potential
from gdfnn.export.simple_nn import read_simple_nn_potential, write_simple_nn_potential
from gdfnn.model.potential import Potential

FORMATS = ("gdfnn", "n2p2", "simple-nn")


def load_potential(path: str | Path, *, length_unit: float | str = 1.0,
                   energy_unit: float | str = 1.0) -> Potential:
    """A ``potential.pt``, an n2p2 directory (``input.nn`` inside) or a SIMPLE-NN
    ``potential_saved`` file; units apply to n2p2 potentials."""
    path = Path(path)
    if path.is_dir():
        return read_n2p2_potential(path, length_unit=length_unit, energy_unit=energy_unit)
    if not path.is_file():
        raise InputError(f"{path}: no such potential")
    if path.suffix == ".pt":
        return Potential.load(path)
    with open(path, errors="replace") as f:
        first = f.readline().split()
    if first[:1] == ["ELEM_LIST"]:
        return read_simple_nn_potential(path)
    raise InputError(f"{path}: not a potential.pt, an n2p2 directory or a SIMPLE-NN "
                     "potential_saved file")


def convert(potential: Potential, fmt: str, output: str | Path, *,
            length_unit: float | str = 1.0, energy_unit: float | str = 1.0) -> str:
    """Write ``potential`` as ``fmt`` into ``output``; returns how to use it."""
    output = Path(output)
    if fmt == "gdfnn":
        potential.save(output)
        return f"potential.pt written: gdfnn.Potential.load({str(output)!r})"
    if fmt == "simple-nn":
        write_simple_nn_potential(potential, output)
        return simple_nn_lines(str(output), potential.elements)
    if fmt == "n2p2":
        write_n2p2_potential(potential, output, length_unit=length_unit, energy_unit=energy_unit)
        return hdnnp_lines(str(output), n2p2_elements(potential.elements),
                           potential.descriptor.cutoff, length_unit, energy_unit)
    raise InputError(f"unknown format {fmt!r}: {', '.join(FORMATS)}")

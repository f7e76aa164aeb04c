"""An ASE calculator named in a config: a gdfnn reference potential (``snap-si``, ``emt``,
...) or any calculator class by its import path (``ase.calculators.emt.EMT``, a DFT code's
ASE calculator) with keyword arguments.

``gdfnn learn`` labels each frame in a process of its own (so that a label can be timed out
and killed like a command's): ``python -m gdfnn.reference.calculators SPEC KWARGS INPUT
OUTPUT`` reads INPUT (extxyz, one frame) and writes OUTPUT (extxyz: energy, forces and, for a
3-D periodic cell, stress; eV, eV/Å, eV/Å^3) atomically. Exit status :data:`NO_FORCES`: the
calculator gives no forces (every frame would fail: the caller stops)."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import ase.io
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.singlepoint import SinglePointCalculator

from gdfnn.errors import InputError
from gdfnn.fileio import atomic_write
from gdfnn.reference.potentials import REFERENCES, get_reference

NO_FORCES = 3


def calculator_factory(spec: str):
    """The callable that makes the calculator ``spec`` names: a reference potential's
    factory, or the class at the import path ``package.module.Class`` (or
    ``package.module:Class``). Raises :class:`InputError`, one line, for a name that is
    neither."""
    if spec in REFERENCES:
        def reference(**kwargs):
            if kwargs:
                raise TypeError("a reference potential takes no keyword arguments")
            return get_reference(spec)
        return reference
    module_name, _, name = spec.replace(":", ".").rpartition(".")
    if not module_name:
        raise InputError(f"calculator {spec!r}: neither a reference potential "
                         f"({', '.join(REFERENCES)}) nor an import path such as "
                         "ase.calculators.emt.EMT")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"calculator {spec!r}: cannot import {module_name}: {exc}") from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise InputError(f"calculator {spec!r}: {module_name} has no calculator {name!r}")
    return factory


def labelling_factory(spec: str):
    """:func:`calculator_factory` for a labeller: also refuses (one line) a calculator class
    whose ``implemented_properties`` lack forces."""
    factory = calculator_factory(spec)
    properties = getattr(factory, "implemented_properties", None)
    if properties is not None and "forces" not in properties:
        raise InputError(f"calculator {spec!r}: gives no forces (it implements "
                         f"{', '.join(properties) or 'nothing'})")
    return factory


def make_calculator(spec: str, kwargs: dict[str, Any] | None = None):
    """A new calculator ``spec`` (see :func:`calculator_factory`) made with ``kwargs``."""
    try:
        return calculator_factory(spec)(**(kwargs or {}))
    except TypeError as exc:
        raise InputError(f"calculator {spec!r}: {exc}") from None


def main(argv: list[str]) -> int:
    """Label one frame (see the module); the exit status."""
    spec, kwargs, source, target = argv
    atoms = ase.io.read(source)
    atoms.calc = make_calculator(spec, json.loads(kwargs))
    results = {"energy": atoms.get_potential_energy()}
    try:
        results["forces"] = atoms.get_forces()
    except PropertyNotImplementedError:
        print(f"calculator {spec} gives no forces", file=sys.stderr)
        return NO_FORCES
    if atoms.pbc.all():
        try:
            results["stress"] = atoms.get_stress()
        except PropertyNotImplementedError:
            pass
    atoms.calc = SinglePointCalculator(atoms, **results)
    with atomic_write(target) as out:
        ase.io.write(out, atoms, format="extxyz")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

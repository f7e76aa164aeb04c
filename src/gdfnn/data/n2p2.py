"""n2p2 ``input.data`` reader and writer.

Format (one block per structure)::

    begin
    comment <text>
    lattice <ax> <ay> <az>        (three lines, periodic structures only)
    atom <x> <y> <z> <element> <charge> <n> <fx> <fy> <fz>
    energy <E>
    charge <Q>
    end

n2p2 is unit-agnostic; ``length_unit`` and ``energy_unit`` say what the file's units
are (names such as ``"bohr"``/``"hartree"`` or Å and eV per file unit).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import ase
import numpy as np

from gdfnn.data.structure import DEFAULT_GROUP, Structure
from gdfnn.errors import InputError
from gdfnn.fileio import atomic_write
from gdfnn.units import energy_factor, length_factor


def _parse_block(lines: list[tuple[int, str]], path: Path, index: int) -> Structure:
    cell, symbols, positions, forces = [], [], [], []
    energy, comment = None, ""
    for lineno, line in lines:
        key, *fields = line.split()
        try:
            if key == "comment":
                comment = line.split(None, 1)[1] if len(fields) else ""
            elif key == "lattice":
                cell.append([float(x) for x in fields[:3]])
            elif key == "atom":
                positions.append([float(x) for x in fields[:3]])
                symbols.append(fields[3])
                forces.append([float(x) for x in fields[6:9]])
            elif key == "energy":
                energy = float(fields[0])
            elif key != "charge":
                raise ValueError(f"unknown keyword {key!r}")
        except (ValueError, IndexError) as exc:
            raise InputError(f"{path} frame {index}: line {lineno}: {exc}") from exc
    if cell and len(cell) != 3:
        raise InputError(f"{path} frame {index}: {len(cell)} lattice lines, expected 3")
    try:
        atoms = ase.Atoms(symbols, positions=positions, cell=cell or None, pbc=bool(cell))
    except KeyError as exc:
        raise InputError(f"{path} frame {index}: unknown element {exc}") from None
    atoms.info["comment"] = comment
    return Structure(atoms, energy, np.array(forces, dtype=float).reshape(-1, 3),
                     None, DEFAULT_GROUP, 1.0, str(path), index)


def read_n2p2(
    path: str | os.PathLike, *, length_unit: float | str = 1.0, energy_unit: float | str = 1.0,
    limit: int | None = None,
) -> list[Structure]:
    """Read every structure (the first ``limit`` where given) of an n2p2 ``input.data`` file,
    converted to Å and eV."""
    path = Path(path)
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] | None = None
    with open(path) as handle:
        for lineno, raw in enumerate(handle, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            key = line.split()[0]
            if key == "begin":
                if current is not None:
                    raise InputError(f"{path}: line {lineno}: 'begin' before 'end'")
                current = []
            elif key == "end":
                if current is None:
                    raise InputError(f"{path}: line {lineno}: 'end' without 'begin'")
                blocks.append(current)
                current = None
                if limit is not None and len(blocks) >= limit:
                    break
            elif current is None:
                raise InputError(f"{path}: line {lineno}: {key!r} outside begin/end")
            else:
                current.append((lineno, line))
    if current is not None:
        raise InputError(f"{path}: last structure has no 'end'")
    if not blocks:
        raise InputError(f"{path}: no structures (no 'begin' ... 'end' block)")
    to_angstrom, to_ev = length_factor(length_unit), energy_factor(energy_unit)
    structures = [_parse_block(block, path, i) for i, block in enumerate(blocks)]
    for s in structures:
        s.convert_units(to_angstrom, to_ev)
    return structures


def write_n2p2(
    path: str | os.PathLike,
    structures: Iterable[Structure],
    *,
    length_unit: float | str = 1.0,
    energy_unit: float | str = 1.0,
) -> None:
    """Write structures to an n2p2 ``input.data`` file in the given units.

    Every structure needs an energy and forces; the file is written atomically.
    """
    to_len, to_en = 1.0 / length_factor(length_unit), 1.0 / energy_factor(energy_unit)
    with atomic_write(path) as out:
        for s in structures:
            if s.energy is None or s.forces is None:
                raise InputError(f"{s.label}: n2p2 input.data needs an energy and forces")
            out.write("begin\n")
            comment = s.atoms.info.get("comment") or f"{s.label} group={s.group}"
            out.write(f"comment {comment}\n")
            if s.atoms.pbc.any():
                for vec in s.atoms.cell.array * to_len:
                    out.write("lattice {:.12f} {:.12f} {:.12f}\n".format(*vec))
            pos, frc = s.atoms.positions * to_len, s.forces * to_en / to_len
            for sym, r, f in zip(s.atoms.get_chemical_symbols(), pos, frc, strict=True):
                out.write(
                    f"atom {r[0]:.12f} {r[1]:.12f} {r[2]:.12f} {sym} 0.0 0.0 "
                    f"{f[0]:.12e} {f[1]:.12e} {f[2]:.12e}\n"
                )
            out.write(f"energy {s.energy * to_en:.12f}\ncharge 0.0\nend\n")

"""Read labelled frames from any format ``ase.io`` knows, and from n2p2 ``input.data``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import ase
import ase.io
import numpy as np
from ase.calculators.calculator import PropertyNotImplementedError
from ase.stress import full_3x3_to_voigt_6_stress

from gdfnn.data.structure import DEFAULT_GROUP, Structure
from gdfnn.errors import InputError
from gdfnn.units import energy_factor, length_factor

N2P2_FORMAT = "n2p2"


def frame_indices(index: str | int | slice, n_frames: int) -> list[int]:
    """Indices selected by an ase-style index (``":"``, ``"::10"``, ``"-1"``, ``5``)."""
    if isinstance(index, int):
        return [range(n_frames)[index]]
    if isinstance(index, slice):
        return list(range(n_frames))[index]
    text = str(index).strip()
    if ":" not in text:
        return [range(n_frames)[int(text)]]
    parts = [int(p) if p.strip() else None for p in text.split(":")]
    return list(range(n_frames))[slice(*parts)]


def _guess_format(path: Path, fmt: str | None) -> str | None:
    if fmt is not None:
        return fmt
    if path.name == "input.data" or path.suffix == ".data":
        return N2P2_FORMAT
    return None


def _labels_from_atoms(atoms: ase.Atoms) -> tuple[float | None, np.ndarray | None, np.ndarray | None]:
    """Energy (force-consistent where offered), forces and Voigt stress of a read frame."""
    calc = atoms.calc
    if calc is None:
        return None, None, None
    results = getattr(calc, "results", {})
    energy = None
    if "free_energy" in results or "energy" in results:
        try:
            energy = float(calc.get_potential_energy(atoms, force_consistent=True))
        except PropertyNotImplementedError:
            energy = float(calc.get_potential_energy(atoms))
    forces = results.get("forces")
    stress = results.get("stress")
    if stress is not None:
        stress = np.asarray(stress, dtype=float)
        if stress.shape == (3, 3):
            stress = full_3x3_to_voigt_6_stress(stress)
    return energy, None if forces is None else np.array(forces, dtype=float), stress


def read_structures(
    path: str | os.PathLike,
    index: str | int | slice = ":",
    *,
    format: str | None = None,
    group: str | None = None,
    weight: float = 1.0,
    length_unit: float | str = 1.0,
    energy_unit: float | str = 1.0,
) -> list[Structure]:
    """Read labelled frames from ``path``.

    Args:
        path: any file ``ase.io.read`` reads (extxyz, vasp-out OUTCAR, vasp-xml, traj, ...)
            or an n2p2 ``input.data`` file (format ``"n2p2"``, guessed from ``*.data``).
        index: ase-style frame selection, e.g. ``":"``, ``"::10"``, ``"0:100"``, ``-1``.
        format: ase format name, or ``"n2p2"``; None guesses from the file name.
        group: group tag for every frame; None takes each frame's ``config_type``
            (else ``"default"``).
        weight: structure weight for every frame.
        length_unit, energy_unit: the file's units (``"bohr"``, ``"hartree"``, or Å and
            eV per file unit); frames are converted to Å and eV.

    Raises:
        InputError: missing, empty or unreadable file (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    fmt = _guess_format(path, format)
    if fmt == N2P2_FORMAT:
        from gdfnn.data.n2p2 import read_n2p2

        frames = read_n2p2(path, length_unit=length_unit, energy_unit=energy_unit)
        selected = [frames[i] for i in frame_indices(index, len(frames))]
        for s in selected:
            s.group = group or s.group
            s.weight = weight
        return selected
    try:
        images = ase.io.read(path, index=":", format=fmt)
    except Exception as exc:  # ase raises many types for unreadable input
        what = f"format {fmt!r}" if fmt else "any format ase.io knows"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot read as {what}: {reason}") from exc
    if not images:
        raise InputError(f"{path}: file has no frames")
    try:
        selection = frame_indices(index, len(images))
    except (ValueError, IndexError) as exc:
        raise InputError(f"{path}: bad frame index {index!r} for {len(images)} frames") from exc
    to_angstrom, to_ev = length_factor(length_unit), energy_factor(energy_unit)
    structures = []
    for i in selection:
        atoms = images[i]
        energy, forces, stress = _labels_from_atoms(atoms)
        results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
        energies = results.get("energies")
        atoms.calc = None
        tag = group or str(atoms.info.get("config_type", DEFAULT_GROUP))
        frame = Structure(atoms, energy, forces, stress, tag, float(weight), str(path), i,
                          None if energies is None else np.array(energies, dtype=float))
        frame.convert_units(to_angstrom, to_ev)
        structures.append(frame)
    return structures


def write_structures(path: str | os.PathLike, structures: Sequence[Structure]) -> Path:
    """Write labelled frames as extxyz (atomically), groups as ``config_type``."""
    from gdfnn.fileio import atomic_write

    with atomic_write(path) as f:
        ase.io.write(f, [s.to_atoms() for s in structures], format="extxyz")
    return Path(path)

"""Turn data entries (``path [slice]`` strings, structure_list files) into frames."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from gdfnn.data.readers import read_structures
from gdfnn.data.structure import Structure
from gdfnn.data.structure_list import SourceSpec, parse_entry, parse_structure_list


def resolve_entries(
    entries: Sequence[str | SourceSpec], base: str | os.PathLike = "."
) -> list[SourceSpec]:
    """Expand entries: a ``SourceSpec`` stays; a string is ``path [slice]`` with braces and
    globs, or a SIMPLE-NN structure_list (a file named ``structure_list*``)."""
    base = Path(base)
    specs: list[SourceSpec] = []
    for entry in entries:
        if isinstance(entry, SourceSpec):
            specs.append(entry)
        elif Path(entry.split()[0]).name.startswith("structure_list"):
            path = Path(entry) if os.path.isabs(entry) else base / entry
            specs.extend(parse_structure_list(path))
        else:
            specs.extend(parse_entry(entry, base, f"data entry {entry!r}"))
    return specs


def load_sources(
    entries: Sequence[str | SourceSpec],
    base: str | os.PathLike = ".",
    *,
    length_unit: float | str = 1.0,
    energy_unit: float | str = 1.0,
    progress: bool = True,
) -> list[Structure]:
    """Read every frame named by ``entries`` (see :func:`resolve_entries`), in order."""
    specs = resolve_entries(entries, base)
    structures: list[Structure] = []
    for spec in tqdm(specs, desc="reading", unit="file", disable=not progress or len(specs) < 2):
        structures.extend(
            read_structures(spec.path, spec.index, format=spec.format, group=spec.group,
                            weight=spec.weight, length_unit=length_unit, energy_unit=energy_unit)
        )
    return structures


def entries_digest(entries: Sequence[str | SourceSpec], base: str | os.PathLike = ".") -> str:
    """SHA-256 of what ``entries`` read: the bytes of every file, with its frame slice, group
    and weight (not where the files lie: the same data copied elsewhere has the same digest).
    A file that cannot be read counts by its name."""
    h = hashlib.sha256()
    for spec in resolve_entries(entries, base):
        path = Path(spec.path)
        h.update(f"{spec.index}|{spec.group}|{spec.weight}|{spec.format}|".encode())
        h.update(path.read_bytes() if path.is_file() else str(path).encode())
    return h.hexdigest()

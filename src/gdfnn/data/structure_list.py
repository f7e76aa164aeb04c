"""SIMPLE-NN ``structure_list`` files.

Syntax (one entry per line; ``#`` starts a comment)::

    [ bulk : 2.0 ]              # group header: tag and structure weight (default 1.0)
    OUTCAR_{1..10} ::10         # path with brace expansion, then an optional frame slice
    md/*.xyz                    # glob patterns
    [ vacancy ]
    vac/vasprun.xml 0:100

Lines before the first header belong to group ``default`` with weight 1.0.
Relative paths are resolved against the directory of the ``structure_list`` file.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

from gdfnn import datasets
from gdfnn.data.structure import DEFAULT_GROUP
from gdfnn.errors import InputError

_HEADER = re.compile(r"^\[\s*([^:\]]+?)\s*(?::\s*([^\]]+?)\s*)?\]$")
_BRACE = re.compile(r"\{([^{}]*)\}")
_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")


@dataclass(frozen=True)
class SourceSpec:
    """One file (or frames of it) to read, with its group tag and structure weight."""

    path: str
    index: str = ":"
    group: str | None = None
    weight: float = 1.0
    format: str | None = None


def expand_braces(pattern: str) -> list[str]:
    """Bash-style brace expansion: ``a{1..3}`` and ``a{x,y}``, nested and repeated."""
    match = _BRACE.search(pattern)
    if match is None:
        return [pattern]
    body = match.group(1)
    head, tail = pattern[: match.start()], pattern[match.end():]
    numeric = _RANGE.match(body)
    if numeric:
        first, last = int(numeric.group(1)), int(numeric.group(2))
        step = 1 if last >= first else -1
        width = len(numeric.group(1)) if numeric.group(1).startswith("0") else 0
        choices = [str(k).zfill(width) for k in range(first, last + step, step)]
    elif "," in body:
        choices = body.split(",")
    else:  # a literal brace pair, e.g. in a file name
        return [head + match.group(0) + rest for rest in expand_braces(tail)]
    return [p for choice in choices for p in expand_braces(head + choice + tail)]


def _expand_path(pattern: str, base: Path, where: str) -> list[str]:
    paths: list[str] = []
    for candidate in expand_braces(pattern):
        if datasets.is_reference(candidate):
            paths.append(datasets.local_path(candidate))
            continue
        full = candidate if os.path.isabs(candidate) else str(base / candidate)
        if glob.has_magic(full):
            matches = sorted(glob.glob(full))
            if not matches:
                raise InputError(f"{where}: pattern {candidate!r} matches no file")
            paths.extend(matches)
        else:
            paths.append(full)
    return paths


def parse_entry(
    line: str, base: Path, where: str, group: str | None = None, weight: float = 1.0
) -> list[SourceSpec]:
    """Expand one ``path [slice]`` entry (braces, globs; relative to ``base``; a
    ``dataset:NAME/PART`` path is a packaged file, :mod:`gdfnn.datasets`)."""
    fields = line.split()
    if not 1 <= len(fields) <= 2:
        raise InputError(f"{where}: expected 'path [slice]', got {line!r}")
    index = fields[1] if len(fields) == 2 else ":"
    return [SourceSpec(f, index, group, weight) for f in _expand_path(fields[0], base, where)]


def parse_structure_list(path: str | os.PathLike) -> list[SourceSpec]:
    """Parse a SIMPLE-NN ``structure_list`` file into source specifications.

    Raises:
        InputError: unreadable header or weight, a pattern that matches nothing, or an
            empty list (the message names the file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    group, weight = DEFAULT_GROUP, 1.0
    specs: list[SourceSpec] = []
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{path}: line {lineno}"
        if line.startswith("["):
            header = _HEADER.match(line)
            if header is None:
                raise InputError(f"{where}: bad group header {line!r}, expected [ tag : weight ]")
            group = header.group(1)
            try:
                weight = float(header.group(2)) if header.group(2) else 1.0
            except ValueError:
                raise InputError(f"{where}: weight {header.group(2)!r} is not a number") from None
            if weight < 0:
                raise InputError(f"{where}: weight {weight} is negative")
            continue
        specs.extend(parse_entry(line, path.parent, where, group, weight))
    if not specs:
        raise InputError(f"{path}: structure_list names no files")
    return specs

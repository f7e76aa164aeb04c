"""``gdfnn functions``: symmetry functions chosen from a large candidate pool on the
training data (:mod:`gdfnn.descriptors.selection`), written as SIMPLE-NN ``params_XX``
files for ``descriptor.params``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gdfnn.config import Config
from gdfnn.descriptors import SymmetryFunctions
from gdfnn.descriptors.params import RADIAL, default_functions
from gdfnn.descriptors.selection import candidate_pool, select_columns
from gdfnn.errors import ConfigError, InputError
from gdfnn.fileio import atomic_write
from gdfnn.workflows.prepare import read_frames

log = logging.getLogger("gdfnn")

#: Training frames the pool is computed on, at most (evenly spread over the data).
DEFAULT_FRAMES = 200


@dataclass
class ChosenFunctions:
    """The functions chosen per element, the pool they came from and the params files."""

    functions: SymmetryFunctions
    pool: SymmetryFunctions
    files: dict[str, Path]
    frames: int


def choose_functions(config: Config, count: int, output: str | Path,
                     frames: int = DEFAULT_FRAMES, keep_default: bool = False
                     ) -> ChosenFunctions:
    """Choose ``count`` functions per element from the candidate pool (cutoff and cutoff
    function of ``config.descriptor``) on at most ``frames`` of ``config.data.train``'s
    frames (their structures only: no labels are read); write ``params_XX`` files and
    ``functions.md`` (the chosen functions in the order chosen) into ``output``.
    ``keep_default``: SIMPLE-NN's default set is kept and the rest chosen to add to it."""
    d = config.descriptor
    if not config.data.train:
        raise ConfigError("config: data.train is empty: functions are chosen on training data")
    structures = read_frames(config.data.train, config, d.elements)
    elements = d.elements or sorted({s for f in structures for s in
                                     f.atoms.get_chemical_symbols()})
    sample = [structures[i] for i in np.unique(np.linspace(0, len(structures) - 1,
                                                           min(frames, len(structures)))
                                               .round().astype(int))]
    base = default_functions(elements, d.cutoff) if keep_default else []
    candidates = base + [f for f in candidate_pool(elements, d.cutoff) if f not in base]
    pool = SymmetryFunctions(elements, {e: candidates for e in elements}, d.cutoff_type,
                             d.cutoff_alpha)
    pool.require_simple_nn_cutoff()  # the params files carry the cosine cutoff only
    size = len(pool.functions[elements[0]])
    if not len(base) <= count <= size:
        raise InputError(f"asked for {count} functions per element, but the pool has {size} "
                         "(the most gdfnn functions chooses)" if count > size else
                         f"asked for {count} functions per element, fewer than the "
                         f"{len(base)} of the default set kept")
    blocks = pool.compute_many([s.atoms for s in sample], progress=config.output.progress)
    values = np.concatenate([b.values.numpy() for b in blocks])
    species = np.concatenate([b.species.numpy() for b in blocks])
    chosen, order = {}, {}
    for n, element in enumerate(elements):  # every element has the same pool of `size`
        try:
            order[element] = select_columns(values[species == n, :size], count,
                                            keep=range(len(base)))
        except ValueError as exc:
            raise InputError(f"{element}: {exc} (fewer functions, or more varied frames)"
                             ) from None
        chosen[element] = [pool.functions[element][i] for i in np.sort(order[element])]
        log.info("%s: %d of %d candidate functions chosen on %d atoms of %d frames", element,
                 count, size, int((species == n).sum()), len(sample))
    functions = SymmetryFunctions(elements, chosen, d.cutoff_type, d.cutoff_alpha)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    files = functions.write_simple_nn(out)
    with atomic_write(out / "functions.md") as f:
        f.write(describe(pool, order, len(sample)))
    return ChosenFunctions(functions, pool, files, len(sample))


def describe(pool: SymmetryFunctions, order: dict[str, np.ndarray], frames: int) -> str:
    """A markdown table per element of the functions chosen, in the order chosen."""
    lines = [f"# Symmetry functions chosen from a pool of candidates on {frames} frames",
             "", "In the order chosen by greedy CUR on the standardised pool features "
             "(each the most informative after those above it).", ""]
    for element, picks in order.items():
        lines += [f"## {element}", "", "| rank | type | neighbours | eta 1/Å^2 | Rs Å | zeta | "
                  "lambda |", "|---|---|---|---|---|---|---|"]
        for rank, i in enumerate(picks, 1):
            f = pool.functions[element][i]
            angular = ("", "") if f.kind == RADIAL else (f"{f.zeta:g}", f"{f.lam:+g}")
            lines.append(f"| {rank} | G{f.kind} | {' '.join(f.neighbors)} | {f.eta:.5g} | "
                         f"{f.rs:.4g} | {angular[0]} | {angular[1]} |")
        lines.append("")
    return "\n".join(lines)

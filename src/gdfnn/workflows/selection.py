"""``gdfnn select`` (which candidate frames to label next) and ``gdfnn prune`` (which
training frames are redundant), both by GDF coverage (see :mod:`gdfnn.gdf.selection`)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from gdfnn.data.readers import write_structures
from gdfnn.data.structure import Structure
from gdfnn.data.validation import validate_structures
from gdfnn.descriptors import SymmetryFunctions
from gdfnn.errors import InputError
from gdfnn.fileio import atomic_write
from gdfnn.gdf.density import DEFAULT_SIGMA
from gdfnn.gdf.selection import FrameDensities, FramePick, prune_frames, select_frames
from gdfnn.model.potential import Potential
from gdfnn.model.scaling import ElementTransform, fit_transforms


def frame_features(frames: Sequence[Structure], descriptor: SymmetryFunctions,
                   transforms: dict[str, ElementTransform] | None = None
                   ) -> tuple[dict, dict, dict, dict[str, ElementTransform]]:
    """Scaled features, frame index and atom index per element of ``frames`` (checked:
    positions, known elements; labels not needed), and the transforms used
    (``transforms``, else min-max to [-1, 1] fitted on these frames)."""
    validate_structures(frames, require_energy=False, require_forces=False,
                        elements=descriptor.elements)
    blocks = descriptor.compute_many([f.atoms for f in frames], progress=len(frames) > 50)
    values = torch.cat([b.values for b in blocks]).double()
    species = torch.cat([b.species for b in blocks])
    frame = np.repeat(np.arange(len(frames)), [f.n_atoms for f in frames])
    atom = np.concatenate([np.arange(f.n_atoms) for f in frames])
    if transforms is None:
        present = [e for n, e in enumerate(descriptor.elements) if (species == n).any()]
        transforms = fit_transforms(values, species, descriptor.n_features, present)
    features, frame_of, atom_of = {}, {}, {}
    for n, e in enumerate(descriptor.elements):
        rows = (species == n).numpy()
        if rows.any():
            t = transforms[e]
            features[e] = t.scaled(values[torch.from_numpy(rows)][:, : t.n_features])
            frame_of[e], atom_of[e] = frame[rows], atom[rows]
    return features, frame_of, atom_of, transforms


def select(potential: Potential, pool: Sequence[Structure], k: int,
           output: str | Path | None = None, sigma: float | None = None) -> list[FramePick]:
    """Pick ``k`` frames of ``pool`` that add the most coverage to the potential's training
    atoms (its stored GDF reference). With ``output`` (a directory), writes
    ``selected.extxyz`` (the frames, in pick order) and ``selection.csv``."""
    if not potential.gdf_reference:
        raise InputError("the potential carries no GDF reference: nothing to measure "
                         "coverage against")
    if k < 1:
        raise InputError(f"--n must be at least 1, got {k}")
    features, frame_of, atom_of, _ = frame_features(pool, potential.descriptor,
                                                    dict(potential.transforms))
    reference = {e: (potential.gdf_reference[e], potential.gdf_reference_counts.get(e))
                 for e in features if e in potential.gdf_reference}
    densities = FrameDensities(features, frame_of, atom_of, len(pool),
                               {e: sigma or potential.coverage_of(e).sigma for e in features},
                               reference)
    picks = select_frames(densities, k)
    if output is not None:
        out = Path(output)
        out.mkdir(parents=True, exist_ok=True)
        write_structures(out / "selected.extxyz", [pool[p.frame] for p in picks])
        _write_picks(out / "selection.csv", picks, pool, "min_rho")
    return picks


def prune(frames: Sequence[Structure], keep: float, output: str | Path | None = None, *,
          potential: Potential | None = None, sigma: float | None = None,
          per_group: bool = False) -> tuple[list[int], list[FramePick]]:
    """Drop the most redundant frames until a fraction ``keep`` (0-1] of them is left:
    returns the kept frame indices (in file order) and the dropped frames in drop order.
    ``per_group``: keep that fraction of every group (rho within the group), so that no
    group is emptied. Features and sigma: the potential's (its coverage width) when given,
    else the default descriptor with min-max scaling fitted on ``frames`` and sigma 0.02.
    With ``output`` (a file), writes the kept frames there and the drop order beside it
    (``<stem>_dropped.csv``)."""
    if not 0 < keep <= 1:
        raise InputError(f"--keep must be in (0, 1], got {keep}")
    if potential is not None:
        features, frame_of, atom_of, _ = frame_features(frames, potential.descriptor,
                                                        dict(potential.transforms))
        widths = {e: sigma or potential.coverage_of(e).sigma for e in features}
    else:
        elements = sorted({s for f in frames for s in f.atoms.get_chemical_symbols()})
        features, frame_of, atom_of, _ = frame_features(frames,
                                                        SymmetryFunctions.default(elements))
        widths = {e: sigma or DEFAULT_SIGMA for e in features}
    groups = [s.group for s in frames] if per_group else [""] * len(frames)
    dropped = []
    for group in dict.fromkeys(groups):
        members = np.flatnonzero(np.array(groups) == group)
        local = np.full(len(frames), -1)
        local[members] = np.arange(len(members))
        rows = {e: np.isin(f, members) for e, f in frame_of.items()}
        densities = FrameDensities(
            {e: x[torch.from_numpy(rows[e])] for e, x in features.items() if rows[e].any()},
            {e: local[f[rows[e]]] for e, f in frame_of.items() if rows[e].any()},
            {e: a[rows[e]] for e, a in atom_of.items() if rows[e].any()},
            len(members), widths)
        for p in prune_frames(densities, max(1, math.ceil(keep * len(members)))):
            dropped.append(FramePick(int(members[p.frame]), p.score, p.atom))
    kept = sorted(set(range(len(frames))) - {p.frame for p in dropped})
    if output is not None:
        out = Path(output)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_structures(out, [frames[i] for i in kept])
        _write_picks(out.with_name(f"{out.stem}_dropped.csv"), dropped, frames, "mean_rho")
    return kept, dropped


def _write_picks(path: Path, picks: list[FramePick], frames: Sequence[Structure],
                 score: str) -> None:
    with atomic_write(path) as f:
        writer = csv.writer(f)
        writer.writerow(["order", "frame", "source", "source_index", "group", score,
                         "lowest_rho_atom"])
        for order, p in enumerate(picks):
            s = frames[p.frame]
            writer.writerow([order, p.frame, s.source, s.index, s.group, f"{p.score:.6e}",
                             p.atom])

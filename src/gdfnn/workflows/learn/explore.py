"""Explore: MD with the current potential from every start structure at every temperature
(and pressure), in LAMMPS (``pair_style gdfnn``, coverage in the plugin) or ASE. A
trajectory's frames every ``md_interval`` steps are the candidates, up to its
``uncovered_frames``-th frame outside the training data by the coverage verdict (the MD left
the training data there: further on it is extrapolation, soon unphysical), or up to a frame
with atoms closer than ``min_distance`` (no candidate: broken MD, not a configuration to
learn)."""

from __future__ import annotations

import csv
import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import ase
import ase.io
import numpy as np

from gdfnn.config import LearnConfig
from gdfnn.errors import InputError
from gdfnn.fileio import atomic_write
from gdfnn.model.potential import Potential
from gdfnn.workflows.md import FLOOR, MDSettings, MDUnstableError
from gdfnn.workflows.simulate import simulate

log = logging.getLogger("gdfnn")
#: What an explored trajectory leaves in its folder when it is done (the summary).
DONE_FILE = "trajectory.json"


@dataclass(frozen=True)
class Trajectory:
    """One explored trajectory: its folder name, its candidate frames, how many of them have
    atoms outside the training data (``uncovered``), and the step of its last candidate."""

    name: str
    candidates: int
    uncovered: int
    last_step: int


def md_settings(learn: LearnConfig, temperature: float, pressure: float | None,
                seed: int) -> MDSettings:
    """The MD of one trajectory: the learn section's ensemble, length and stops, coverage
    by the verdict logged every frame."""
    ensemble = "npt-berendsen" if pressure is not None else learn.ensemble
    settings = MDSettings(ensemble, temperature, steps=learn.md_steps, timestep=learn.timestep,
                          pressure=pressure or 0.0, interval=learn.md_interval,
                          min_distance=learn.min_distance, seed=seed, coverage_save=FLOOR)
    settings.check()
    return settings


def trajectory_plan(starts: list[tuple[str, ase.Atoms]], learn: LearnConfig
                    ) -> list[tuple[str, ase.Atoms, float, float | None, bool]]:
    """(folder name, structure, temperature K, pressure GPa or None, whether its step 0 is
    a candidate: the first trajectory of each structure only, the others start from the
    same frame) of every trajectory."""
    pressures = learn.pressures or [None]
    return [(f"{name}_T{t:g}" + ("" if p is None else f"_P{p:g}"), atoms, t, p, i == j == 0)
            for name, atoms in starts for i, t in enumerate(learn.temperatures)
            for j, p in enumerate(pressures)]


def explore(potential: Potential, starts: list[tuple[str, ase.Atoms]], learn: LearnConfig,
            folder: Path, seed: int, plugin: Path | None = None
            ) -> tuple[list[ase.Atoms], list[Trajectory]]:
    """Run (or, where a trajectory is done already, read back) every trajectory of
    :func:`trajectory_plan` into ``folder/NAME``; returns the candidate frames (``info``:
    ``trajectory``, ``step``, ``uncovered``) and the trajectories. ``plugin``: the LAMMPS
    engine's plugin (:func:`gdfnn.workflows.lammps.build_plugin`)."""
    frames, trajectories = [], []
    for k, (name, atoms, temperature, pressure, with_start) in enumerate(
            trajectory_plan(starts, learn)):
        out = folder / name
        if not (out / DONE_FILE).is_file():  # a trajectory cut short by a kill runs again
            settings = md_settings(learn, temperature, pressure, seed * 1000 + k)
            _run(potential, atoms, settings, out, learn.engine, plugin)
        found = candidates(out, learn.engine, potential.elements, learn.min_distance,
                           learn.uncovered_frames, with_start,
                           potential.allowed_uncovered(atoms.get_chemical_symbols()))
        summary = Trajectory(name, len(found), sum(f.info["uncovered"] for f in found),
                             int(found[-1].info["step"]) if found else 0)
        if not (out / DONE_FILE).is_file():
            with atomic_write(out / DONE_FILE) as f:
                json.dump(asdict(summary), f)
        for frame in found:
            frame.info["trajectory"] = name
        frames += found
        trajectories.append(summary)
        log.info("explore %s: %d candidates to step %d, %d of them left the training data",
                 name, summary.candidates, summary.last_step, summary.uncovered)
    return frames, trajectories


def _run(potential: Potential, atoms: ase.Atoms, settings: MDSettings, out: Path,
         engine: str, plugin: Path | None) -> None:
    """One trajectory; its stops (coverage, atoms too close) end it normally."""
    try:
        simulate(potential, atoms, settings, out, engine=engine, plugin=plugin, progress=False)
    except MDUnstableError as exc:
        log.info("%s: %s", out.name, str(exc))


def candidates(out: Path, engine: str, elements: list[str], min_distance: float,
               uncovered_frames: int = 1, with_start: bool = True, allowed: int = 0
               ) -> list[ase.Atoms]:
    """The candidate frames of the trajectory in ``out``: every logged frame (step 0 only
    ``with_start``) whose atoms are no closer than ``min_distance`` and whose energy is
    finite, up to the ``uncovered_frames``-th outside the training data: with more than
    ``allowed`` atoms outside by the coverage verdict (:meth:`Potential.allowed_uncovered`);
    ``info``: ``step`` and ``uncovered`` (outside or not)."""
    rows = {int(r["step"]): r for r in csv.DictReader(open(out / "thermo.csv"))}
    if engine == "lammps":
        dumped = ase.io.read(out / "md.lammpstrj", ":", format="lammps-dump-text",
                             specorder=elements)
        steps = [int(f.info["timestep"]) for f in dumped]
        frames = [ase.Atoms(f.get_chemical_symbols(), f.positions, cell=f.cell, pbc=True)
                  for f in dumped]
    else:
        frames = [ase.Atoms(f.get_chemical_symbols(), f.positions, cell=f.cell, pbc=f.pbc)
                  for f in ase.io.read(out / "md.traj", ":")]
        steps = sorted(rows)[:len(frames)]
    found, left = [], 0
    for step, frame in zip(steps, frames, strict=True):
        row = rows.get(step)
        if row is None or (step == 0 and not with_start):
            continue
        closest = float(row["min_distance_A"])
        if not math.isfinite(float(row["epot_eV"])) or (math.isfinite(closest)
                                                         and closest < min_distance):
            break
        uncovered = (float(row["n_uncovered"]) > allowed if row["n_uncovered"] != "nan"
                     else False)
        frame.info.update(step=step, uncovered=uncovered)
        found.append(frame)
        left += uncovered
        if left == uncovered_frames:
            break
    return found


def start_structures(paths: list[str]) -> list[tuple[str, ase.Atoms]]:
    """(name, structure) of every frame of ``paths`` (``stem`` or ``stem_K`` for the K-th
    frame of a file with several)."""
    starts = []
    for path in paths:
        try:
            frames = ase.io.read(path, ":")
        except Exception as exc:  # ase raises many types for a bad file
            raise InputError(f"learn.structures: {path}: {str(exc).splitlines()[0]}") from None
        stem = Path(path).stem
        for k, atoms in enumerate(frames):
            if not np.isfinite(atoms.positions).all():
                raise InputError(f"learn.structures: {path} frame {k}: non-finite positions")
            starts.append((stem if len(frames) == 1 else f"{stem}_{k}", atoms))
    return starts

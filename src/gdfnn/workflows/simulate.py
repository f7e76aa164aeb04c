"""One front door to MD with a potential, whichever engine runs it: ``gdfnn md`` and ``gdfnn
learn``'s exploration both call :func:`simulate`. The ASE engine runs
:func:`gdfnn.workflows.md.run_md` with the potential's calculator (coverage computed as the
settings need it); the LAMMPS engine :func:`gdfnn.workflows.lammps.run_md` with
``pair_style gdfnn``. Both write the same files and stop on the same conditions (one MD
contract, :mod:`gdfnn.workflows.md`)."""

from __future__ import annotations

import os
from pathlib import Path

import ase

from gdfnn.calculator import NNPCalculator
from gdfnn.config import MD_ENGINES
from gdfnn.errors import InputError
from gdfnn.model.potential import Potential
from gdfnn.workflows import lammps
from gdfnn.workflows.md import FLOOR, MDSettings, run_md


def simulate(potential: Potential, atoms: ase.Atoms, settings: MDSettings,
             output: str | os.PathLike, *, engine: str = "ase", plugin: Path | None = None,
             precision: str | None = None, resume: bool = False, progress: bool = True
             ) -> dict:
    """MD of ``atoms`` with ``potential`` as ``settings`` say, into ``output``, by
    ``engine``: ``"ase"`` (the calculator; ``precision`` is the potential's own) or
    ``"lammps"`` (``plugin`` from :func:`gdfnn.workflows.lammps.build_plugin`, built here
    when None; ``precision`` ``"double"`` by default or ``"single"``). Returns the run's
    summary; raises :class:`~gdfnn.workflows.md.MDUnstableError` where a stop ends it."""
    if engine not in MD_ENGINES:
        raise InputError(f"MD engine {engine!r}: one of {', '.join(MD_ENGINES)}")
    if engine == "lammps":
        return lammps.run_md(potential, atoms, settings, output,
                             plugin or lammps.build_plugin(), precision or "double",
                             resume=resume)
    if precision is not None:
        raise InputError("--precision is a setting of pair_style gdfnn (--engine lammps); the "
                         "ASE engine computes in the potential's own precision")
    return run_md(atoms, NNPCalculator(potential, coverage=coverage_mode(settings)), settings,
                  output, progress=progress, resume=resume)


def coverage_mode(settings: MDSettings) -> bool | str:
    """What the ASE engine's calculator computes of coverage: nothing without a coverage
    stop or save; the cheap check (:meth:`Potential.predict`, ``coverage="check"``) for the
    potential's verdict, as the plugin does; every atom's rho for a rho level of the
    user's."""
    levels = {settings.coverage_stop, settings.coverage_save} - {None}
    return bool(levels) and ("check" if levels == {FLOOR} else True)

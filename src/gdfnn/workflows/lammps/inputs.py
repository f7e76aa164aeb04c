"""Write LAMMPS inputs for a gdfnn potential: the data file, the pair style lines, the MD
lines (thermostat, barostat, the stops as ``fix halt``, restarts) and a ready-to-run
``in.lammps``. Units metal: Å, eV, eV/Å, ps, K, bar."""

from __future__ import annotations

import os
from pathlib import Path

import ase
import ase.io
from ase.data import atomic_masses, atomic_numbers

from gdfnn.errors import InputError
from gdfnn.export.lammps import gdfnn_lines, write_lammps_potential
from gdfnn.fileio import atomic_write
from gdfnn.model.potential import Potential
from gdfnn.workflows.md import (
    FLOOR,
    STOPS,
    TAUP_STEPS,
    TDAMP_STEPS,
    MDSettings,
    allow_chance_uncovered,
)


def elements_of(potential: Potential, atoms: ase.Atoms) -> list[str]:
    """The LAMMPS atom types of ``potential``: its elements in order; one line where
    ``atoms`` holds another."""
    unknown = sorted(set(atoms.get_chemical_symbols()) - set(potential.elements))
    if unknown:
        raise InputError(f"element(s) {', '.join(unknown)} not in the potential's elements "
                         f"[{', '.join(potential.elements)}]")
    return list(potential.elements)


def write_data(atoms: ase.Atoms, elements: list[str], path: Path) -> Path:
    """A LAMMPS data file, one atom type per element in ``elements`` order (triclinic cells
    are rotated into LAMMPS's frame by ase)."""
    if not atoms.pbc.all():
        raise InputError("LAMMPS runs need a cell periodic in all three directions")
    ase.io.write(path, atoms, format="lammps-data", atom_style="atomic", specorder=elements,
                 masses=True, units="metal")
    return path


#: Pressure units: bar (LAMMPS metal) per GPa.
BAR_PER_GPA = 1.0e4
#: The restart files of the LAMMPS engine, written in turn (one is always whole).
LAMMPS_RESTARTS = ("restart.a.lammps", "restart.b.lammps")


def md_lines(s: MDSettings, output: Path, start_energy: float | None = None) -> list[str]:
    """Thermostat, barostat, stop conditions (:data:`~gdfnn.workflows.md.STOPS` as ``fix
    halt``), restarts and run lines for ``s`` (K, fs, GPa as ``gdfnn md`` takes them); the
    trajectory goes to ``output/md.lammpstrj``. ``start_energy``: the run continues from a
    restart (eV, the total energy of its step 0, for the drift): no new velocities, the
    trajectory appended, ``run ... upto``."""
    s.check()
    dt_ps = s.timestep / 1000.0
    tdamp = (TDAMP_STEPS * s.timestep if s.tdamp is None else s.tdamp) / 1000.0
    taup = (TAUP_STEPS * s.timestep if s.taup is None else s.taup) / 1000.0
    t0, t1 = s.target(0), s.target(s.steps)
    resumed = start_energy is not None
    lines = [f"timestep {dt_ps!r}", f"thermo {s.interval}", "variable closest equal c_closest"]
    if not resumed:
        lines.insert(1, f"velocity all create {t0} {s.seed + 1} mom yes rot no dist gaussian")
    if s.ensemble == "nve":  # the drift from the starting total energy (a run 0 gives it)
        lines += ([f"variable start equal {start_energy!r}"] if resumed else
                  ["run 0 post no", "variable start equal $(etotal)"])
        lines += ["variable start_atoms equal $(atoms)",
                  "variable drift equal abs(etotal-v_start)/v_start_atoms"]
    lines += [line for stop in STOPS if (line := stop.halt_line(s)) is not None]
    lines += [f"dump trajectory all custom {s.interval} {output / 'md.lammpstrj'} id type x y z",
              "dump_modify trajectory sort id" + (" append yes" if resumed else "")]
    if s.coverage_save is not None or s.coverage_stop is not None:
        # the frames with an atom below the threshold, with every atom's rho and flag (for a
        # stop: the frame it stopped at, also when in.lammps runs without gdfnn md)
        # the potential's own forces, stored before a thermostat adds its drag and noise
        # (fixes modify forces in the order they are defined: this one comes first)
        lines += ["variable covered equal c_extrapolation[2]==0",
                  f"fix {POTENTIAL_FORCES} all store/force",
                  f"dump candidates all custom {s.interval} {output / CANDIDATES_DUMP} id type "
                  f"x y z f_{POTENTIAL_FORCES}[1] f_{POTENTIAL_FORCES}[2] "
                  f"f_{POTENTIAL_FORCES}[3] f_coverage[1] f_coverage[2] f_coverage[3]",
                  "dump_modify candidates skip v_covered sort id format float %.15g"
                  + (" append yes" if resumed else "")]
    if s.restart_every:
        lines.append(f"restart {s.restart_every} " + " ".join(
            str(output / name) for name in LAMMPS_RESTARTS))
    if s.ensemble == "nve":
        lines.append("fix integrate all nve")
    elif s.ensemble == "langevin":
        lines += ["fix integrate all nve",
                  f"fix thermostat all langevin {t0} {t1} {1.0 / s.friction / 1000.0!r} "
                  f"{s.seed + 1}"]
    elif s.ensemble == "nose-hoover":
        lines.append(f"fix integrate all nvt temp {t0} {t1} {tdamp!r}")
    else:  # npt-berendsen
        bar = s.pressure * BAR_PER_GPA
        lines += ["fix integrate all nve", f"fix thermostat all temp/berendsen {t0} {t1} {tdamp!r}",
                  f"fix barostat all press/berendsen iso {bar!r} {bar!r} {taup!r}"]
    lines.append(f"run {s.steps}" + (" upto" if resumed else ""))
    return lines


#: The fix holding the potential's forces of the frames written on a coverage stop or save.
POTENTIAL_FORCES = "potential_forces"


def input_lines(potential_file: Path, plugin: Path, data: Path, elements: list[str],
                md: MDSettings | None = None, precision: str = "double",
                restart: Path | None = None, start_energy: float | None = None) -> list[str]:
    """An ``in.lammps`` for ``data`` with pair_style gdfnn (``precision`` double or single);
    with ``md``, the MD (its files beside ``data``); with ``restart``, the structure and
    velocities from that restart file, continued (see :func:`md_lines`). Every path is
    absolute."""
    lines = ["units metal", "atom_style atomic", "atom_modify map array", "boundary p p p",
             f"read_restart {restart}" if restart else f"read_data {data}"]
    for k, element in enumerate(elements, 1):
        lines.append(f"mass {k} {atomic_masses[atomic_numbers[element]]}")
    every, threshold = coverage_of(md)
    lines += [*gdfnn_lines(str(potential_file), str(plugin), elements, precision, every,
                           threshold).splitlines(),
              "compute pe_atom all pe/atom", "compute extrapolation all pair gdfnn",
              "compute pair_distance all pair/local dist",
              "compute closest all reduce min c_pair_distance inputs local",
              "thermo_style custom step time temp pe ke etotal press c_extrapolation[1] "
              "c_closest" + (" c_extrapolation[2] c_extrapolation[3] c_extrapolation[4]"
                             if every else ""),
              "thermo_modify format float %.10g flush yes"]  # a killed run's log is whole
    if every:  # per atom rho, the uncovered flag and the expected force error, for dumps;
        # the count and the largest expected error (eV/Å), for fix halt
        lines += [f"fix coverage all pair {every} gdfnn rho 0 uncovered 0 force_error 0",
                  "variable n_left equal c_extrapolation[2]",
                  "variable max_force_error equal c_extrapolation[4]"]
    return lines if md is None else lines + md_lines(md, data.parent, start_energy)


def coverage_of(md: MDSettings | None) -> tuple[int, float | None]:
    """(steps between coverage checks, rho threshold or None for the verdict) of ``md``'s
    coverage stop or save, checked every ``interval`` steps; (0, None) without either. The
    plugin tests one threshold: a stop and a save must name the same."""
    if md is None or (md.coverage_stop is None and md.coverage_save is None):
        return (md.coverage_every or 0, None) if md is not None else (0, None)
    given = {t for t in (md.coverage_stop, md.coverage_save) if t is not None}
    if len(given) > 1:
        raise InputError(f"the LAMMPS engine checks one coverage threshold: coverage_stop "
                         f"{md.coverage_stop} and coverage_save {md.coverage_save} differ (give "
                         "both the same, or use the ASE engine)")
    threshold = given.pop()
    return md.coverage_every or md.interval, None if threshold == FLOOR else float(threshold)


def write_input(potential: Potential, atoms: ase.Atoms, directory: str | os.PathLike,
                plugin: Path, md: MDSettings | None = None, precision: str = "double",
                restart: Path | None = None, start_energy: float | None = None) -> Path:
    """``potential.gdfnn``, ``data.lammps`` and ``in.lammps`` in ``directory`` for the plugin
    at ``plugin`` (:func:`build_plugin`); returns the input's path: ``lmp -in in.lammps`` runs
    it from any folder. ``restart``, ``start_energy``: continue a run (:func:`input_lines`)."""
    directory = Path(directory).resolve()
    elements = elements_of(potential, atoms)
    md = None if md is None else allow_chance_uncovered(md, potential, atoms)
    directory.mkdir(parents=True, exist_ok=True)
    pot_file = write_lammps_potential(potential, directory / "potential.gdfnn")
    data = write_data(atoms, elements, directory / "data.lammps")
    path = directory / "in.lammps"
    with atomic_write(path) as out:
        out.write("\n".join(input_lines(pot_file, Path(plugin).resolve(), data, elements, md,
                                        precision, restart, start_energy)) + "\n")
    return path



#: The LAMMPS dump of the frames with an atom outside the training data (``gdfnn md``
#: turns it into candidates.extxyz for coverage_save).
CANDIDATES_DUMP = "candidates.lammpstrj"

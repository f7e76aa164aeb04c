"""``gdfnn md``: molecular dynamics with a potential, temperature ramps, trajectory and thermo
log, and a stability check that stops a simulation that blows up with a clear message."""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import ase
import ase.io
import numpy as np
from ase import units
from ase.io import Trajectory
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from tqdm.auto import tqdm

from gdfnn.errors import GdfnnError, InputError
from gdfnn.fileio import atomic_write, folder_lock
from gdfnn.model.potential import Potential
from gdfnn.neighbors import closest_pair

log = logging.getLogger("gdfnn")
ENSEMBLES = ("nve", "langevin", "nose-hoover", "npt-berendsen")
#: Default thermostat and barostat time constants, in time steps (Nose-Hoover / Berendsen).
TDAMP_STEPS = 100
TAUP_STEPS = 1000
#: thermo.csv of both MD engines (ASE and LAMMPS), one row every ``interval`` steps. Units:
#: ps, K, eV, GPa, Å. The pressure is LAMMPS's ``press``: virial plus 2 E_kin / (3 V).
#: ``extrapolating_functions``: symmetry functions outside their training
#: range, summed over atoms (n2p2's test); ``min_rho``, ``n_uncovered``: GDF coverage (see
#: :meth:`gdfnn.model.potential.Potential.predict`); ``max_force_error_eV_A``: the largest
#: expected force error |F - F_ref| of an atom (eV/Å, the potential's calibrated error map;
#: on a potential whose map reads rho, not the rigidity, of the uncovered atoms only). NaN
#: where the engine did not compute it.
THERMO_COLUMNS = ("step", "time_ps", "temperature_K", "target_K", "epot_eV", "ekin_eV",
                  "etot_eV", "pressure_GPa", "min_distance_A", "extrapolating_functions",
                  "min_rho", "n_uncovered", "max_force_error_eV_A")
#: Frames whose coverage fell below ``coverage_save`` are appended here (extxyz).
CANDIDATES_FILE = "candidates.extxyz"
#: The frame where an atom fell below ``coverage_stop`` (extxyz).
LEFT_DATA_FILE = "left_training_data.extxyz"
#: A coverage threshold meaning "outside the training data by the potential's verdict" (per
#: element: its rigidity ceiling, or its rho floor; a stop at it allows the atoms a
#: training-like frame has outside by chance).
FLOOR = "floor"


def n_below(results: dict, threshold: float | str) -> int:
    """How many atoms of a calculator's coverage results lie below ``threshold`` (a rho, or
    :data:`FLOOR`)."""
    if threshold == FLOOR:
        return int(results.get("n_uncovered", 0))
    rho = results.get("rho")
    return 0 if rho is None else int((np.asarray(rho) < threshold).sum())


def complete_rho(frame: ase.Atoms, potential: Potential) -> ase.Atoms:
    """``frame`` with the rho of every atom: the exact values already there (the uncovered
    atoms of a coverage check, in the plugin or the calculator), the potential's own for
    the NaN ones (:meth:`Potential.coverage`); and ``log10_rho`` beside it, since extxyz
    writes floats with 8 decimals, which keep little of a small rho."""
    missing = np.isnan(frame.arrays["rho"])
    if missing.any():
        rho = potential.predict(frame, coverage=True, stress=False)["rho"]
        frame.arrays["rho"] = np.where(missing, rho, frame.arrays["rho"])
    with np.errstate(divide="ignore"):
        frame.arrays["log10_rho"] = np.log10(frame.arrays["rho"])
    return frame


def coverage_frame(atoms: ase.Atoms, step: int) -> ase.Atoms:
    """A copy of ``atoms`` for ``gdfnn select``: its energy and forces, each atom's ``rho``
    (every atom's), ``uncovered`` and expected ``force_error`` (eV/Å) as per-atom arrays, its
    MD ``step`` in the info."""
    from ase.calculators.singlepoint import SinglePointCalculator

    results = atoms.calc.results
    frame = atoms.copy()
    for key in ("rho", "uncovered", "force_error"):
        if key in results:
            frame.arrays[key] = np.asarray(results[key])
    if "rho" in frame.arrays and hasattr(atoms.calc, "potential"):
        complete_rho(frame, atoms.calc.potential)
    frame.info["step"] = step
    frame.calc = SinglePointCalculator(frame, energy=results.get("energy"),
                                       forces=results.get("forces"))
    return frame


#: The nearest-neighbour distance is logged when it is below this (Å).
NEAREST_LOGGED = 3.0


class MDUnstableError(GdfnnError):
    """The simulation left physical territory (atoms too close, energy not conserved) or the
    training data; ``step`` is the MD step where it was found."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


def unstable_where(step: int, time_ps: float, temperature: float, when: str = "at") -> str:
    """The start of an :class:`MDUnstableError` message, the same in both MD engines."""
    return f"MD unstable {when} step {step} (t = {time_ps:.3f} ps, T = {temperature:.0f} K)"


def drift_cause(drift: float, limit: float) -> str:
    """Why an NVE run stopped: its total energy drifted by ``drift`` > ``limit`` eV/atom."""
    return f"total energy drifted by {drift:.3g} eV/atom (> {limit})"


@dataclass
class MDSettings:
    """What ``gdfnn md`` runs. Temperatures in K, time in fs, pressure in GPa, lengths in Å.

    ``temperature_end`` makes a linear ramp from ``temperature`` (the paper's 500-1300 K).
    ``min_distance``: stop when two atoms come closer. ``max_drift``: stop an NVE run whose
    total energy drifts by more than this many eV/atom. ``tdamp`` (thermostat, Nose-Hoover
    and Berendsen) and ``taup`` (barostat) are time constants in fs; None means
    ``TDAMP_STEPS`` and ``TAUP_STEPS`` time steps. ``coverage_stop``: stop when an atom's
    GDF rho against the training atoms falls below it (the frame is written);
    ``coverage_save``: keep going, appending every such frame to ``candidates.extxyz``. Each
    is a rho, or ``"floor"``: outside by the potential's coverage verdict
    (:meth:`Potential.uncovered`). ``coverage_allowed``: how many atoms may lie below
    ``coverage_stop`` at once before the run stops (0: any atom stops it); for ``"floor"``
    the engines set it from the potential (:func:`allow_chance_uncovered`), since a frame
    drawn like the training data has about 1 % of its atoms outside. The ASE engine needs a
    calculator that returns ``rho`` (``NNPCalculator(..., coverage=True)``); the LAMMPS
    engine a potential file with its coverage reference (gdfnn's own potentials) and one
    threshold for both.
    ``restart_every``: write the state every this many steps, for ``resume``.
    ``coverage_every``: LAMMPS checks coverage this often (default: ``interval`` when a
    coverage stop or save is asked for), also without a stop or save (thermo and dumps).
    """

    ensemble: str = "langevin"
    temperature: float = 300.0
    temperature_end: float | None = None
    steps: int = 1000
    timestep: float = 1.0
    friction: float = 0.01  # 1/fs, Langevin
    pressure: float = 0.0  # GPa, NPT
    interval: int = 10
    min_distance: float = 1.0
    max_drift: float = 0.05
    seed: int = 0
    tdamp: float | None = None  # fs
    taup: float | None = None  # fs
    coverage_stop: float | str | None = None  # GDF rho, or "floor"
    coverage_save: float | str | None = None  # GDF rho, or "floor"
    restart_every: int | None = None  # steps, a multiple of interval
    coverage_every: int | None = None  # steps between coverage checks (LAMMPS); None: interval
    coverage_allowed: int = 0  # atoms below coverage_stop at once that do not stop the run

    def target(self, step: int) -> float:
        """The thermostat's temperature (K) at ``step``: a linear ramp when
        ``temperature_end`` is set."""
        if self.temperature_end is None:
            return self.temperature
        return self.temperature + (self.temperature_end - self.temperature) * step / max(
            self.steps, 1)

    def check(self) -> None:
        """Refuse what no engine can run."""
        if self.ensemble not in ENSEMBLES:
            raise InputError(f"unknown ensemble {self.ensemble!r}: {', '.join(ENSEMBLES)}")
        if self.temperature_end is not None and self.ensemble == "nve":
            raise InputError("a temperature ramp needs a thermostat (langevin, nose-hoover, "
                             "npt)")
        for name in ("coverage_stop", "coverage_save"):
            value = getattr(self, name)
            if value is not None and value != FLOOR and not (
                    isinstance(value, int | float) and value > 0):
                raise InputError(f"{name} must be a positive rho or '{FLOOR}', not {value!r}")
        if self.restart_every and self.restart_every % self.interval:
            raise InputError(f"restart every {self.restart_every} steps: a multiple of the "
                             f"interval ({self.interval}) is needed, so that a resumed run "
                             "continues the log where the restart is")


# ----- the stop conditions of both engines ---------------------------------------------------
@dataclass(frozen=True)
class Stop:
    """A condition that ends a run: ``value op limit``, checked every ``interval`` steps, in
    Python by the ASE engine (:class:`StabilityChecker`) or as a ``fix halt`` by LAMMPS.

    Attributes:
        name: the LAMMPS fix id.
        value: what is compared: a thermo column, or ``drift_eV_atom`` (|E_tot - E_tot(0)| /
            N) or ``min_rho_all`` (min rho, also for atoms of unknown coverage: NaN).
        op: ``"<"`` or ``">"``.
        limit: the limit in a run's settings; None: not checked in that run.
        cause: the reason of the error message, from the value, the settings and, where the
            engine knows it, a detail (the pair of atoms, the atom that left the data).
        lammps: the LAMMPS equal-style variable holding the value; None: the ASE engine only.
        headline: what happened, from the detail (default: the run became unstable).
    """

    name: str
    value: str
    op: str
    limit: Callable[[MDSettings], float | None]
    cause: Callable[[float, MDSettings, str | None], str]
    lammps: str | None = None
    headline: Callable[[str | None], str] = lambda detail: "MD unstable"

    def message(self, value: float, settings: MDSettings, step: int, temperature: float,
                detail: str | None = None) -> str:
        """The one line that ends the run."""
        where = unstable_where(step, step * settings.timestep / 1000, temperature)
        return (f"{where.replace('MD unstable', self.headline(detail), 1)}: "
                f"{self.cause(value, settings, detail)}")

    def violated(self, value: float, settings: MDSettings) -> bool:
        limit = self.limit(settings)
        if limit is None or not math.isfinite(value):
            return False
        return value < limit if self.op == "<" else value > limit

    def halt_line(self, settings: MDSettings) -> str | None:
        """The ``fix halt`` of this condition, or None (not checked, or not in LAMMPS)."""
        limit = self.limit(settings)
        if limit is None or self.lammps is None:
            return None
        return (f"fix {self.name} all halt {settings.interval} {self.lammps} {self.op} "
                f"{limit!r} error soft message yes")


STOPS = (
    Stop("too_close", "min_distance_A", "<", lambda s: s.min_distance,
         lambda v, s, who: f"{who or 'the closest atoms are'} {v:.2f} Å apart "
                           f"(< {s.min_distance} Å)", lammps="v_closest"),
    Stop("drifted", "drift_eV_atom", ">",
         lambda s: s.max_drift if s.ensemble == "nve" else None,
         lambda v, s, _: drift_cause(v, s.max_drift), lammps="v_drift"),
    Stop("left_data", "n_left", ">",
         lambda s: None if s.coverage_stop is None else s.coverage_allowed,
         lambda v, s, _: (f"{int(v)} atom(s) outside by the potential's coverage verdict"
                          if s.coverage_stop == FLOOR
                          else f"{int(v)} atom(s) with rho below {s.coverage_stop}")
                         + (f" (more than the {s.coverage_allowed} a frame of the training "
                            "distribution has by chance)" if s.coverage_allowed else "")
                         + f"; the frame, with each atom's rho, is in {LEFT_DATA_FILE}",
         lammps="v_n_left", headline=lambda atom: f"{atom or 'an atom'} left the training data"),
)
#: The conditions by LAMMPS fix id (a halt in the log names its fix).
STOPS_BY_NAME = {stop.name: stop for stop in STOPS}


def allow_chance_uncovered(settings: MDSettings, potential: Potential,
                           atoms: ase.Atoms) -> MDSettings:
    """``settings`` with, for a stop at the verdict (``"floor"``), ``coverage_allowed`` set to
    the atoms of ``atoms`` that lie outside by chance (:meth:`Potential.allowed_uncovered`); other
    settings unchanged."""
    if settings.coverage_stop != FLOOR:
        return settings
    return replace(settings,
                   coverage_allowed=potential.allowed_uncovered(atoms.get_chemical_symbols()))


def _dynamics(atoms: ase.Atoms, s: MDSettings, rng: np.random.Generator):
    dt = s.timestep * units.fs
    tdamp = TDAMP_STEPS * dt if s.tdamp is None else s.tdamp * units.fs
    taup = TAUP_STEPS * dt if s.taup is None else s.taup * units.fs
    if s.ensemble == "nve":
        from ase.md.verlet import VelocityVerlet

        return VelocityVerlet(atoms, timestep=dt)
    if s.ensemble == "langevin":
        from ase.md.langevin import Langevin

        return Langevin(atoms, timestep=dt, temperature_K=s.temperature,
                        friction=s.friction / units.fs, fixcm=False, rng=rng)
    if s.ensemble == "nose-hoover":
        from ase.md.nose_hoover_chain import NoseHooverChainNVT

        return NoseHooverChainNVT(atoms, timestep=dt, temperature_K=s.temperature,
                                  tdamp=tdamp)
    from ase.md.nptberendsen import NPTBerendsen  # npt-berendsen (MDSettings.check: no other)

    return NPTBerendsen(atoms, timestep=dt, temperature_K=s.temperature,
                        pressure_au=s.pressure * units.GPa, taut=tdamp, taup=taup,
                        compressibility_au=1.0 / (100 * units.GPa))


class ThermoRecorder:
    """What a run leaves in ``output``: ``thermo.csv`` (:data:`THERMO_COLUMNS`), ``md.traj``
    and, with ``coverage_save``, every frame with an atom below it in ``candidates.extxyz``.
    Each row is written and flushed as it is made, so a run that stops leaves what it did."""

    def __init__(self, atoms: ase.Atoms, settings: MDSettings, output: Path,
                 append: bool = False):
        self.atoms, self.settings, self.output = atoms, settings, output
        self.trajectory = Trajectory(output / "md.traj", "a" if append else "w", atoms)
        self._file = open(output / "thermo.csv", "a" if append else "w", newline="")
        self._csv = csv.DictWriter(self._file, fieldnames=THERMO_COLUMNS)
        if not append:
            self._csv.writeheader()

    def row(self, step: int) -> dict:
        """The thermo row of the atoms now (``step``)."""
        atoms, s = self.atoms, self.settings
        results = atoms.calc.results
        epot, ekin = atoms.get_potential_energy(), atoms.get_kinetic_energy()
        nearest = closest_pair(atoms, max(NEAREST_LOGGED, s.min_distance))
        outside = results.get("outside")
        return {"step": step, "time_ps": step * s.timestep / 1000,
                "temperature_K": atoms.get_temperature(), "target_K": s.target(step),
                "epot_eV": epot, "ekin_eV": ekin, "etot_eV": epot + ekin,
                "pressure_GPa": -atoms.get_stress(include_ideal_gas=True)[:3].mean() / units.GPa
                if atoms.pbc.all() else math.nan,
                "min_distance_A": nearest[2] if nearest else math.nan,
                "extrapolating_functions": math.nan if outside is None else int(outside.sum()),
                "min_rho": results.get("min_rho", math.nan),
                "n_uncovered": results.get("n_uncovered", math.nan),
                "max_force_error_eV_A": results.get("max_force_error", math.nan)}

    def write(self, row: dict) -> None:
        self._csv.writerow(row)
        self._file.flush()
        self.trajectory.write()
        limit = self.settings.coverage_save
        if limit is not None and n_below(self.atoms.calc.results, limit):
            ase.io.write(self.output / CANDIDATES_FILE, coverage_frame(self.atoms, row["step"]),
                         format="extxyz", append=True)

    def close(self) -> None:
        self.trajectory.close()
        self._file.close()


class StabilityChecker:
    """The :data:`STOPS` as Python checks on each thermo row (and a non-finite energy)."""

    def __init__(self, atoms: ase.Atoms, settings: MDSettings, output: Path,
                 start_energy: float | None = None):
        self.atoms, self.settings, self.output = atoms, settings, output
        self.start_energy = start_energy  # the total energy at step 0 (eV)

    def check(self, row: dict) -> None:
        """Raise :class:`MDUnstableError` when ``row`` breaks a condition (writing the frame
        first where the condition says so)."""
        s, step = self.settings, row["step"]
        if not math.isfinite(row["epot_eV"]):
            where = unstable_where(step, row["time_ps"], row["temperature_K"])
            raise MDUnstableError(f"{where}: the energy is {row['epot_eV']}", step)
        if self.start_energy is None:
            self.start_energy = row["etot_eV"]
        values = {**row, "drift_eV_atom": abs(row["etot_eV"] - self.start_energy)
                  / len(self.atoms),
                  "n_left": 0 if s.coverage_stop is None else n_below(self.atoms.calc.results,
                                                                     s.coverage_stop)}
        for stop in STOPS:
            if stop.violated(values[stop.value], s):
                raise MDUnstableError(stop.message(values[stop.value], s, step,
                                                   row["temperature_K"],
                                                   self._detail(stop, step)), step)

    def _detail(self, stop: Stop, step: int) -> str | None:
        """What the engine knows beyond the value: the pair of atoms, the atom that left."""
        if stop.name == "too_close":
            i, j, _ = closest_pair(self.atoms, self.settings.min_distance)
            return f"atoms {i} and {j} are"
        if stop.name == "left_data":
            with atomic_write(self.output / LEFT_DATA_FILE) as out:
                ase.io.write(out, coverage_frame(self.atoms, step), format="extxyz")
            return f"atom {int(np.nanargmin(self.atoms.calc.results['rho']))}"
        return None


def run_md(atoms: ase.Atoms, calculator, settings: MDSettings, output: str | Path, *,
           progress: bool = True, resume: bool = False) -> dict:
    """Run MD with ASE; writes ``md.traj`` and ``thermo.csv`` (:data:`THERMO_COLUMNS`) and,
    every ``restart_every`` steps, ``restart.traj`` into ``output`` (locked while it runs).
    Raises :class:`MDUnstableError` (after writing what was simulated) when a condition of
    :data:`STOPS` is met. ``resume``: continue from the restart file (from the beginning,
    said in one line, without one): positions, momenta, cell and the thermostat's random
    state of its step; the rows and frames after that step are dropped and written again."""
    s = settings
    s.check()
    if getattr(calculator, "potential", None) is not None:
        s = allow_chance_uncovered(s, calculator.potential, atoms)
    output = Path(output).resolve()
    with folder_lock(output):
        start = read_restart(output / RESTART_FILE) if resume else None
        if resume and start is None:
            log.info("--resume: no %s in %s: MD from the beginning", RESTART_FILE, output)
        return _run_md(atoms, calculator, s, output, progress, start)


def _run_md(atoms: ase.Atoms, calculator, s: MDSettings, output: Path, progress: bool,
            start: Restart | None) -> dict:
    rng = np.random.default_rng(s.seed)
    if start is None:
        atoms = atoms.copy()
        thermalize_momenta(atoms, temperature_K=s.temperature, rng=rng)
        Stationary(atoms)
    else:
        atoms = start.atoms
        rng.bit_generator.state = start.rng_state
        keep_until(output, start.step, s.interval)
    atoms.calc = calculator
    dyn = _dynamics(atoms, s, rng)
    dyn.nsteps = 0 if start is None else start.step
    ramp = s.temperature_end is not None
    if ramp and not hasattr(dyn, "set_temperature"):
        raise InputError(f"ensemble {s.ensemble} cannot change its temperature during a run")
    e0 = atoms.get_total_energy() if start is None else start.start_energy
    recorder = ThermoRecorder(atoms, s, output, append=start is not None)
    checker = StabilityChecker(atoms, s, output, start_energy=None if start is None else e0)
    bar = tqdm(total=s.steps, initial=dyn.nsteps, desc=f"MD {s.ensemble}", unit="step",
               disable=not progress)

    def record_and_check():
        row = recorder.row(dyn.nsteps)
        recorder.write(row)
        checker.check(row)
        if s.restart_every and dyn.nsteps and dyn.nsteps % s.restart_every == 0:
            write_restart(output / RESTART_FILE, atoms, dyn.nsteps, rng, checker.start_energy)
        bar.update(dyn.nsteps - bar.n)
        bar.set_postfix(T=f"{row['temperature_K']:.0f}K")

    if ramp:
        dyn.attach(lambda: dyn.set_temperature(temperature_K=s.target(dyn.nsteps)), interval=1)
    dyn.attach(record_and_check, interval=s.interval)
    try:
        dyn.run(s.steps - dyn.nsteps)  # observers run at step 0 too (not on a resumed run)
    finally:
        bar.close()
        recorder.close()
    return {"steps": dyn.nsteps, "final_temperature_K": atoms.get_temperature(),
            "energy_drift_eV_per_atom": (atoms.get_total_energy() - e0) / len(atoms),
            "trajectory": str(output / "md.traj"), "thermo": str(output / "thermo.csv")}


# ----- restarts -------------------------------------------------------------------------------
#: The restart file of the ASE engine: the atoms with momenta (an ASE trajectory: full
#: precision), with their step, the total energy at step 0 and the random state of the
#: thermostat in the frame's info.
RESTART_FILE = "restart.traj"


@dataclass
class Restart:
    atoms: ase.Atoms
    step: int
    start_energy: float  # eV, total energy at step 0 (the NVE drift's reference)
    rng_state: dict


def write_restart(path: Path, atoms: ase.Atoms, step: int, rng: np.random.Generator,
                  start_energy: float) -> None:
    """The state of step ``step``, whole or not at all."""
    frame = ase.Atoms(atoms.get_chemical_symbols(), atoms.positions, cell=atoms.cell,
                      pbc=atoms.pbc, momenta=atoms.get_momenta())
    frame.info.update(step=step, start_energy=start_energy,
                      rng_state=json.dumps(rng.bit_generator.state))
    with atomic_write(path, "wb") as out, Trajectory(out, "w") as traj:
        traj.write(frame)


def read_restart(path: Path) -> Restart | None:
    if not path.is_file():
        return None
    frame = Trajectory(path)[0]
    return Restart(frame, int(frame.info["step"]), float(frame.info["start_energy"]),
                   json.loads(frame.info["rng_state"]))


def _complete(row: dict) -> bool:
    """Whether a thermo row read back was written whole (a kill can cut the last one)."""
    if None in row or None in row.values():
        return False
    try:
        [float(v) for v in row.values()]
    except ValueError:
        return False
    return True


def keep_until(output: Path, step: int, interval: int) -> None:
    """Drop what a killed run logged after ``step``: the rows of ``thermo.csv`` after it, the
    frames of ``md.traj`` after it (one per ``interval`` steps from step 0) and the saved
    candidates after it (each written atomically)."""
    thermo = output / "thermo.csv"
    rows = list(csv.DictReader(open(thermo))) if thermo.is_file() else []
    with atomic_write(thermo, newline="") as out:
        writer = csv.DictWriter(out, fieldnames=THERMO_COLUMNS)
        writer.writeheader()
        writer.writerows(r for r in rows if _complete(r) and int(r["step"]) <= step)
    frames = Trajectory(output / "md.traj") if (output / "md.traj").is_file() else []
    kept = [frames[k] for k in range(min(len(frames), step // interval + 1))]
    with atomic_write(output / "md.traj", "wb") as out:
        with Trajectory(out, "w") as traj:
            for frame in kept:
                traj.write(frame)
    candidates = output / CANDIDATES_FILE
    if candidates.is_file():
        frames = [f for f in ase.io.read(candidates, ":") if f.info.get("step", 0) <= step]
        with atomic_write(candidates) as out:
            ase.io.write(out, frames, format="extxyz")

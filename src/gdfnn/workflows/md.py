"""``gdfnn md``: molecular dynamics with a potential, temperature ramps, trajectory and thermo
log, and a stability check that stops a simulation that blows up with a clear message."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ase
import ase.io
import numpy as np
from ase import units
from ase.io import Trajectory
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from tqdm.auto import tqdm

from gdfnn.errors import GdfnnError, InputError
from gdfnn.neighbors import closest_pair

ENSEMBLES = ("nve", "langevin", "nose-hoover", "npt-berendsen")
#: Default thermostat and barostat time constants, in time steps (Nose-Hoover / Berendsen).
TDAMP_STEPS = 100
TAUP_STEPS = 1000
#: thermo.csv of both MD engines (ASE and LAMMPS), one row every ``interval`` steps. Units:
#: ps, K, eV, GPa, Å. The pressure is LAMMPS's ``press``: virial plus 2 E_kin / (3 V).
#: ``extrapolating_functions``: symmetry functions outside their training
#: range, summed over atoms (n2p2's test); ``min_rho``, ``n_uncovered``: GDF coverage (see
#: :meth:`gdfnn.model.potential.Potential.predict`). NaN where the engine did not compute it.
THERMO_COLUMNS = ("step", "time_ps", "temperature_K", "target_K", "epot_eV", "ekin_eV",
                  "etot_eV", "pressure_GPa", "min_distance_A", "extrapolating_functions",
                  "min_rho", "n_uncovered")
#: Frames whose coverage fell below ``coverage_save`` are appended here (extxyz).
CANDIDATES_FILE = "candidates.extxyz"
#: The frame where an atom fell below ``coverage_stop`` (extxyz).
LEFT_DATA_FILE = "left_training_data.extxyz"
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
    ``coverage_save``: keep going, appending every such frame to ``candidates.extxyz``. Both
    need a calculator that returns ``rho`` (``NNPCalculator(..., coverage=True)``).
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
    coverage_stop: float | None = None  # GDF rho
    coverage_save: float | None = None  # GDF rho

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
    Stop("left_data", "min_rho", "<", lambda s: s.coverage_stop,
         lambda v, s, _: f"rho = {v:.3g} < {s.coverage_stop} (frame in {LEFT_DATA_FILE})",
         headline=lambda atom: f"{atom or 'an atom'} left the training data"),
)
#: The conditions by LAMMPS fix id (a halt in the log names its fix).
STOPS_BY_NAME = {stop.name: stop for stop in STOPS}


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

    def __init__(self, atoms: ase.Atoms, settings: MDSettings, output: Path):
        self.atoms, self.settings, self.output = atoms, settings, output
        self.trajectory = Trajectory(output / "md.traj", "w", atoms)
        self._file = open(output / "thermo.csv", "w", newline="")
        self._csv = csv.DictWriter(self._file, fieldnames=THERMO_COLUMNS)
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
                "n_uncovered": results.get("n_uncovered", math.nan)}

    def write(self, row: dict) -> None:
        self._csv.writerow(row)
        self._file.flush()
        self.trajectory.write()
        limit = self.settings.coverage_save
        if limit is not None and row["min_rho"] < limit:
            ase.io.write(self.output / CANDIDATES_FILE, self.atoms, format="extxyz",
                         append=True)

    def close(self) -> None:
        self.trajectory.close()
        self._file.close()


class StabilityChecker:
    """The :data:`STOPS` as Python checks on each thermo row (and a non-finite energy)."""

    def __init__(self, atoms: ase.Atoms, settings: MDSettings, output: Path):
        self.atoms, self.settings, self.output = atoms, settings, output
        self.start_energy: float | None = None

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
                  / len(self.atoms)}
        for stop in STOPS:
            if stop.violated(values[stop.value], s):
                raise MDUnstableError(stop.message(values[stop.value], s, step,
                                                   row["temperature_K"], self._detail(stop)),
                                      step)

    def _detail(self, stop: Stop) -> str | None:
        """What the engine knows beyond the value: the pair of atoms, the atom that left."""
        if stop.name == "too_close":
            i, j, _ = closest_pair(self.atoms, self.settings.min_distance)
            return f"atoms {i} and {j} are"
        if stop.name == "left_data":
            ase.io.write(self.output / LEFT_DATA_FILE, self.atoms, format="extxyz")
            return f"atom {int(np.nanargmin(self.atoms.calc.results['rho']))}"
        return None


def run_md(atoms: ase.Atoms, calculator, settings: MDSettings, output: str | Path, *,
           progress: bool = True) -> dict:
    """Run MD with ASE; writes ``md.traj`` and ``thermo.csv`` (:data:`THERMO_COLUMNS`) into
    ``output``. Raises :class:`MDUnstableError` (after writing what was simulated) when a
    condition of :data:`STOPS` is met."""
    s = settings
    s.check()
    output = Path(output).resolve()
    output.mkdir(parents=True, exist_ok=True)
    atoms = atoms.copy()
    atoms.calc = calculator
    rng = np.random.default_rng(s.seed)
    thermalize_momenta(atoms, temperature_K=s.temperature, rng=rng)
    Stationary(atoms)
    dyn = _dynamics(atoms, s, rng)
    ramp = s.temperature_end is not None
    if ramp and not hasattr(dyn, "set_temperature"):
        raise InputError(f"ensemble {s.ensemble} cannot change its temperature during a run")
    e0 = atoms.get_total_energy()
    recorder, checker = ThermoRecorder(atoms, s, output), StabilityChecker(atoms, s, output)
    bar = tqdm(total=s.steps, desc=f"MD {s.ensemble}", unit="step", disable=not progress)

    def record_and_check():
        row = recorder.row(dyn.nsteps)
        recorder.write(row)
        checker.check(row)
        bar.update(dyn.nsteps - bar.n)
        bar.set_postfix(T=f"{row['temperature_K']:.0f}K")

    if ramp:
        dyn.attach(lambda: dyn.set_temperature(temperature_K=s.target(dyn.nsteps)), interval=1)
    dyn.attach(record_and_check, interval=s.interval)
    try:
        dyn.run(s.steps)  # observers run at step 0 too
    finally:
        bar.close()
        recorder.close()
    return {"steps": dyn.nsteps, "final_temperature_K": atoms.get_temperature(),
            "energy_drift_eV_per_atom": (atoms.get_total_energy() - e0) / len(atoms),
            "trajectory": str(output / "md.traj"), "thermo": str(output / "thermo.csv")}

"""``gdfnn md``: molecular dynamics with a potential, temperature ramps, trajectory and thermo
log, and a stability check that stops a simulation that blows up with a clear message."""

from __future__ import annotations

import csv
import math
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
THERMO_COLUMNS = ["step", "time_ps", "temperature_K", "target_K", "epot_eV", "ekin_eV",
                  "etot_eV", "pressure_GPa", "min_distance_A", "min_rho",
                  "n_uncovered"]
#: Frames whose coverage fell below ``coverage_save`` are appended here (extxyz).
CANDIDATES_FILE = "candidates.extxyz"
#: The nearest-neighbour distance is logged when it is below this (Å).
NEAREST_LOGGED = 3.0


class MDUnstableError(GdfnnError):
    """The simulation left physical territory (atoms too close, energy not conserved);
    ``step`` is the MD step where it was found."""

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
    if s.ensemble == "npt-berendsen":
        from ase.md.nptberendsen import NPTBerendsen

        return NPTBerendsen(atoms, timestep=dt, temperature_K=s.temperature,
                            pressure_au=s.pressure * units.GPa, taut=tdamp, taup=taup,
                            compressibility_au=1.0 / (100 * units.GPa))
    raise InputError(f"unknown ensemble {s.ensemble!r}: {', '.join(ENSEMBLES)}")


def run_md(atoms: ase.Atoms, calculator, settings: MDSettings, output: str | Path, *,
           progress: bool = True) -> dict:
    """Run MD; writes ``md.traj`` and ``thermo.csv`` into ``output``. Raises
    :class:`MDUnstableError` (after writing what was simulated) when the run blows up."""
    s = settings
    if s.temperature_end is not None and s.ensemble == "nve":
        raise InputError("a temperature ramp needs a thermostat (langevin, nose-hoover, npt)")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    atoms = atoms.copy()
    atoms.calc = calculator
    rng = np.random.default_rng(s.seed)
    thermalize_momenta(atoms, temperature_K=s.temperature, rng=rng)
    Stationary(atoms)
    dyn = _dynamics(atoms, s, rng)
    ramp = s.temperature_end is not None and hasattr(dyn, "set_temperature")
    if s.temperature_end is not None and not ramp:
        raise InputError(f"ensemble {s.ensemble} cannot change its temperature during a run")
    n = len(atoms)
    e0 = atoms.get_total_energy()
    traj = Trajectory(output / "md.traj", "w", atoms)
    log_file = open(output / "thermo.csv", "w", newline="")
    log = csv.DictWriter(log_file, fieldnames=THERMO_COLUMNS)
    log.writeheader()
    bar = tqdm(total=s.steps, desc=f"MD {s.ensemble}", unit="step", disable=not progress)
    state = {"target": s.temperature}

    def target(step: int) -> float:
        if s.temperature_end is None:
            return s.temperature
        return s.temperature + (s.temperature_end - s.temperature) * step / max(s.steps, 1)

    def check_and_log():
        step = dyn.nsteps
        epot, ekin = atoms.get_potential_energy(), atoms.get_kinetic_energy()
        nearest = closest_pair(atoms, max(NEAREST_LOGGED, s.min_distance))
        rho = atoms.calc.results.get("rho")
        min_rho = atoms.calc.results.get("min_rho", math.nan)
        close = nearest if nearest is not None and nearest[2] < s.min_distance else None
        row = {"step": step, "time_ps": step * s.timestep / 1000,
               "temperature_K": atoms.get_temperature(), "target_K": state["target"],
               "epot_eV": epot, "ekin_eV": ekin, "etot_eV": epot + ekin,
               "pressure_GPa": -atoms.get_stress()[:3].mean() / units.GPa if atoms.pbc.all()
               else math.nan, "min_distance_A": nearest[2] if nearest else math.nan,
               "min_rho": min_rho, "n_uncovered": atoms.calc.results.get("n_uncovered", 0)}
        log.writerow(row)
        traj.write()
        where = unstable_where(step, row["time_ps"], row["temperature_K"])
        if not math.isfinite(epot):
            raise MDUnstableError(f"{where}: the energy is {epot}", step)
        if close is not None:
            raise MDUnstableError(f"{where}: atoms {close[0]} and {close[1]} are {close[2]:.2f} Å "
                                  f"apart (< {s.min_distance} Å)", step)
        if s.coverage_save is not None and min_rho < s.coverage_save:
            ase.io.write(output / CANDIDATES_FILE, atoms, format="extxyz", append=True)
        if s.coverage_stop is not None and min_rho < s.coverage_stop:
            atom = int(np.nanargmin(rho))
            ase.io.write(output / "left_training_data.extxyz", atoms, format="extxyz")
            raise MDUnstableError(f"atom {atom} left the training data at step {step} "
                                  f"(t = {row['time_ps']:.3f} ps): rho = {min_rho:.3g} < "
                                  f"{s.coverage_stop} (frame in left_training_data.extxyz)", step)
        drift = abs(epot + ekin - e0) / n
        if s.ensemble == "nve" and drift > s.max_drift:
            raise MDUnstableError(f"{where}: {drift_cause(drift, s.max_drift)}", step)
        bar.update(step - bar.n)
        bar.set_postfix(T=f"{row['temperature_K']:.0f}K")

    def ramp_temperature():
        state["target"] = target(dyn.nsteps)
        dyn.set_temperature(temperature_K=state["target"])

    if ramp:
        dyn.attach(ramp_temperature, interval=1)
    dyn.attach(check_and_log, interval=s.interval)
    try:
        dyn.run(s.steps)  # observers run at step 0 too
    finally:
        bar.close()
        traj.close()
        log_file.close()
    return {"steps": dyn.nsteps, "final_temperature_K": atoms.get_temperature(),
            "energy_drift_eV_per_atom": (atoms.get_total_energy() - e0) / n,
            "trajectory": str(output / "md.traj"), "thermo": str(output / "thermo.csv")}

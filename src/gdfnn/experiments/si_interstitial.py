"""The paper's Si interstitial (Figure 2, Figure S4): force errors, the PES around the
tetrahedral site, and MD stability.

1. Langevin MD (2 fs steps, 500 -> 1300 K) of 64-atom diamond Si plus one atom on the
   tetrahedral interstitial site, labelled by the reference; 90 % of the frames train NNP-c
   (eq. 1) and NNP-GDF (eq. 3). Force RMSE of the interstitial atoms (atoms on a doubly
   occupied lattice site and their neighbours within 2.6 Å, found per frame) against the
   other atoms, on the training and the test frames.
2. PES (Figure 2): the cell relaxed by the reference with the interstitial on the tetrahedral
   site; the interstitial displaced to every point of an (theta, phi) grid on a sphere of
   0.6 Å around that site, all other atoms fixed; energies relative to the undisplaced cell
   for each potential; the RMS difference of each NNP's PES from the reference's.
3. MD stability (Figure S4): Langevin MD (1 fs) of the relaxed interstitial cell with each
   NNP at each temperature and seed, in LAMMPS (``pair_style gdfnn``: about 6x the ASE
   calculator's speed on this cell); a run fails where two atoms come closer than 1.8 Å
   (Si-Si bonds are 2.35 Å, checked every 10 steps) or atoms fly out of reach (LAMMPS's
   "lost atoms"), and the time of failure is kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import ase
import numpy as np
from ase.optimize import BFGS

from gdfnn.analysis.plots import energy_maps
from gdfnn.analysis.tables import markdown_table
from gdfnn.calculator import NNPCalculator
from gdfnn.data import read_structures
from gdfnn.experiments.common import (
    DEFAULT_REFERENCE,
    LATTICE,
    POTENTIALS,
    evaluate_splits,
    split_frames,
    train_pair,
)
from gdfnn.experiments.report import write_results
from gdfnn.experiments.sampling import (
    cached_frames,
    diamond_si,
    interstitial_mask,
    sample_md,
    with_tetrahedral_interstitial,
)
from gdfnn.reference import get_reference
from gdfnn.workflows.evaluate import DEFECT_ATOMS, OTHER_ATOMS
from gdfnn.workflows.lammps import build_plugin
from gdfnn.workflows.lammps import run_md as run_lammps_md
from gdfnn.workflows.md import MDSettings, MDUnstableError

PES_RADIUS = 0.6  # Å, the paper's
FAILURE_DISTANCE = 1.8  # Å


@dataclass(frozen=True)
class Preset:
    """Sizes: sampling MD steps (2 fs) and snapshot interval, training epochs, the PES grid
    (polar x azimuthal angles), stability MD temperatures (K), length (1 fs steps) and
    seeds."""

    steps: int
    interval: int
    epochs: int
    pes_theta: int
    pes_phi: int
    temperatures: tuple[float, ...]
    md_steps: int
    md_seeds: int
    batch_size: int = 16


PRESETS = {
    # 800 frames; PES every 10 degrees; 100 ps at 1200, 1300, 1500 K, 3 seeds
    "full": Preset(steps=8000, interval=10, epochs=1000, pes_theta=19, pes_phi=37,
                   temperatures=(1200.0, 1300.0, 1500.0), md_steps=100_000, md_seeds=3),
    # 200 frames; PES every 20 degrees; 5 ps at 1200 and 1500 K, 2 seeds
    "quick": Preset(steps=2000, interval=10, epochs=500, pes_theta=10, pes_phi=19,
                    temperatures=(1200.0, 1500.0), md_steps=5000, md_seeds=2),
    "tiny": Preset(steps=100, interval=10, epochs=3, pes_theta=3, pes_phi=4,
                   temperatures=(1300.0,), md_steps=20, md_seeds=1, batch_size=8),
}


def relaxed_interstitial(reference: str) -> ase.Atoms:
    """The 65-atom cell relaxed by the reference (fixed cell), the interstitial (last atom)
    kept on the tetrahedral site by symmetry."""
    atoms = with_tetrahedral_interstitial(diamond_si(2, LATTICE[reference]), LATTICE[reference])
    atoms.calc = get_reference(reference)
    BFGS(atoms, logfile=None).run(fmax=0.005, steps=300)
    atoms.calc = None
    return atoms


def pes_grid(n_theta: int, n_phi: int) -> tuple[np.ndarray, np.ndarray]:
    """Polar angles in [0, 180] and azimuthal angles in [0, 360] degrees (both ends kept,
    for the map)."""
    return np.linspace(0.0, 180.0, n_theta), np.linspace(0.0, 360.0, n_phi)


def displaced(atoms: ase.Atoms, index: int, theta: float, phi: float,
              radius: float = PES_RADIUS) -> ase.Atoms:
    """A copy with atom ``index`` moved by ``radius`` Å in the direction (theta, phi)
    (degrees), every other atom where it was."""
    t, p = np.radians(theta), np.radians(phi)
    out = atoms.copy()
    out.positions[index] += radius * np.array([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p),
                                               np.cos(t)])
    return out


def pes(atoms: ase.Atoms, calculator, thetas: np.ndarray, phis: np.ndarray) -> np.ndarray:
    """``(len(thetas), len(phis))`` energies (eV) of the last atom on the sphere, relative to
    ``atoms`` itself."""
    moving = atoms.copy()
    moving.calc = calculator
    e0 = moving.get_potential_energy()
    grid = np.empty((len(thetas), len(phis)))
    for i, theta in enumerate(thetas):
        for j, phi in enumerate(phis):
            moving.positions = displaced(atoms, len(atoms) - 1, theta, phi).positions
            grid[i, j] = moving.get_potential_energy() - e0
    return grid


def stability(atoms: ase.Atoms, potential, temperature: float, steps: int, seed: int,
              output: Path) -> dict:
    """One Langevin run (1 fs) in LAMMPS: ``failed``, the time reached (ps) and why it
    stopped."""
    settings = MDSettings(ensemble="langevin", temperature=temperature, steps=steps,
                          timestep=1.0, interval=10, min_distance=FAILURE_DISTANCE, seed=seed)
    try:
        run_lammps_md(potential, atoms, settings, output, build_plugin())
    except MDUnstableError as exc:
        return {"failed": True, "time_ps": exc.step / 1000.0, "reason": str(exc)}
    return {"failed": False, "time_ps": steps / 1000.0, "reason": "ran to the end"}


def run_si_interstitial(output: str | Path = "si_interstitial", *, preset: str = "quick",
                        reference: str = DEFAULT_REFERENCE, seed: int = 0,
                        progress: bool = True) -> dict:
    """Run the whole experiment; writes results.json, report.md and PNGs into ``output``."""
    p = PRESETS[preset]
    out = Path(output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    a = LATTICE[reference]
    perfect = diamond_si(2, a)
    data = cached_frames(
        out / "data.xyz", {"reference": reference, "steps": p.steps, "interval": p.interval,
                           "seed": seed},
        lambda: sample_md(with_tetrahedral_interstitial(perfect, a), get_reference(reference),
                          temperature_start=500, temperature_end=1300, steps=p.steps,
                          interval=p.interval, timestep_fs=2.0, seed=seed,
                          defect=lambda atoms: interstitial_mask(atoms, perfect.positions),
                          config_type="interstitial_md", progress=progress))
    train_file, test_file = split_frames(data, out, seed)
    potentials = train_pair(out, train_file, test_file, p.epochs, p.batch_size, seed, progress)
    results = {"preset": preset, "reference": reference, "seed": seed, "settings": asdict(p)}
    results.update(evaluate_splits(potentials, out, {
        "train": read_structures(train_file), "test": read_structures(test_file)}))
    start = relaxed_interstitial(reference)
    thetas, phis = pes_grid(p.pes_theta, p.pes_phi)
    maps = {"reference": pes(start, get_reference(reference), thetas, phis)}
    for name, pot in potentials.items():
        maps[name] = pes(start, NNPCalculator(pot), thetas, phis)
    energy_maps({k: (v * 1000.0) for k, v in maps.items()}, (phis, thetas),
                ("azimuthal angle phi (deg)", "polar angle theta (deg)"),
                "energy relative to the tetrahedral site (meV)", out / "pes_fig2.png")
    results["pes"] = {"thetas_deg": thetas.tolist(), "phis_deg": phis.tolist(),
                      "energy_eV": {k: v.tolist() for k, v in maps.items()},
                      "rms_vs_reference_meV": {name: float(1000.0 * np.sqrt(np.mean(
                          (maps[name] - maps["reference"]) ** 2))) for name in POTENTIALS}}
    runs = {name: {f"{t:g}": [stability(start, pot, t, p.md_steps, seed * 100 + k,
                                        out / "stability" / f"{name}_{t:g}K_{k}")
                              for k in range(p.md_seeds)] for t in p.temperatures}
            for name, pot in potentials.items()}
    results["stability"] = runs
    write_results(out, results, report(results))
    return results


def table(results: dict) -> tuple[list[str], list[list]]:
    """The report's headers and rows (one row per potential)."""
    rows = []
    for name in POTENTIALS:
        row = [name]
        for split in ("train", "test"):
            r = results[split][name]
            row += [r["subsets"][DEFECT_ATOMS]["force"]["rmse"],
                    r["subsets"][OTHER_ATOMS]["force"]["rmse"]]
        row.append(results["pes"]["rms_vs_reference_meV"][name])
        for runs in results["stability"][name].values():
            row += [sum(r["failed"] for r in runs) / len(runs),
                    float(np.mean([r["time_ps"] for r in runs]))]
        rows.append(row)
    headers = ["potential", "train F interstitial", "train F other", "test F interstitial",
               "test F other", "PES RMS vs reference meV"]
    for t in results["stability"][POTENTIALS[0]]:
        headers += [f"MD {t} K failed fraction", f"MD {t} K mean time ps"]
    return headers, rows


def report(results: dict) -> str:
    s = results["settings"]
    failures = [f"- {name} {t} K: {r['reason']}" for name, per in results["stability"].items()
                for t, runs in per.items() for r in runs if r["failed"]]
    return "\n".join([
        f"# Si interstitial ({results['preset']} preset, reference {results['reference']}, "
        f"seed {results['seed']})", "",
        "65-atom cell, MD 500 -> 1300 K. Force RMSE in eV/Å; interstitial atoms = atoms on a "
        "doubly occupied site and their neighbours within 2.6 Å. PES: the interstitial on a "
        f"{PES_RADIUS} Å sphere around the tetrahedral site ({s['pes_theta']} x {s['pes_phi']} "
        "angles), others fixed, RMS difference from the reference's PES. MD: Langevin, 1 fs, "
        f"{s['md_steps'] / 1000:g} ps, {s['md_seeds']} seed(s) per temperature; a run fails "
        f"below {FAILURE_DISTANCE} Å between atoms.", "",
        markdown_table(*table(results)), "",
        "Failed runs:" if failures else "No run failed.", *failures, "",
        "Figures: pes_fig2.png (Figure 2b-d), evaluation_*/force_error_vs_gdf.png."])

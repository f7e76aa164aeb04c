"""Training data from a reference potential: defect builders, MD sampling with temperature
ramps, labelled frames with a per-atom defect mask, written as extxyz."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import ase
import ase.io
import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from tqdm.auto import tqdm

from gdfnn.fileio import atomic_write
from gdfnn.neighbors import coordination

SI_LATTICE = 5.431  # Å, diamond Si (Stillinger-Weber's equilibrium)
SI_BOND_CUTOFF = 2.6  # Å, between the first (2.35) and second (3.84) neighbour shells


def diamond_si(repeat: int = 2, a: float = SI_LATTICE) -> ase.Atoms:
    """Perfect diamond Si, ``repeat``^3 conventional cells (64 atoms for 2)."""
    return bulk("Si", "diamond", a=a, cubic=True) * repeat


def compact_cluster(atoms: ase.Atoms, n: int, start: int = 0, cutoff: float = SI_BOND_CUTOFF
                    ) -> list[int]:
    """``n`` connected atoms chosen the most compact way: from ``start``, repeatedly add the
    bonded candidate with the most bonds into the cluster (ties: nearest to its centre)."""
    distances = atoms.get_all_distances(mic=True)
    bonded = (distances < cutoff) & (distances > 0)
    cluster = [start]
    while len(cluster) < n:
        candidates = np.flatnonzero(bonded[cluster].any(0))
        candidates = np.setdiff1d(candidates, cluster)
        links = bonded[np.ix_(candidates, cluster)].sum(1)
        spread = distances[np.ix_(candidates, cluster)].sum(1)
        best = np.lexsort((spread, -links))[0]
        cluster.append(int(candidates[best]))
    return cluster


def with_vacancies(atoms: ase.Atoms, n: int = 1, start: int = 0) -> ase.Atoms:
    """``atoms`` without a compact cluster of ``n`` atoms (the paper's Table 1 vacancies)."""
    out = atoms.copy()
    del out[compact_cluster(atoms, n, start)]
    return out


def with_tetrahedral_interstitial(atoms: ase.Atoms, a: float = SI_LATTICE) -> ase.Atoms:
    """Diamond Si plus one atom on the tetrahedral interstitial site (a/2, a/2, a/2)."""
    out = atoms.copy()
    out.append(ase.Atom("Si", position=(a / 2, a / 2, a / 2)))
    return out


def strained(atoms: ase.Atoms, max_strain: float, rng: np.random.Generator) -> ase.Atoms:
    """A copy under a random symmetric strain with components in [-max_strain, max_strain]."""
    e = rng.uniform(-max_strain, max_strain, (3, 3))
    out = atoms.copy()
    out.set_cell(atoms.cell.array @ (np.eye(3) + 0.5 * (e + e.T)), scale_atoms=True)
    return out


def low_coordination_mask(atoms: ase.Atoms, bulk_coordination: int = 4,
                          cutoff: float = SI_BOND_CUTOFF) -> np.ndarray:
    """Atoms with fewer than ``bulk_coordination`` neighbours within ``cutoff`` Å."""
    return coordination(atoms, cutoff) < bulk_coordination


def vacancy_neighbour_mask(atoms: ase.Atoms, sites: np.ndarray,
                           cutoff: float = SI_BOND_CUTOFF) -> np.ndarray:
    """The paper's defect atoms: those on the lattice sites bonded to an empty site.

    Each atom is assigned to its nearest site of the perfect lattice ``sites`` (Å, same cell,
    minimum image); empty sites are vacancies, and the atoms on their first-shell neighbour
    sites are marked. Follows a migrating vacancy frame by frame.
    """
    site_of_atom = _minimum_image_distances(atoms.cell.array, atoms.positions, sites).argmin(1)
    empty = np.setdiff1d(np.arange(len(sites)), site_of_atom)
    site_dist = _minimum_image_distances(atoms.cell.array, sites, sites)
    neighbour_sites = np.flatnonzero(((site_dist[empty] < cutoff) & (site_dist[empty] > 0))
                                     .any(0))
    return np.isin(site_of_atom, neighbour_sites)


def vacancy_site(atoms: ase.Atoms, bond: float = SI_BOND_CUTOFF, bond_length: float = 2.35,
                 radius: float = 1.0) -> np.ndarray | None:
    """Where the missing atom of a tetrahedral crystal sits (Å), found without a lattice.

    Each atom with three neighbours within ``bond`` Å predicts its missing fourth neighbour
    ``bond_length`` Å away, opposite the sum of its three unit bond vectors; the site is the
    mean of the largest group of predictions within ``radius`` Å of one of them (minimum
    image). None when no atom has three bonds. Works on hot DFT frames whose cell is not a
    multiple of the conventional one (mlearn's Vacancy frames).
    """
    from gdfnn.neighbors import neighbor_list

    pairs = neighbor_list(atoms, bond)
    vectors = pairs.vectors(atoms)
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    counts = np.bincount(pairs.centers, minlength=len(atoms))
    predictions = []
    for a in np.flatnonzero(counts == 3):
        away = -units[pairs.centers == a].sum(0)
        predictions.append(atoms.positions[a] + bond_length * away / np.linalg.norm(away))
    if not predictions:
        return None
    points = np.array(predictions)
    offsets = points[None, :, :] - points[:, None, :]
    frac = np.linalg.solve(atoms.cell.array.T, offsets.reshape(-1, 3).T).T
    frac -= np.round(frac)
    offsets = (frac @ atoms.cell.array).reshape(offsets.shape)
    close = np.linalg.norm(offsets, axis=2) < radius
    best = int(np.argmax(close.sum(1)))
    return points[best] + offsets[best, close[best]].mean(0)


def near_site_mask(atoms: ase.Atoms, site: np.ndarray | None, radius: float = 3.0
                   ) -> np.ndarray:
    """Atoms within ``radius`` Å (minimum image) of ``site``; none when ``site`` is None."""
    if site is None:
        return np.zeros(len(atoms), bool)
    return _minimum_image_distances(atoms.cell.array, atoms.positions, site[None])[:, 0] < radius


def interstitial_mask(atoms: ase.Atoms, sites: np.ndarray, cutoff: float = SI_BOND_CUTOFF
                      ) -> np.ndarray:
    """Interstitial defect atoms: those assigned (nearest site, minimum image) to a lattice
    site of ``sites`` that holds more than one atom, and the atoms within ``cutoff`` Å of
    them. Follows the defect when the interstitial kicks a lattice atom on."""
    site_of_atom = _minimum_image_distances(atoms.cell.array, atoms.positions, sites).argmin(1)
    crowded = np.isin(site_of_atom, np.flatnonzero(np.bincount(site_of_atom) > 1))
    near = _minimum_image_distances(atoms.cell.array, atoms.positions,
                                    atoms.positions[crowded]) < cutoff
    return crowded | near.any(1)


def _minimum_image_distances(cell: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` minimum-image distances (Å) in the periodic ``cell``."""
    diff = a[:, None, :] - b[None, :, :]
    frac = np.linalg.solve(cell.T, diff.reshape(-1, 3).T).T
    frac -= np.round(frac)
    return np.linalg.norm(frac @ cell, axis=1).reshape(len(a), len(b))


def labelled(atoms: ase.Atoms, calculator, defect: np.ndarray | None = None) -> ase.Atoms:
    """A copy carrying energy, forces, stress and (when available) per-atom energies of
    ``calculator`` as a single-point result, and a ``defect`` array."""
    atoms = atoms.copy()
    atoms.calc = calculator
    results = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(),
               "stress": atoms.get_stress()}
    if "energies" in calculator.implemented_properties:
        results["energies"] = atoms.get_potential_energies()
    atoms.calc = SinglePointCalculator(atoms, **results)
    if defect is not None:
        atoms.arrays["defect"] = defect.astype(int)
    return atoms


def sample_md(atoms: ase.Atoms, calculator, *, temperature_start: float, temperature_end: float,
              steps: int, interval: int, timestep_fs: float = 2.0, friction: float = 0.01,
              seed: int = 0, defect: Callable[[ase.Atoms], np.ndarray] | None = None,
              config_type: str = "md", progress: bool = True) -> list[ase.Atoms]:
    """Langevin MD with a linear temperature ramp; a labelled snapshot every ``interval``
    steps (``steps // interval`` frames). Same inputs and seed, same frames."""
    atoms = atoms.copy()
    atoms.calc = calculator
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature_K=temperature_start, rng=rng)
    Stationary(atoms)
    dyn = Langevin(atoms, timestep=timestep_fs * units.fs, temperature_K=temperature_start,
                   friction=friction / units.fs, fixcm=False, rng=rng)
    frames: list[ase.Atoms] = []
    bar = tqdm(total=steps, desc=f"sampling {config_type}", unit="step", disable=not progress)

    def snapshot():
        if dyn.nsteps == 0:
            return
        frame = labelled(atoms, calculator, None if defect is None else defect(atoms))
        frame.info["config_type"] = config_type
        frame.info["temperature_K"] = float(dyn.temp / units.kB)
        frames.append(frame)
        bar.update(interval)

    def ramp():
        dyn.set_temperature(temperature_K=temperature_start + (temperature_end - temperature_start)
                            * dyn.nsteps / max(steps, 1))

    dyn.attach(ramp, interval=1)
    dyn.attach(snapshot, interval=interval)
    dyn.run(steps)
    bar.close()
    return frames


def cached_frames(path: Path, meta: dict, make: Callable[[], list[ase.Atoms]]) -> Path:
    """``path`` (extxyz) made by ``make()``, unless it exists with the same ``meta`` (kept as
    JSON in ``<stem>_meta.json`` beside it): sampling is the slow part of an experiment."""
    meta_path = path.with_name(f"{path.stem}_meta.json")
    if path.is_file() and meta_path.is_file() and json.loads(meta_path.read_text()) == meta:
        return path
    write_frames(path, make())
    with atomic_write(meta_path) as f:  # after the frames: a kill between keeps no meta
        json.dump(meta, f)
    return path


def write_frames(path: str | os.PathLike, frames: list[ase.Atoms]) -> None:
    """Write labelled frames as extxyz (atomically)."""
    with atomic_write(path) as f:
        ase.io.write(f, frames, format="extxyz")

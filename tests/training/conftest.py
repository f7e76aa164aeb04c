"""A toy data set with exact labels (a Morse potential) and tiny training configs."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.morse import MorsePotential
from ase.calculators.singlepoint import SinglePointCalculator

from gdfnn.config import config_from_dict


def morse_frames(n: int, seed: int = 0):
    """Rattled 8-atom Si cells labelled by a Morse potential (energy, forces, stress)."""
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
def toy_config(tmp_path):
    """A function making a small, fast training config over 16 Morse frames."""
    ase.io.write(tmp_path / "toy.xyz", morse_frames(16))

    def make(**sections):
        values = {"data": {"train": ["toy.xyz"], "valid_rate": 0.25},
                  "descriptor": {"cutoff": 4.0},
                  "model": {"hidden": [8, 8], "activation": "tanh"},
                  "training": {"epochs": 4, "batch_size": 4, "valid_every": 2, "seed": 3,
                               "learning_rate": 5e-3, "final_learning_rate": 1e-3},
                  "output": {"directory": "out", "progress": False, "plots": False}}
        for section, update in sections.items():
            values.setdefault(section, {}).update(update)
        return config_from_dict(values, base_dir=tmp_path)

    return make

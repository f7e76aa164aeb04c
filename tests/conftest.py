"""Shared fixtures: small labelled frames made by code, and the real DFT data when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

DFT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dft"
POTENTIALS_DIR = DFT_DIR.parent / "potentials"


def labelled_si(n_frames: int = 4, seed: int = 0, config_type: str | None = "bulk"):
    """Rattled 8-atom diamond Si cells with made-up energies (eV) and forces (eV/Å)."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n_frames):
        atoms = bulk("Si", "diamond", a=5.43, cubic=True)
        atoms.rattle(0.05, seed=int(rng.integers(1 << 30)))
        calc = SinglePointCalculator(
            atoms,
            energy=-5.4 * len(atoms) + rng.normal(0, 0.1),
            forces=rng.normal(0, 0.5, (len(atoms), 3)),
            stress=rng.normal(0, 0.01, 6),
        )
        atoms.calc = calc
        if config_type:
            atoms.info["config_type"] = config_type
        frames.append(atoms)
    return frames


@pytest.fixture
def dft_dir() -> Path:
    if not DFT_DIR.is_dir():
        pytest.skip(f"real DFT data not found at {DFT_DIR} (../shared/data/dft beside the repo)")
    return DFT_DIR

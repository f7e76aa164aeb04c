"""What the paper's experiments share: the Si references and their lattice parameters, the two
potentials each trains (NNP-c, NNP-GDF) with one training recipe, the train/test split of
sampled frames, and the evaluation of each split."""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np

from gdfnn.config import Config, config_from_dict
from gdfnn.data.structure import Structure
from gdfnn.experiments.runs import train_once
from gdfnn.experiments.sampling import SI_LATTICE, write_frames
from gdfnn.gdf.density import DEFAULT_SIGMA
from gdfnn.model.potential import Potential
from gdfnn.workflows.evaluate import evaluate

#: Diamond Si lattice parameter (Å) of each reference (snap-si: relaxed with ASE, BFGS).
LATTICE = {"sw-si": SI_LATTICE, "tersoff-si": 5.432, "snap-si": 5.474}
#: The Si experiments' reference: SNAP fitted to PBE (DFT-like: no split-vacancy minimum,
#: which Stillinger-Weber has 1.5 eV below the simple vacancy).
DEFAULT_REFERENCE = "snap-si"
#: The two potentials every experiment trains: NNP-c (eq. 1) and NNP-GDF (eq. 3).
POTENTIALS = ("nnp_c", "nnp_gdf")


def split_frames(data: Path, out: Path, seed: int) -> tuple[Path, Path]:
    """90 % of the frames (random, seeded) for training, the rest for testing."""
    frames = ase.io.read(data, ":")
    order = np.random.default_rng(seed).permutation(len(frames))
    n_train = round(0.9 * len(frames))
    paths = out / "train.xyz", out / "test.xyz"
    for path, idx in zip(paths, (np.sort(order[:n_train]), np.sort(order[n_train:])), strict=True):
        write_frames(path, [frames[i] for i in idx])
    return paths


def training_config(train_files: list[Path], store: Path, output: Path, gdf: bool,
                    epochs: int, batch_size: int, seed: int, progress: bool,
                    test_files: list[Path] = ()) -> Config:
    """The experiments' training: 30-30 tanh networks, Adam 1e-3 -> 1e-5, NNP-c (eq. 1) or
    NNP-GDF (eq. 3, sigma 0.02, the paper's sigmoid), no validation split."""
    return config_from_dict({
        "data": {"train": [str(f) for f in train_files], "test": [str(f) for f in test_files],
                 "valid_rate": 0.0},
        "descriptor": {"store": str(store)},
        "gdf": {"enabled": gdf, "sigma": DEFAULT_SIGMA, "modifier": "sigmoid-paper"},
        "model": {"hidden": [30, 30], "activation": "tanh"},
        "training": {"epochs": epochs, "batch_size": batch_size, "seed": seed,
                     "learning_rate": 1e-3, "final_learning_rate": 1e-5,
                     "valid_every": max(epochs // 10, 1)},
        "output": {"directory": str(output), "progress": progress, "plots": False}},
        source=str(output))


def train_pair(out: Path, train_file: Path, test_file: Path, epochs: int, batch_size: int,
               seed: int, progress: bool) -> dict[str, Potential]:
    """NNP-c (eq. 1) and NNP-GDF (eq. 3) with :func:`training_config` in ``out/nnp_c`` and
    ``out/nnp_gdf`` (one feature store), each trained once (reused when finished on the same
    inputs: :func:`~gdfnn.experiments.runs.train_once`)."""
    return {name: train_once(training_config([train_file], out / "features.h5", out / name,
                                             name == "nnp_gdf", epochs, batch_size, seed,
                                             progress, [test_file]))
            for name in POTENTIALS}


def evaluate_splits(potentials: dict[str, Potential], out: Path,
                    splits: dict[str, list[Structure]]) -> dict[str, dict]:
    """:func:`~gdfnn.workflows.evaluate.evaluate` of each split's frames, defect atoms from
    their ``defect`` array, written to ``out/evaluation_<split>``."""
    return {split: evaluate(potentials, frames, defect="defect",
                            output=out / f"evaluation_{split}")
            for split, frames in splits.items()}

"""Benchmark: one training epoch with forces, 800 structures x 63 atoms (the paper's 50,400
training points), 26-30-30-1 sigmoid, batch 32, Adam; float64 and float32; and with the
stress term (float64: what training on stress adds to an epoch).

Both shuffle modes: "structures" (new random batches every epoch: a gather per batch) and
"batches" (random batches drawn once, shuffled in order: views, no copy).
In the same run, the floor: the same arithmetic in bare torch on pre-cut, contiguous batches
(one matmul chain per batch, autograd dE/dx, einsum + index_add over the sparse dx/dr,
backward, step), with none of gdfnn's per-epoch shuffling, gathering or per-element selection.

    python -m benchmarks.train [--quick] [--device cuda]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import print_table, set_threads, si_vacancy_cell
from gdfnn.config import TrainingConfig
from gdfnn.data.store import FEATURES, SPECIES, FeatureStore, write_store
from gdfnn.data.structure import Structure
from gdfnn.descriptors import SymmetryFunctions
from gdfnn.model.network import AtomicEnergies
from gdfnn.model.scaling import fit_transforms
from gdfnn.training.batches import TrainingSet
from gdfnn.training.trainer import Trainer, TrainOptions

BATCH = 32


def make_sets(n_frames: int, directory: Path
              ) -> tuple[TrainingSet, TrainingSet, SymmetryFunctions]:
    """The training set without and with its stress labels (eV/Å^3), and the descriptor."""
    rng = np.random.default_rng(0)
    frames = []
    for k in range(n_frames):
        atoms = si_vacancy_cell(seed=k, amplitude=float(rng.uniform(0.03, 0.2)))
        frames.append(Structure(atoms, -5.4 * 63 + rng.normal(), rng.normal(0, 1, (63, 3)),
                                rng.normal(0, 0.01, 6), source="bench", index=k))
    sf = SymmetryFunctions.default(["Si"])
    write_store(directory / "f.h5", frames, sf, progress=False)
    data = FeatureStore(directory / "f.h5").load()
    transforms = fit_transforms(data.arrays[FEATURES], data.arrays[SPECIES], sf.n_features,
                                sf.elements)
    return (TrainingSet(data, transforms, sf.elements),
            TrainingSet(data, transforms, sf.elements, with_stress=True), sf)


def seconds_per_epoch(epoch, epochs: int, device: torch.device) -> float:
    """Mean wall time of ``epoch()`` after one warm-up call (the device synchronised)."""
    epoch()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(epochs):
        epoch()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / epochs


def ours(data: TrainingSet, sf, dtype, epochs: int, shuffle: str, device: torch.device,
         stress_coeff: float = 0.0) -> float:
    config = TrainOptions.from_mapping(TrainingConfig(
        epochs=epochs, batch_size=BATCH, scheduler="none", shuffle=shuffle,
        stress_coeff=stress_coeff).model_dump())
    torch.manual_seed(0)
    model = AtomicEnergies(sf.elements, sf.n_features, [30, 30], "sigmoid").to(device, dtype)
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(model, data, None, config, Path(out), progress=False,
                          use_stress=stress_coeff > 0)
        return seconds_per_epoch(trainer.train_epoch, epochs, device)


def floor(data: TrainingSet, dtype, epochs: int, device: torch.device) -> float:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(26, 30), torch.nn.Sigmoid(), torch.nn.Linear(30, 30),
                              torch.nn.Sigmoid(), torch.nn.Linear(30, 1)).to(device, dtype)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    batches = [data.batch(torch.arange(s, min(s + BATCH, data.n_structures), device=device))
               for s in range(0, data.n_structures, BATCH)]

    def epoch():
        for b in batches:
            x = b.x.requires_grad_(True)
            atomic = net(x).squeeze(-1)
            energy = torch.zeros(b.n_atoms.numel(), dtype=dtype, device=device).index_add(
                0, b.structure, atomic)
            (g,) = torch.autograd.grad(atomic.sum(), x, create_graph=True)
            f = -torch.zeros(x.shape[0], 3, dtype=dtype, device=device).index_add(
                0, b.pairs[:, 1], torch.einsum("pd,pdx->px", g[b.pairs[:, 0]], b.dx))
            loss = (((b.energy - energy) / b.n_atoms) ** 2).mean() + 0.1 / (3 * x.shape[0]) * (
                (b.forces - f) ** 2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return seconds_per_epoch(epoch, epochs, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 structures, 2 epochs")
    parser.add_argument("--device", default="cpu", help="cpu (2 threads) or cuda")
    args = parser.parse_args()
    device = torch.device(args.device)
    n, epochs = (200, 2) if args.quick else (800, 5)
    set_threads(2)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base, with_stress, sf = make_sets(n, Path(tmp))
        for dtype in (torch.float64, torch.float32):
            data_d = base.to(device=device, dtype=dtype)
            t_floor = floor(data_d, dtype, epochs, device)
            name = str(dtype).replace("torch.", "")
            for shuffle in ("structures", "batches"):
                t_ours = ours(data_d, sf, dtype, epochs, shuffle, device)
                rows.append([n, name, shuffle, "", f"{t_ours:.3f}", f"{t_floor:.3f}",
                             f"{t_ours / t_floor:.2f}", f"{n / t_ours:,.0f}"])
        data_s = with_stress.to(device=device, dtype=torch.float64)
        t_stress = ours(data_s, sf, torch.float64, epochs, "structures", device, stress_coeff=10.0)
        rows.append([n, "float64", "structures", "yes", f"{t_stress:.3f}", rows[0][5],
                     f"{t_stress / float(rows[0][5]):.2f}", f"{n / t_stress:,.0f}"])
    print_table(["structures", "dtype", "shuffle", "stress", "ours s/epoch", "floor s/epoch",
                 "ours/floor", "structures/s"], rows)


if __name__ == "__main__":
    main()

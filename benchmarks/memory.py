"""Benchmark: memory and epoch time of ``gdfnn train`` as the training set grows.

The packaged mlearn Si training set (214 frames, 13,233 atoms) repeated R times, featurised
once per size into one store (``gdfnn featurize``, its peak memory measured too), then trained
(30-30 network, default settings and threads, ``--epochs`` epochs) in memory and
streamed from the store (``training.memory_limit_gb`` set to a quarter of what the sets need,
so the run plans its own chunks, as on a machine with less memory), each in its own process:
peak RSS (the kernel's ru_maxrss of the child), seconds per epoch after the first (the
learning curve's ``seconds``), the store's size and bytes per atom, and the peak RSS per atom
against the store's bytes per atom (the reference: the arrays on disk).

    python -m benchmarks.memory [--repeats 5 20] [--epochs 3] [--modes memory streamed]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import ase.io
import numpy as np
import torch
import yaml

from benchmarks.common import print_table
from gdfnn import datasets
from gdfnn.data.store import FeatureStore
from gdfnn.workflows.memory import MEMORY_SHARE, peak_bytes


def write_data(repeats: int, directory: Path) -> Path:
    frames = ase.io.read(datasets.path("mlearn-si", "train"), ":")
    path = directory / f"si_x{repeats}.xyz"
    ase.io.write(path, frames * repeats)
    return path


def run_child(args: list[str], log: Path) -> int:
    """Run ``python -m gdfnn ARGS`` (output into ``log``); its peak RSS (bytes)."""
    with open(log, "w") as out:
        child = subprocess.Popen([sys.executable, "-m", "gdfnn", *args], stdout=out,
                                 stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed (exit {os.waitstatus_to_exitcode(status)}):"
                         f"\n{log.read_text()[-2000:]}")
    return usage.ru_maxrss * 1024


def config(directory: Path, data: Path, store: Path, epochs: int, **training) -> Path:
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump({
        "data": {"train": [str(data)], "valid_rate": 0.1},
        "descriptor": {"store": str(store)},
        "model": {"hidden": [30, 30]},
        "training": {"epochs": epochs, "valid_every": 1, **training},
        "output": {"directory": str(directory), "progress": False, "plots": False,
                   "properties": False}}))
    return path


def seconds_per_epoch(directory: Path) -> float:
    rows = list(csv.DictReader(open(directory / "learning_curve.csv")))
    return float(np.mean([float(r["seconds"]) for r in rows[1:]] or [float(rows[0]["seconds"])]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--modes", nargs="+", default=["memory", "streamed"],
                        choices=["memory", "streamed"])
    parser.add_argument("--work", default=None, help="folder for data and stores (default: a "
                        "temporary one, removed at the end)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        rows = []
        for repeats in args.repeats:
            data = write_data(repeats, work)
            store = work / f"store_x{repeats}.h5"
            folder = work / f"featurize_x{repeats}"
            folder.mkdir()
            rss = run_child(["featurize", str(config(folder, data, store, args.epochs))],
                            folder / "log.txt")
            opened = FeatureStore(store)
            atoms, size = int(opened.atom_offset[-1]), store.stat().st_size
            rows.append([f"{atoms:,}", "featurise", "-", f"{size / 1e9:.2f}",
                         f"{size / atoms / 1e3:.1f}", f"{rss / 1e9:.2f}",
                         f"{rss / size:.2f}", "-"])
            need = peak_bytes(opened, np.arange(opened.n_structures), torch.float64, False)
            for mode in args.modes:
                folder = work / f"{mode}_x{repeats}"
                folder.mkdir()
                extra = {} if mode == "memory" else {"memory_limit_gb": need / 4 / MEMORY_SHARE / 1e9}
                rss = run_child(["train", str(config(folder, data, store, args.epochs,
                                                     **extra))], folder / "log.txt")
                chunk = next((line.split("chunks of ")[1].split()[0]
                              for line in (folder / "log.txt").read_text().splitlines()
                              if "chunks of" in line), "-")
                rows.append([f"{atoms:,}", mode, chunk, f"{size / 1e9:.2f}",
                             f"{size / atoms / 1e3:.1f}", f"{rss / 1e9:.2f}",
                             f"{rss / size:.2f}", f"{seconds_per_epoch(folder):.2f}"])
    print(f"\ngdfnn train, mlearn Si repeated, 30-30 network, float64, {args.epochs} epochs "
          f"(validation every epoch), {torch.get_num_threads()} threads:")
    print_table(["atoms", "mode", "chunk (structures)", "store GB", "store kB/atom",
                 "peak RSS GB", "peak RSS / store", "s/epoch"], rows)


if __name__ == "__main__":
    main()

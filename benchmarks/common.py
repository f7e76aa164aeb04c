"""Helpers shared by the benchmarks: structures like the paper's, timing, table printing."""

from __future__ import annotations

import time
from collections.abc import Callable

import numba
import torch
from ase.build import bulk


def si_vacancy_cell(seed: int = 0, amplitude: float = 0.1):
    """63-atom diamond Si (2x2x2 conventional cells) with one vacancy, rattled by ~0.1 Å."""
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * (2, 2, 2)
    del atoms[0]
    atoms.rattle(amplitude, seed=seed)
    return atoms


def si_cell_512(seed: int = 0, amplitude: float = 0.1):
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * (4, 4, 4)
    atoms.rattle(amplitude, seed=seed)
    return atoms


def set_threads(n: int) -> None:
    torch.set_num_threads(n)
    numba.set_num_threads(n)


def best_time(run: Callable[[], object], repeats: int = 5, min_time: float = 0.2) -> float:
    """Median over ``repeats`` of the time of one call (s); each sample loops >= min_time."""
    run()  # warm-up (compilation, caches)
    samples = []
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            run()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        samples.append(elapsed / calls)
    samples.sort()
    return samples[len(samples) // 2]


def print_table(headers: list[str], rows: list[list]) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))


def with_signal(potential, signal: str):
    """The same potential whose coverage verdict reads ``signal`` (``"rho"``: against the
    floor, by the cluster search; ``"llpr"``: the rigidity against the ceiling)."""
    import copy

    new = copy.copy(potential)
    record = copy.deepcopy(potential.metadata["coverage"])
    for c in record["elements"].values():
        c["signal"] = signal
    new.metadata = {**potential.metadata, "coverage": record}
    return new

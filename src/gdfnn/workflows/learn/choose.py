"""Select: which candidate frames of a round to label, by one of three strategies on the
same pool: ``coverage`` (the frames that add the most GDF coverage to the training atoms,
``gdfnn select``'s greedy), ``ensemble`` (DP-GEN's model deviation: frames whose largest
atomic force deviation among ``models`` potentials lies in [trust_lo, trust_hi) eV/Å, taken
at random) and ``random``."""

from __future__ import annotations

from dataclasses import dataclass

import ase
import numpy as np

from gdfnn.data.structure import Structure
from gdfnn.model.potential import Potential
from gdfnn.workflows.selection import select


@dataclass(frozen=True)
class Choice:
    """The chosen frames (indices into the pool, in pick order) and, for the ensemble
    strategy, every pool frame's force deviation (eV/Å; else None)."""

    picks: list[int]
    deviation: np.ndarray | None = None


def force_deviation(models: list[Potential], frames: list[ase.Atoms]) -> np.ndarray:
    """``(len(frames),)`` the largest over atoms of sqrt(mean_m |F_m - mean F|^2), eV/Å
    (DP-GEN's ``max_devi_f``)."""
    forces = [[p["forces"] for p in model.predict_many(frames)] for model in models]
    out = np.empty(len(frames))
    for k in range(len(frames)):
        stacked = np.stack([f[k] for f in forces])
        out[k] = np.sqrt(((stacked - stacked.mean(0)) ** 2).sum(2).mean(0)).max()
    return out


def choose(strategy: str, pool: list[ase.Atoms], k: int, models: list[Potential],
           rng: np.random.Generator, trust: tuple[float, float] = (0.05, 0.15)) -> Choice:
    """Up to ``k`` frames of ``pool``; ``models[0]`` is the round's potential (coverage is
    measured against its training atoms), all of them the ensemble; ``rng`` draws the
    random picks."""
    if not pool:
        return Choice([])
    if strategy == "coverage":
        picks = select(models[0], [Structure(a) for a in pool], min(k, len(pool)))
        return Choice([p.frame for p in picks])
    if strategy == "random":
        return Choice(rng.choice(len(pool), min(k, len(pool)), replace=False).tolist())
    deviation = force_deviation(models, pool)
    inside = np.flatnonzero((deviation >= trust[0]) & (deviation < trust[1]))
    return Choice(rng.choice(inside, min(k, len(inside)), replace=False).tolist(), deviation)

"""Vacancy migration barrier by climbing-image NEB (ASE), for any calculator factory."""

from __future__ import annotations

from collections.abc import Callable

import ase
import numpy as np
from ase.mep import NEB
from ase.optimize import BFGS, FIRE

from gdfnn.experiments.sampling import diamond_si


def vacancy_endpoints(a: float) -> tuple[ase.Atoms, ase.Atoms]:
    """64-atom diamond Si without atom 0 (initial) and with its bonded neighbour moved into
    the empty site (final): the vacancy hops by one bond."""
    perfect = diamond_si(2, a)
    initial = perfect.copy()
    del initial[0]
    final = initial.copy()
    final.positions[0] = perfect.positions[0]  # atom 1 of the perfect cell, now index 0
    return initial, final


def migration_barrier(make_calculator: Callable[[], object], a: float, *, images: int = 5,
                      fmax: float = 0.03, steps: int = 400) -> dict:
    """Relax both end points, start the band from an IDPP interpolation, run a
    climbing-image NEB; energies in eV relative to the relaxed initial state.

    Returns the barrier (highest image), the lowest image (below 0 when an intermediate is
    more stable than the simple vacancy, as the split vacancy is for Stillinger-Weber), the
    end-point difference (0 by symmetry: a check), the image energies and convergence.
    """
    initial, final = vacancy_endpoints(a)
    for end in (initial, final):
        # the ideal vacancy is a symmetric stationary point with zero forces, not a minimum:
        # a small, seeded displacement lets the relaxation find the distorted ground state
        end.rattle(0.03, seed=7)
        end.calc = make_calculator()
        BFGS(end, logfile=None).run(fmax=fmax / 3, steps=steps)
    path = [initial] + [initial.copy() for _ in range(images)] + [final]
    for image in path[1:-1]:
        image.calc = make_calculator()
    neb = NEB(path, climb=True, method="improvedtangent")
    neb.interpolate(method="idpp", mic=True)
    converged = bool(FIRE(neb, logfile=None).run(fmax=fmax, steps=steps))
    energies = np.array([image.get_potential_energy() for image in path])
    energies -= energies[0]
    return {"barrier_eV": float(energies.max()), "lowest_image_eV": float(energies.min()),
            "end_point_difference_eV": float(energies[-1]),
            "image_energies_eV": energies.tolist(), "converged": converged}

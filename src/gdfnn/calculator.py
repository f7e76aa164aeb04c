"""ASE calculator for gdfnn potentials: energy, free_energy, forces, stress, energies."""

from __future__ import annotations

import os
from typing import ClassVar

import numpy as np
import torch
from ase.calculators.calculator import (
    Calculator,
    CalculatorError,
    CalculatorSetupError,
    all_changes,
)

from gdfnn.errors import GdfnnError
from gdfnn.export.formats import load_potential
from gdfnn.model.potential import Potential
from gdfnn.neighbors import NeighborCache


class PotentialSetupError(CalculatorSetupError, GdfnnError):
    """The calculator cannot be built: unreadable potential, unknown device."""


#: The coverage results (see :meth:`Potential.predict`), computed when asked for.
COVERAGE = ("rho", "outside", "uncovered", "min_rho", "n_uncovered", "force_error",
            "max_force_error")


class PotentialInputError(CalculatorError, GdfnnError):
    """The atoms cannot be evaluated: an element the potential does not know."""


class NNPCalculator(Calculator):
    """Energies in eV, forces in eV/Å, stress in eV/Å^3 (ASE sign; 3-D periodic cells only),
    per-atom ``energies`` in eV. Runs in the potential's dtype (float64 by default) where the
    potential lives (CPU or CUDA). Neighbour lists are reused between calls while atoms move
    less than ``skin / 2``. With ``coverage``, also per-atom ``rho`` (GDF against the
    training atoms, at the coverage width), ``outside`` (functions outside the training
    range), ``uncovered`` (outside the training data by the coverage verdict: rigidity above
    the ceiling, or rho below the floor for older potentials),
    ``force_error`` (the expected force error |F - F_ref|, eV/Å, calibrated on validation
    atoms; NaN for potentials without the calibration) and the structure's ``min_rho``,
    ``n_uncovered`` and ``max_force_error`` every call.

    Args:
        potential: a :class:`Potential`, or the path of any file :func:`gdfnn.load_potential`
            reads.
        skin: Verlet skin (Å) of the reused neighbour list; 0 rebuilds every call.
        device: move the potential there (``"cuda"``) first.
        coverage: compute ``rho``, ``outside`` and ``uncovered`` with every call (else only
            when asked); ``"check"``: decide ``uncovered`` at a fraction of the cost (the
            rigidity against its ceiling, or for older potentials the cluster search carried
            from call to call per atom), with ``rho`` for the uncovered atoms only (NaN
            elsewhere).

    Raises:
        PotentialSetupError: (an ASE ``CalculatorSetupError``) for a potential that cannot be
            read or a device that does not exist.
    """

    implemented_properties: ClassVar[list[str]] = ["energy", "free_energy", "forces", "stress",
                                                   "energies", "rho", "outside", "uncovered",
                                                   "min_rho", "n_uncovered", "force_error",
                                                   "max_force_error"]

    def __init__(self, potential: Potential | str | os.PathLike, skin: float = 0.5,
                 device: str | None = None, coverage: bool | str = False, **kwargs):
        super().__init__(**kwargs)
        try:
            if not isinstance(potential, Potential):
                potential = load_potential(potential)
            if device is not None:
                potential.to(torch.device(device))
        except (GdfnnError, RuntimeError) as exc:
            raise PotentialSetupError(str(exc).splitlines()[0]) from None
        if skin < 0:
            raise PotentialSetupError(f"skin must be >= 0 Å, got {skin}")
        if coverage not in (False, True, "check"):
            raise PotentialSetupError(f"coverage must be True, False or 'check', not "
                                      f"{coverage!r}")
        self.potential, self.coverage = potential, coverage
        self.neighbors = NeighborCache(potential.descriptor.cutoff, skin)
        self._hints = np.zeros(0, dtype=np.int64)  # per atom: its covering cluster (check)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        unknown = sorted(set(self.atoms.get_chemical_symbols()) - set(self.potential.elements))
        if unknown:
            raise PotentialInputError(f"element(s) {', '.join(unknown)} not in the potential's "
                                      f"elements [{', '.join(self.potential.elements)}]")
        coverage = self.coverage or bool(set(COVERAGE) & set(properties))
        if len(self._hints) != len(self.atoms):
            self._hints = np.full(len(self.atoms), -1, dtype=np.int64)
        out = self.potential.predict(self.atoms, neighbors=self.neighbors(self.atoms),
                                     coverage=coverage, hints=self._hints)
        self.results = {"energy": out["energy"], "free_energy": out["energy"],
                        "forces": out["forces"], "energies": out["energies"]}
        for key in ("stress", *COVERAGE):
            if key in out:
                self.results[key] = out[key]

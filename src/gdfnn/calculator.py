"""ASE calculator for gdfnn potentials: energy, free_energy, forces, stress, energies."""

from __future__ import annotations

from typing import ClassVar

from ase.calculators.calculator import Calculator, all_changes

from gdfnn.descriptors.neighbors import NeighborCache
from gdfnn.model.potential import Potential


class NNPCalculator(Calculator):
    """Energies in eV, forces in eV/Å, stress in eV/Å^3 (ASE sign; 3-D periodic cells only),
    per-atom ``energies`` in eV. float64 by default; runs where the potential lives (CPU or
    CUDA). Neighbour lists are reused between calls while atoms move less than ``skin / 2``.

    Args:
        potential: a :class:`Potential` or the path of a ``potential.pt``.
        skin: Verlet skin (Å) of the reused neighbour list; 0 rebuilds every call.
        device: move the potential there (``"cuda"``) first.
    """

    implemented_properties: ClassVar[list[str]] = ["energy", "free_energy", "forces", "stress",
                                                   "energies"]

    def __init__(self, potential: Potential | str, skin: float = 0.5, device: str | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.potential = Potential.load(potential) if isinstance(potential, str) else potential
        if device is not None:
            self.potential.to(device)
        self.neighbors = NeighborCache(self.potential.descriptor.cutoff, skin)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        out = self.potential.predict(self.atoms, neighbors=self.neighbors(self.atoms))
        self.results = {"energy": out["energy"], "free_energy": out["energy"],
                        "forces": out["forces"], "energies": out["energies"]}
        if "stress" in out:
            self.results["stress"] = out["stress"]

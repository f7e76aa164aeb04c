"""The trained potential: descriptor, scaling/PCA and networks in one self-contained object.

The file ``potential.pt`` holds only tensors and plain values (``torch.load(...,
weights_only=True)`` reads it): format version, element list, symmetry-function parameters,
per-element transforms, network shapes, activation and weights, and a digest of the training
configuration.
"""

from __future__ import annotations

import os
from pathlib import Path

import ase
import numpy as np
import torch

from gdfnn.descriptors import SymmetryFunctions
from gdfnn.errors import InputError
from gdfnn.model.network import AtomicEnergies
from gdfnn.model.scaling import ElementTransform, transform_features

FORMAT_VERSION = 1
VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


class Potential:
    """A Behler-Parrinello potential: energies (eV), forces (eV/Å), stress (eV/Å^3).

    Args:
        descriptor: the symmetry functions.
        transforms: per element, the feature transform fitted on the training set.
        model: the per-element networks.
        metadata: plain values kept in the file (e.g. the training-config digest).
    """

    def __init__(self, descriptor: SymmetryFunctions, transforms: dict[str, ElementTransform],
                 model: AtomicEnergies, metadata: dict | None = None):
        self.descriptor = descriptor
        self.transforms = transforms
        self.model = model
        self.metadata = dict(metadata or {})
        self.elements = descriptor.elements

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # ----- files ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "elements": list(self.elements),
            "descriptor": self.descriptor.to_dict(),
            "transforms": {e: {k: v.detach().cpu() for k, v in t.to_dict().items()}
                           for e, t in self.transforms.items()},
            "hidden": list(self.model.hidden),
            "activation": self.model.activation,
            "weights": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Potential:
        if data.get("format_version") != FORMAT_VERSION:
            raise InputError(f"potential format {data.get('format_version')} is not "
                             f"{FORMAT_VERSION}")
        sf = SymmetryFunctions.from_dict(data["descriptor"])
        model = AtomicEnergies(sf.elements, sf.n_features, data["hidden"], data["activation"])
        weights = data["weights"]
        model.to(next(iter(weights.values())).dtype)
        model.load_state_dict(weights)
        transforms = {e: ElementTransform.from_dict(t) for e, t in data["transforms"].items()}
        return cls(sf, transforms, model, data.get("metadata"))

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``potential.pt`` atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        torch.save(self.to_dict(), tmp)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, device: torch.device | str = "cpu") -> Potential:
        """Read a potential file (``weights_only``: no code is unpickled)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such potential file")
        try:
            data = torch.load(path, map_location=device, weights_only=True)
        except Exception as exc:
            raise InputError(f"{path}: not a gdfnn potential ({exc})") from None
        return cls.from_dict(data).to(device)

    @classmethod
    def from_n2p2(cls, directory: str | os.PathLike, *, length_unit: float | str = 1.0,
                  energy_unit: float | str = 1.0) -> Potential:
        """Import an n2p2 potential (``input.nn``, ``scaling.data``, ``weights.NNN.data``)
        trained in ``length_unit``/``energy_unit`` (e.g. ``"bohr"``, ``"hartree"``)."""
        from gdfnn.export.n2p2 import read_n2p2_potential

        return read_n2p2_potential(directory, length_unit=length_unit, energy_unit=energy_unit)

    @classmethod
    def from_simple_nn(cls, path: str | os.PathLike) -> Potential:
        """Import a SIMPLE-NN ``potential_saved`` file."""
        from gdfnn.export.simple_nn import read_simple_nn_potential

        return read_simple_nn_potential(path)

    def to(self, device: torch.device | str) -> Potential:
        self.model.to(device)
        self.transforms = {e: ElementTransform(*(None if v is None else v.to(device) for v in (
            t.shift, t.scale, t.pca_mean, t.pca_matrix))) for e, t in self.transforms.items()}
        return self

    # ----- evaluation -----------------------------------------------------------------
    def network_inputs(self, features: torch.Tensor, species: torch.Tensor
                       ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Transformed features ``(N, D)`` and per-species transform matrices."""
        matrices = {n: self.transforms[e].matrix.to(features.dtype)
                    for n, e in enumerate(self.elements)}
        return transform_features(features, species, self.transforms, self.elements), matrices

    def predict(self, atoms: ase.Atoms, *, stress: bool | None = None,
                neighbors=None) -> dict[str, np.ndarray]:
        """Energy (eV), forces ``(n, 3)`` eV/Å, per-atom energies ``(n,)`` eV and, for 3-D
        periodic cells (or ``stress=True``), stress ``(6,)`` eV/Å^3 (Voigt, ASE sign).
        ``neighbors``: a precomputed neighbour list (see :class:`NeighborCache`)."""
        block = self.descriptor.compute(atoms, derivatives=True, dtype=self.dtype,
                                        device=self.device, neighbors=neighbors)
        want_stress = atoms.pbc.all() if stress is None else stress
        return self.evaluate_block(block, len(atoms), atoms.get_volume() if want_stress else None)

    def predict_many(self, frames: list[ase.Atoms], *, progress: bool = False
                     ) -> list[dict[str, np.ndarray]]:
        """:meth:`predict` for many frames, featurised together in batches."""
        blocks = self.descriptor.compute_many(frames, derivatives=True, dtype=self.dtype,
                                              device=self.device, progress=progress)
        return [self.evaluate_block(b, len(a), a.get_volume() if a.pbc.all() else None)
                for a, b in zip(frames, blocks, strict=True)]

    def calculator(self, **kwargs):
        """An ASE calculator (:class:`gdfnn.calculator.NNPCalculator`) for this potential."""
        from gdfnn.calculator import NNPCalculator

        return NNPCalculator(self, **kwargs)

    def evaluate_block(self, block, n_atoms: int, volume: float | None) -> dict[str, np.ndarray]:
        """Energies, forces and stress from a :class:`FeatureBlock` with derivatives."""
        x, matrices = self.network_inputs(block.values, block.species)
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            energies = self.model(x, block.species)
            (de_dx,) = torch.autograd.grad(energies.sum(), x)
        de_dg = torch.zeros_like(de_dx)
        for n, matrix in matrices.items():
            rows = block.species == n
            d = matrix.shape[0]
            de_dg[rows, :d] = de_dx[rows, :d] @ matrix.T
        centre, neighbour = block.pairs[:, 0], block.pairs[:, 1]
        per_pair = torch.einsum("pd,pdx->px", de_dg[centre], block.dG)
        forces = -torch.zeros(n_atoms, 3, dtype=x.dtype, device=x.device).index_add_(
            0, neighbour, per_pair)
        out = {"energy": energies.sum().item(), "energies": energies.detach().cpu().numpy(),
               "forces": forces.detach().cpu().numpy()}
        if volume is not None:
            dedeps = torch.einsum("nd,ndab->ab", de_dg, block.virial)
            sigma = 0.5 * (dedeps + dedeps.T) / volume
            out["stress"] = np.array([float(sigma[a, b]) for a, b in VOIGT])
        return out

"""The trained potential: descriptor, feature transforms and networks in one ``nn.Module``.

The file ``potential.pt`` holds only tensors and plain values (``torch.load(...,
weights_only=True)`` reads it): format version, element list, symmetry-function parameters,
network shapes and activation, the module's ``state_dict`` (transforms and networks),
metadata (training-config digest, GDF and coverage settings) and, when stored, the GDF
reference: the scaled training features of each element, against which the GDF of new atoms
is computed.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import ase
import numpy as np
import torch
from torch import nn

from gdfnn.descriptors import FeatureBlock, SymmetryFunctions
from gdfnn.errors import InputError
from gdfnn.fileio import atomic_save
from gdfnn.gdf.coverage import (
    LEGACY,
    LLPR,
    RHO,
    ElementCoverage,
    allowed_below,
    read_coverage_metadata,
)
from gdfnn.gdf.density import DEFAULT_SIGMA
from gdfnn.gdf.reference import DensityReference, legacy_floor
from gdfnn.model.network import AtomicEnergies
from gdfnn.model.outputs import Prediction, atomistic_outputs
from gdfnn.model.rigidity import last_hidden, read_rigidity_metadata, rigidity
from gdfnn.model.scaling import ElementTransform, transform_features
from gdfnn.neighbors import Neighbors

log = logging.getLogger("gdfnn")

#: Version of the file layout written by :meth:`Potential.save`; 1 is still read.
FORMAT_VERSION = 2

# keys of the potential file
FORMAT = "format_version"  # int
ELEMENTS = "elements"  # list[str], the species index order
DESCRIPTOR = "descriptor"  # SymmetryFunctions.to_dict()
HIDDEN = "hidden"  # list[int], hidden widths of every element's network
ACTIVATION = "activation"  # str, see model.network.ACTIVATIONS
STATE = "state_dict"  # {name: tensor}: transforms.<element>.*, networks.nets.<element>.*
METADATA = "metadata"  # plain values: config, GDF settings, source of an import
GDF_REFERENCE = "gdf_reference"  # {element: (M_e, D_e) float64} scaled training features
# present only for a compressed reference (cluster centroids instead of every atom):
GDF_REFERENCE_COUNTS = "gdf_reference_counts"  # {element: (M_e,)} members of each centroid
GDF_REFERENCE_RANGE = "gdf_reference_range"  # {element: (2, D_e)} min, max of the members
# written by gdfnn train before coverage had its own width and floor (now in
# metadata["coverage"], see gdfnn.gdf.coverage): {element: float}, rho of the least covered
# training atom at the weighting sigma, its own kernel term included; read from older files
GDF_REFERENCE_FLOOR = "gdf_reference_floor"


class Potential(nn.Module):
    """A Behler-Parrinello potential: energies (eV), forces (eV/Å), stress (eV/Å^3).

    ``forward(features, species)`` maps raw symmetry functions ``(N, D)`` to atomic energies
    ``(N,)`` eV. ``.to(device)`` / ``.to(torch.float32)`` move and cast transforms and
    networks together; inference runs in the dtype of the networks.

    Args:
        descriptor: the symmetry functions.
        transforms: per element, the feature transform fitted on the training set.
        networks: the per-element networks.
        metadata: plain values kept in the file (training-config digest, GDF settings).
        gdf_reference: per element, the scaled pre-PCA training features ``(M_e, D_e)``
            (kept on the CPU in float64; not moved by ``.to``), or the centroids of a
            compressed reference (see :func:`gdfnn.gdf.reference.compress_reference`).
        gdf_reference_counts, gdf_reference_range: of a compressed reference, per element,
            the members of each centroid ``(M_e,)`` and the members' min and max ``(2, D_e)``.
        gdf_reference_floor: of files written before coverage had its own width and floor
            (:data:`~gdfnn.gdf.coverage.LEGACY`), per element, their floor.
    """

    def __init__(self, descriptor: SymmetryFunctions, transforms: dict[str, ElementTransform],
                 networks: AtomicEnergies, metadata: dict | None = None,
                 gdf_reference: dict[str, torch.Tensor] | None = None,
                 gdf_reference_counts: dict[str, torch.Tensor] | None = None,
                 gdf_reference_range: dict[str, torch.Tensor] | None = None,
                 gdf_reference_floor: dict[str, float] | None = None):
        super().__init__()
        self.descriptor = descriptor
        self.transforms = nn.ModuleDict(transforms)
        self.networks = networks
        self.metadata = dict(metadata or {})
        self.gdf_reference = dict(gdf_reference or {})
        self.gdf_reference_counts = dict(gdf_reference_counts or {})
        self.gdf_reference_range = dict(gdf_reference_range or {})
        self.gdf_reference_floor = dict(gdf_reference_floor or {})
        # (element, sigma) -> (points, counts, prepared reference)
        self._density_references: dict[tuple[str, float], tuple] = {}
        # (metadata["rigidity"] record, each element's C^-1 read from it)
        self._rigidity: tuple[object, dict[str, torch.Tensor]] = (None, {})
        # (metadata["coverage"] record, what it reads as: MD asks every check)
        self._coverage: tuple[object, dict[str, ElementCoverage] | None] = (None, None)

    @property
    def elements(self) -> list[str]:
        return self.descriptor.elements

    @property
    def dtype(self) -> torch.dtype:
        return next(self.networks.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.networks.parameters()).device

    def network_inputs(self, features: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        """Transformed features ``(N, D)`` (scaling, PCA) of raw features ``(N, D)``."""
        return transform_features(features, species, self.transforms, self.elements)

    def forward(self, features: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        """Atomic energies ``(N,)`` eV of raw symmetry functions ``(N, D)``."""
        return self.networks(self.network_inputs(features, species), species)

    # ----- coverage: the GDF of new atoms against the training atoms ---------------------
    def gdf_sigma(self, element: str, sigma: float | None = None) -> float:
        """The GDF width of the loss weighting of ``element``: ``sigma`` when given, else the
        one the potential was trained with (its metadata), else the default."""
        if sigma is not None:
            return sigma
        return self.metadata.get("gdf", {}).get("sigma", {}).get(element, DEFAULT_SIGMA)

    def coverage_of(self, element: str) -> ElementCoverage:
        """The coverage width, floor and error map of ``element`` (see
        :mod:`gdfnn.gdf.coverage`); for a file written before them, the old kind
        (:data:`~gdfnn.gdf.coverage.LEGACY`: the weighting sigma and the least covered
        training atom, its own kernel term included; without a reference: no floor, NaN).
        The record is read once, again when ``metadata["coverage"]`` is replaced."""
        stored = self._stored_coverage()
        if stored is not None and element in stored:
            return stored[element]
        sigma = self.gdf_sigma(element)
        floor = self.gdf_reference_floor.get(element)
        if element not in self.gdf_reference:
            return ElementCoverage(sigma, math.nan, LEGACY, quantile=0.0)
        if floor is None:
            floor = legacy_floor(DensityReference(self.gdf_reference[element], sigma,
                                                  counts=self.gdf_reference_counts.get(element)))
            self.gdf_reference_floor[element] = floor
        return ElementCoverage(sigma, floor, LEGACY, quantile=0.0)

    def allowed_uncovered(self, symbols: Sequence[str]) -> int:
        """How many atoms of a frame of ``symbols`` may lie below their coverage floor before
        the frame counts as outside the training data (:func:`~gdfnn.gdf.coverage.allowed_below`
        at the largest ``quantile`` of its covered elements; 0 for the legacy kind)."""
        quantile = max((self.coverage_of(e).quantile for e in set(symbols)
                        if e in self.gdf_reference), default=0.0)
        return allowed_below(len(symbols), quantile)

    @property
    def legacy_coverage(self) -> bool:
        """Whether the potential carries a GDF reference with coverage of the old kind."""
        return bool(self.gdf_reference) and self._stored_coverage() is None

    def _stored_coverage(self) -> dict[str, ElementCoverage] | None:
        record = self.metadata.get("coverage")
        if self._coverage[0] is not record or record is None:
            self._coverage = (record, read_coverage_metadata(self.metadata))
        return self._coverage[1]

    def coverage(self, features: torch.Tensor, species: torch.Tensor,
                 sigma: float | None = None, *, outside_only: bool = False
                 ) -> tuple[np.ndarray, np.ndarray]:
        """GDF rho of each atom against the training atoms of its element (eq. 2 on the same
        scaled features as in training, at the coverage width unless ``sigma`` is given) and
        the number of its functions outside the training range (n2p2's extrapolation test),
        from raw features ``(N, D)``.

        Returns ``(rho (N,), outside (N,))``; rho is NaN for elements without a stored
        reference (imported potentials carry none)."""
        features = features.detach().cpu().double()
        species = species.cpu()
        rho = np.full(species.numel(), np.nan)
        outside = np.zeros(species.numel(), dtype=np.int64)
        for n, element in enumerate(self.elements):
            mine = species == n
            if not mine.any() or element not in self.gdf_reference:
                continue
            reference = self.density_reference(element, sigma)
            x = self.transforms[element].scaled(features[mine][:, : reference.n_features])
            if not outside_only:
                rho[mine.numpy()] = reference.rho(x).numpy()
            outside[mine.numpy()] = reference.outside(x).numpy()
        return rho, outside

    def coverage_check(self, features: torch.Tensor, species: torch.Tensor,
                       hints: np.ndarray | None = None, rigidity: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
        """``(uncovered (N,), rho (N,))`` from raw features ``(N, D)``: which atoms lie
        outside the training data (:meth:`uncovered`), and the rho of those atoms (NaN for
        the others). Where the verdict reads the last-layer ``rigidity (N,)`` (given, or
        computed), it is one comparison per atom; where it reads rho, decided exactly by the
        cluster search (:meth:`gdfnn.gdf.reference.DensityReference.below`: a few dozen
        reference points per typical atom). ``hints`` ``(N,)`` int64: each atom's covering
        cluster of the previous call, updated."""
        features = features.detach().cpu().double()
        species = species.cpu()
        flags = np.zeros(species.numel(), dtype=bool)
        rho = np.full(species.numel(), np.nan)
        for n, element in enumerate(self.elements):
            mine = (species == n).numpy()
            if not mine.any() or element not in self.gdf_reference:
                continue
            reference = self.density_reference(element)
            x = self.transforms[element].scaled(features[mine][:, : reference.n_features])
            coverage = self.coverage_of(element)
            if coverage.signal == LLPR:
                if rigidity is None:
                    rigidity = self.rigidity(features, species)
                below = coverage.outside(rho[mine], rigidity[mine])
            else:
                mine_hints = None if hints is None else hints[mine]
                below = reference.below(x, coverage.floor, mine_hints)
                if hints is not None:
                    hints[mine] = mine_hints
            flags[np.flatnonzero(mine)[below]] = True
            if below.any():
                rho[np.flatnonzero(mine)[below]] = reference.rho(x[torch.from_numpy(below)]
                                                                 ).numpy()
        return flags, rho

    def density_reference(self, element: str, sigma: float | None = None) -> DensityReference:
        """The stored GDF reference of ``element``, prepared for queries at ``sigma`` (default:
        the coverage width), built once per sigma and kept."""
        sigma = self.coverage_of(element).sigma if sigma is None else sigma
        points, counts = self.gdf_reference[element], self.gdf_reference_counts.get(element)
        cached = self._density_references.get((element, sigma))
        if cached is None or cached[0] is not points or cached[1] is not counts:
            low, high = self.reference_range(element)  # (rebuilt when the reference changes)
            cached = (points, counts, DensityReference(points, sigma, counts=counts, low=low,
                                                       high=high))
            self._density_references[(element, sigma)] = cached
        return cached[2]

    def reference_range(self, element: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Min and max ``(D,)`` of the scaled training features of ``element``."""
        if element in self.gdf_reference_range:
            low, high = self.gdf_reference_range[element].double()
            return low, high
        reference = self.gdf_reference[element].double()
        return reference.min(0).values, reference.max(0).values

    # ----- evaluation -----------------------------------------------------------------
    def outputs(self, block: FeatureBlock, volume: float | None = None) -> Prediction:
        """Energy, atomic energies, forces and (given the volume, Å^3) stress of one
        structure from its :class:`FeatureBlock` with derivatives, as tensors."""
        n = block.values.shape[0]
        structure = torch.zeros(n, dtype=torch.long, device=block.values.device)
        vol = None if volume is None else torch.tensor([volume], dtype=block.values.dtype,
                                                       device=block.values.device)
        return atomistic_outputs(self, block.values, block.species, structure, 1, block.pairs,
                                 block.dG, virial=block.virial, volume=vol, forces=True,
                                 stress=volume is not None)

    def predict(self, atoms: ase.Atoms, *, stress: bool | None = None,
                neighbors: Neighbors | None = None, coverage: bool | str = False,
                hints: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Energy (eV), forces ``(n, 3)`` eV/Å, per-atom energies ``(n,)`` eV and, for 3-D
        periodic cells (or ``stress=True``), stress ``(6,)`` eV/Å^3 (Voigt, ASE sign).
        ``neighbors``: a precomputed neighbour list (see :class:`gdfnn.neighbors.NeighborCache`).
        ``coverage``: also ``rho (n,)``, the GDF of each atom against the training atoms,
        ``outside (n,)``, its functions outside the training range (see :meth:`coverage`), and
        ``uncovered (n,)``, bool, the atoms outside the training data (see
        :meth:`uncovered`: rigidity above the ceiling for new potentials, rho below the floor
        for older ones), ``rigidity (n,)``, the last-layer rigidity signal
        (:meth:`rigidity`), ``force_error (n,)``, the expected force error (eV/Å, see
        :meth:`force_error`), and their summary: ``min_rho``, ``n_uncovered`` and
        ``max_force_error``. ``coverage="check"``: the same decision at a fraction of the
        cost (:meth:`coverage_check`; ``hints``, per atom, carries the cluster search of a
        rho verdict from call to call), with ``rho`` for the uncovered atoms only (NaN for
        the others) and ``min_rho`` of those (NaN when every atom is covered); the expected
        errors are those of every atom where the error map reads the rigidity (new
        potentials), of the uncovered atoms only where it reads rho."""
        block = self.descriptor.compute(atoms, derivatives=True, dtype=self.dtype,
                                        device=self.device, neighbors=neighbors)
        want_stress = atoms.pbc.all() if stress is None else stress
        out = _as_numpy(self.outputs(block, atoms.get_volume() if want_stress else None))
        if coverage:
            out["rigidity"] = self.rigidity(block.values, block.species)
        if coverage == "check":
            out["uncovered"], out["rho"] = self.coverage_check(block.values, block.species,
                                                               hints, out["rigidity"])
            out["outside"] = self.coverage(block.values, block.species, outside_only=True)[1]
        elif coverage:
            out["rho"], out["outside"] = self.coverage(block.values, block.species)
            out["uncovered"] = self.uncovered(out["rho"], block.species, out["rigidity"])
        if coverage:
            known = out["rho"][np.isfinite(out["rho"])]
            out["min_rho"] = float(known.min()) if known.size else float("nan")
            out["n_uncovered"] = int(out["uncovered"].sum())
            out["force_error"] = self.force_error(block.species, out["rho"], out["rigidity"])
            known = out["force_error"][np.isfinite(out["force_error"])]
            out["max_force_error"] = float(known.max()) if known.size else float("nan")
        return out

    def uncovered(self, rho: np.ndarray, species: torch.Tensor,
                  rigidity: np.ndarray | None = None) -> np.ndarray:
        """``(N,)`` bool: atoms outside the training data by their element's verdict
        (:meth:`coverage_of`, :meth:`~gdfnn.gdf.coverage.ElementCoverage.outside`): their
        coverage rho ``(N,)`` below the floor, or their last-layer ``rigidity (N,)``
        (:meth:`rigidity`) above the ceiling; False where the signal is unknown."""
        return self._per_element(species, lambda c, mine: c.outside(
            rho[mine], None if rigidity is None else rigidity[mine]), False)

    def force_error(self, species: torch.Tensor, rho: np.ndarray,
                    rigidity: np.ndarray | None = None) -> np.ndarray:
        """``(N,)`` expected force error (eV/Å, RMS of ``|F_pred - F_ref|``) of atoms of
        element indices ``species (N,)`` from each element's error map (calibrated on
        validation atoms, :class:`~gdfnn.gdf.coverage.ErrorMap`), read on the signal it was
        fitted on: their coverage ``rho (N,)`` or their last-layer ``rigidity (N,)``
        (:meth:`rigidity`); NaN where that signal or the map is unknown."""
        values = {RHO: rho, LLPR: rigidity}

        def expected(c: ElementCoverage, mine: np.ndarray) -> np.ndarray:
            signal = None if c.error is None else values[c.error.signal]
            if signal is None:
                return np.full(int(mine.sum()), np.nan)
            return c.error(signal[mine])
        return self._per_element(species, expected, np.nan)

    def rigidity(self, features: torch.Tensor, species: torch.Tensor) -> np.ndarray:
        """``(N,)`` last-layer prediction rigidity signal of each atom from raw features
        ``(N, D)`` (:mod:`gdfnn.model.rigidity`; larger: the training atoms constrain its
        energy less); NaN for elements without a record (potentials trained before it).
        The record is read into tensors once (MD calls this every check), again when
        ``metadata["rigidity"]`` is replaced."""
        record = self.metadata.get("rigidity")
        if self._rigidity[0] is not record:
            self._rigidity = (record, read_rigidity_metadata(self.metadata))
        inverses = self._rigidity[1]
        out = np.full(species.numel(), np.nan)
        if not inverses:
            return out
        with torch.no_grad():
            features = features.to(device=self.device, dtype=self.dtype)
            species = species.to(self.device)
            hidden = last_hidden(self.networks, self.network_inputs(features, species),
                                 species).cpu()
        species = species.cpu()
        for n, element in enumerate(self.elements):
            mine = species == n
            if mine.any() and element in inverses:
                out[mine.numpy()] = rigidity(hidden[mine], inverses[element]).numpy()
        return out

    def _per_element(self, species: torch.Tensor, fn, fill) -> np.ndarray:
        """``(N,)``: ``fn(coverage, mine)`` for the atoms ``mine`` (bool ``(N,)``) of each
        element with a GDF reference, ``fill`` for the others."""
        species = species.cpu().numpy()
        out = np.full(len(species), fill)
        for n, element in enumerate(self.elements):
            mine = species == n
            if mine.any() and element in self.gdf_reference:
                out[mine] = fn(self.coverage_of(element), mine)
        return out

    def predict_many(self, frames: list[ase.Atoms], *, progress: bool = False
                     ) -> list[dict[str, np.ndarray]]:
        """:meth:`predict` for many frames, featurised together in batches."""
        blocks = self.descriptor.compute_many(frames, derivatives=True, dtype=self.dtype,
                                              device=self.device, progress=progress)
        return [_as_numpy(self.outputs(b, a.get_volume() if a.pbc.all() else None))
                for a, b in zip(frames, blocks, strict=True)]

    # ----- files ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The file content: tensors (on the CPU) and plain values only."""
        return {FORMAT: FORMAT_VERSION, ELEMENTS: list(self.elements),
                DESCRIPTOR: self.descriptor.to_dict(), HIDDEN: list(self.networks.hidden),
                ACTIVATION: self.networks.activation,
                STATE: {k: v.detach().cpu() for k, v in self.state_dict().items()},
                METADATA: self.metadata,
                GDF_REFERENCE: {e: v.detach().cpu() for e, v in self.gdf_reference.items()},
                GDF_REFERENCE_COUNTS: dict(self.gdf_reference_counts),
                GDF_REFERENCE_RANGE: dict(self.gdf_reference_range),
                GDF_REFERENCE_FLOOR: dict(self.gdf_reference_floor)}

    @classmethod
    def from_dict(cls, data: dict) -> Potential:
        version = data.get(FORMAT)
        if version not in (1, FORMAT_VERSION):
            raise InputError(f"potential format {version} is not one of 1, {FORMAT_VERSION} "
                             "(written by a newer gdfnn?)")
        sf = SymmetryFunctions.from_dict(data[DESCRIPTOR])
        if version == 1:  # transforms as plain dicts, network weights apart
            transforms = {e: ElementTransform.from_dict(t) for e, t in data["transforms"].items()}
            weights = data["weights"]
        else:
            state = data[STATE]
            transforms = {e: ElementTransform.from_dict(
                {k.rsplit(".", 1)[1]: v for k, v in state.items()
                 if k.startswith(f"transforms.{e}.")}) for e in sf.elements}
            weights = {k.removeprefix("networks."): v for k, v in state.items()
                       if k.startswith("networks.")}
        networks = AtomicEnergies(sf.elements, sf.n_features, data[HIDDEN], data[ACTIVATION])
        networks.to(next(iter(weights.values())).dtype)
        networks.load_state_dict(weights)
        return cls(sf, transforms, networks, data.get(METADATA), data.get(GDF_REFERENCE),
                   data.get(GDF_REFERENCE_COUNTS), data.get(GDF_REFERENCE_RANGE),
                   data.get(GDF_REFERENCE_FLOOR))

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``potential.pt`` atomically."""
        return atomic_save(self.to_dict(), path)

    @classmethod
    def load(cls, path: str | os.PathLike, device: torch.device | str = "cpu") -> Potential:
        """Read a potential file (``weights_only``: no code is unpickled)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such potential file")
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            potential = cls.from_dict(data)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        except Exception as exc:
            raise InputError(f"{path}: not a gdfnn potential ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
        if potential.legacy_coverage:
            log.warning("%s: coverage of the old kind (floor: the least covered training atom, "
                        "its own kernel term included, at the weighting sigma), which flags "
                        "most atoms that are not copies of training atoms; retrain for the "
                        "held-out floor (docs/coverage.md)", path)
        return potential.to(device)


def _as_numpy(pred: Prediction) -> dict[str, np.ndarray]:
    out = {"energy": pred.energy.sum().item(), "energies": pred.atomic.detach().cpu().numpy(),
           "forces": pred.forces.detach().cpu().numpy()}
    if pred.stress is not None:
        out["stress"] = pred.stress[0].detach().cpu().numpy()
    return out

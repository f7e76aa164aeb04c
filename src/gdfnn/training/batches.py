"""Training data resident in memory as the store holds it, and batches gathered from it.

The arrays stay as the feature store gives them: raw symmetry functions, their Jacobian and
virial terms (in the training dtype). The feature transform (scaling/PCA of each element) is
applied to each batch's atoms inside the energy function (:attr:`Batch.inputs`), so forces
and stress contract dE/dG with the raw Jacobian: nothing of size P x D x 3 is transformed,
neither when a set is built (in memory, or each streamed chunk) nor per epoch, and a set costs
what its arrays hold.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from gdfnn.data.store import (
    ATOM_OFFSET,
    DG,
    ENERGY,
    FEATURES,
    FORCES,
    GDF_WEIGHT,
    PAIR_OFFSET,
    PAIRS,
    SPECIES,
    STRESS,
    VIRIAL,
    VOLUME,
    WEIGHT,
    FeatureSet,
    FeatureStore,
)
from gdfnn.model.scaling import ElementTransform, transform_features
from gdfnn.training.distributed import single
from gdfnn.training.weighting import WeightingPolicy

#: Every atom and structure weighs 1 (eq. 1).
UNWEIGHTED = WeightingPolicy()


@dataclass
class Batch:
    """Structures of one batch, concatenated with batch-local atom indices.

    Per atom: ``x (N, D)`` raw symmetry functions, ``species (N,)``, ``forces (N, 3)`` eV/Å,
    ``atom_weight (N,)`` GDF weight, ``structure (N,)`` index in the batch. Per pair:
    ``pairs (P, 2)``, ``dx (P, D, 3)`` = dx[centre]/dr[neighbour] (1/Å). Per structure:
    ``energy (B,)`` eV, ``n_atoms (B,)``, ``weight (B,)``, ``energy_weight (B,)`` (GDF weight of
    the energy term: 1, or the mean weight of the structure's atoms); with stress: ``virial
    (N, D, 3, 3)``, ``stress (B, 6)`` eV/Å^3 (0 where unlabelled), ``volume (B,)`` Å^3 (1
    where unlabelled) and ``stress_mask (B,)`` (1 for a structure with a stress label and a
    3-D periodic cell, else 0). ``inputs``: ``(x, species) -> (N, D)`` network inputs
    (the feature transform, differentiable).
    """

    x: torch.Tensor
    species: torch.Tensor
    forces: torch.Tensor
    atom_weight: torch.Tensor
    structure: torch.Tensor
    pairs: torch.Tensor
    dx: torch.Tensor
    energy: torch.Tensor
    n_atoms: torch.Tensor
    weight: torch.Tensor
    energy_weight: torch.Tensor
    inputs: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    virial: torch.Tensor | None = None
    stress: torch.Tensor | None = None
    volume: torch.Tensor | None = None
    stress_mask: torch.Tensor | None = None


def stress_labelled(arrays: dict[str, torch.Tensor]) -> torch.Tensor:
    """``(S,)`` bool: which stored structures can teach stress (a finite stress label and a
    3-D periodic cell, i.e. a volume)."""
    return torch.isfinite(arrays[STRESS]).all(1) & (arrays[VOLUME] > 0)


def _ranges(starts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Concatenation of ``arange(s, s + c)`` for each (s, c), without a Python loop."""
    total = int(counts.sum())
    before = torch.cumsum(counts, 0) - counts
    return torch.repeat_interleave(starts - before, counts, output_size=total) + torch.arange(
        total, device=starts.device)


class TrainingSet:
    """A :class:`FeatureSet` ready for batching, its batches carrying the feature transform.

    Args:
        data: featurised structures.
        transforms: per element, the fitted feature transform (applied to each batch, in
            ``dtype``, :attr:`Batch.inputs`).
        elements: element order of ``data``'s species.
        with_stress: keep virial terms and stress labels (structures without a label, or
            without a 3-D periodic cell, are masked out of the stress term).
        weighting: whether the GDF weights of ``data`` weight the force errors (else all atom
            weights are 1: eq. 1) and their per-structure means the energy errors.
        consume: take ``data``'s Jacobian and virial arrays out of it (used as they are
            where ``dtype`` is theirs: a set then costs its arrays once, not twice); else
            ``data`` is left as it was.
    """

    def __init__(self, data: FeatureSet, transforms: dict[str, ElementTransform],
                 elements: list[str], dtype: torch.dtype = torch.float64,
                 with_stress: bool = False, weighting: WeightingPolicy = UNWEIGHTED,
                 consume: bool = False):
        a = data.arrays
        species = a[SPECIES]
        pairs = a[PAIRS]
        self.x = a[FEATURES].to(dtype)
        self.dx = a[DG].to(dtype)
        self.virial = a[VIRIAL].to(dtype) if with_stress else None
        if consume:
            a.pop(DG)
            a.pop(VIRIAL, None)
        self.transforms = torch.nn.ModuleDict(
            {e: copy.deepcopy(transforms[e]).to(dtype) for e in elements})
        self.species = species
        self.pairs = pairs
        self.forces = a[FORCES].to(dtype)
        self.use_gdf = use_gdf = weighting.forces
        self.atom_weight = (a[GDF_WEIGHT] if use_gdf else torch.ones(species.numel())).to(dtype)
        self.atom_offset, self.pair_offset = a[ATOM_OFFSET], a[PAIR_OFFSET]
        self.energy = a[ENERGY].to(dtype)
        self.weight = a[WEIGHT].to(dtype)
        n_atoms = a[ATOM_OFFSET].diff()
        per_structure = torch.repeat_interleave(torch.arange(n_atoms.numel()), n_atoms)
        self.energy_weight = (torch.zeros(n_atoms.numel(), dtype=torch.float64).index_add_(
            0, per_structure, self.atom_weight.double()) / n_atoms).to(dtype) \
            if weighting.energies and use_gdf else torch.ones(n_atoms.numel(), dtype=dtype)
        labelled = stress_labelled(a)
        self.stress = torch.where(labelled[:, None], a[STRESS], 0.0).to(dtype)
        self.volume = torch.where(labelled, a[VOLUME], 1.0).to(dtype)
        self.stress_mask = labelled.to(dtype)
        self.group = data.group
        self.elements = list(elements)
        #: Which of all ranks' training structures this set holds (all: one process).
        self.shard = single(n_atoms)

    @property
    def n_structures(self) -> int:
        return self.atom_offset.numel() - 1

    def network_inputs(self, x: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        """Network inputs ``(N, D)`` of raw features ``x (N, D)`` (differentiable)."""
        return transform_features(x, species, self.transforms, self.elements)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
           ) -> TrainingSet:
        """A (shallow) copy on ``device`` with floating-point tensors (and the transforms)
        in ``dtype``."""
        moved = TrainingSet.__new__(TrainingSet)
        for name, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                value = value.to(device=device, dtype=dtype if value.is_floating_point() else None)
            elif isinstance(value, torch.nn.Module) and (device is not None or dtype is not None):
                value = copy.deepcopy(value).to(device=device, dtype=dtype)
            setattr(moved, name, value)
        return moved

    def reordered(self, order: torch.Tensor) -> TrainingSet:
        """A copy with the structures in ``order`` (one gather, at set-up time)."""
        b = self.batch(order)
        out = self.to()
        out.x, out.species, out.forces, out.atom_weight = b.x, b.species, b.forces, \
            b.atom_weight
        out.pairs, out.dx, out.virial = b.pairs, b.dx, b.virial
        out.energy, out.weight, out.energy_weight = b.energy, b.weight, b.energy_weight
        out.stress, out.volume = self.stress[order], self.volume[order]
        out.stress_mask = self.stress_mask[order]
        out.atom_offset = torch.cat([b.n_atoms.new_zeros(1), torch.cumsum(b.n_atoms, 0)])
        n_pairs = self.pair_offset[order + 1] - self.pair_offset[order]
        out.pair_offset = torch.cat([n_pairs.new_zeros(1), torch.cumsum(n_pairs, 0)])
        out.group = [self.group[i] for i in order.tolist()]
        return out

    def window(self, start: int, stop: int) -> Batch:
        """Structures ``start:stop`` as a :class:`Batch` of views (no copy of dx or x)."""
        a0, a1 = int(self.atom_offset[start]), int(self.atom_offset[stop])
        p0, p1 = int(self.pair_offset[start]), int(self.pair_offset[stop])
        n_atoms = self.atom_offset[start + 1:stop + 1] - self.atom_offset[start:stop]
        structure = torch.repeat_interleave(torch.arange(stop - start, device=n_atoms.device),
                                            n_atoms, output_size=a1 - a0)
        stress = self.virial is not None
        return Batch(
            x=self.x[a0:a1], species=self.species[a0:a1], forces=self.forces[a0:a1],
            atom_weight=self.atom_weight[a0:a1], structure=structure,
            pairs=self.pairs[p0:p1] - a0, dx=self.dx[p0:p1], energy=self.energy[start:stop],
            n_atoms=n_atoms, weight=self.weight[start:stop],
            energy_weight=self.energy_weight[start:stop],
            virial=self.virial[a0:a1] if stress else None,
            stress=self.stress[start:stop] if stress else None,
            volume=self.volume[start:stop] if stress else None,
            stress_mask=self.stress_mask[start:stop] if stress else None,
            inputs=self.network_inputs)

    def batch(self, index: torch.Tensor, buffers: dict[str, torch.Tensor] | None = None
              ) -> Batch:
        """Gather structures ``index`` ``(B,)`` into a :class:`Batch`.

        ``buffers``: a dict the caller keeps between calls; the large per-pair and per-atom
        blocks (``dx``, ``virial``) are then copied into storage kept there and reused, valid
        until the next call with the same dict (a training step is done with its batch by
        then). Fresh storage for every batch costs the kernel's page faults on each of its
        megabytes, which made gathering twice as slow as the epoch's arithmetic on CPU."""
        ao, po = self.atom_offset, self.pair_offset
        n_atoms = ao[index + 1] - ao[index]
        n_pairs = po[index + 1] - po[index]
        atoms = _ranges(ao[index], n_atoms)
        pairs = gather_rows(self.pairs, po, index, None, "pairs")
        new_start = torch.cumsum(n_atoms, 0) - n_atoms
        shift = torch.repeat_interleave(new_start - ao[index], n_pairs,
                                        output_size=pairs.shape[0])
        structure = torch.repeat_interleave(torch.arange(index.numel(), device=index.device),
                                            n_atoms, output_size=atoms.numel())
        stress = self.virial is not None
        return Batch(
            x=self.x[atoms], species=self.species[atoms], forces=self.forces[atoms],
            atom_weight=self.atom_weight[atoms], structure=structure,
            pairs=pairs + shift[:, None],
            dx=gather_rows(self.dx, po, index, buffers, "dx"),
            energy=self.energy[index], n_atoms=n_atoms, weight=self.weight[index],
            energy_weight=self.energy_weight[index],
            virial=gather_rows(self.virial, ao, index, buffers, "virial") if stress else None,
            stress=self.stress[index] if stress else None,
            volume=self.volume[index] if stress else None,
            stress_mask=self.stress_mask[index] if stress else None,
            inputs=self.network_inputs)


def gather_rows(source: torch.Tensor, offsets: torch.Tensor, index: torch.Tensor,
                buffers: dict[str, torch.Tensor] | None, name: str) -> torch.Tensor:
    """Rows ``offsets[i]:offsets[i + 1]`` of ``source`` for each ``i`` in ``index``,
    concatenated (one contiguous copy per structure); with ``buffers``, into the storage kept
    there under ``name`` (grown by a quarter when too small)."""
    bounds = torch.stack([offsets[index], offsets[index + 1]], 1).tolist()
    parts = [source[a:b] for a, b in bounds] or [source[:0]]
    if buffers is None:
        return torch.cat(parts)
    rows = sum(b - a for a, b in bounds)
    kept = buffers.get(name)
    if (kept is None or kept.shape[0] < rows or kept.shape[1:] != source.shape[1:]
            or kept.dtype != source.dtype or kept.device != source.device):
        kept = buffers[name] = source.new_empty((rows + rows // 4, *source.shape[1:]))
    return torch.cat(parts, out=kept[:rows])


#: Consecutive training structures read together when streaming: chunks are random sets of
#: such blocks (mixed, as an in-memory epoch's batches are, yet read in runs).
STREAM_BLOCK = 8


class StreamedSet:
    """Training structures read from the feature store chunk by chunk, every epoch.

    Each epoch deals the blocks of :data:`STREAM_BLOCK` (at most ``chunk``) consecutive
    training structures at random into chunks of at most ``chunk`` structures (runs of
    consecutive structures would give each chunk, hence each batch, one part of the data:
    stores are written file by file, group by group) and shuffles the structures inside
    each chunk. The next chunk is read in a background thread while the current one trains, so
    at most two are in memory (and a third being built). ``virial``: read the virial terms
    (a set that trains on stress).
    """

    def __init__(self, store: FeatureStore, indices: np.ndarray, chunk: int,
                 make_set: Callable[[FeatureSet], TrainingSet], virial: bool = True):
        self.store, self.indices, self.chunk, self.make_set = store, np.asarray(indices), chunk, \
            make_set
        self.virial = virial
        self.n_structures = len(self.indices)

    def _load(self, members: np.ndarray) -> TrainingSet:
        return self.make_set(self.store.load(members, virial=self.virial))

    def deal(self, generator: torch.Generator) -> list[np.ndarray]:
        """This epoch's chunks: the training structures (store indices, ascending within a
        chunk) of each, every one in exactly one."""
        size = min(STREAM_BLOCK, self.chunk)
        blocks = [self.indices[s:s + size] for s in range(0, self.n_structures, size)]
        order = torch.randperm(len(blocks), generator=generator).tolist()
        per_chunk = self.chunk // size
        return [np.sort(np.concatenate([blocks[b] for b in order[k:k + per_chunk]]))
                for k in range(0, len(order), per_chunk)]

    def chunks(self, generator: torch.Generator) -> Iterator[TrainingSet]:
        dealt = self.deal(generator)
        with ThreadPoolExecutor(1, thread_name_prefix="gdfnn-stream") as reader:
            upcoming = reader.submit(self._load, dealt[0]) if dealt else None
            for k in range(len(dealt)):
                current = upcoming.result()
                upcoming = reader.submit(self._load, dealt[k + 1]) if k + 1 < len(dealt) \
                    else None
                yield current
                del current

"""Training data resident in memory as network inputs, and batches gathered from it.

Features are transformed once (scaling/PCA of each element: ``x = G @ A + b``; the Jacobian
and virial terms with ``A``), so an epoch is matrix products, one gather and scatters: nothing
is re-read or re-densified per epoch. The Jacobian and virial terms are transformed
:data:`TRANSFORM_ROWS` rows at a time into the loaded arrays themselves where the training
dtype is the store's (else into one array of the training dtype): the set costs what its
arrays hold, not several copies of them.
"""

from __future__ import annotations

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
#: Rows of the Jacobian (or virial) transformed at a time: the float64 temporaries follow
#: this, not the data set.
TRANSFORM_ROWS = 8192


@dataclass
class Batch:
    """Structures of one batch, concatenated with batch-local atom indices.

    Per atom: ``x (N, D)`` network inputs, ``species (N,)``, ``forces (N, 3)`` eV/Å,
    ``atom_weight (N,)`` GDF weight, ``structure (N,)`` index in the batch. Per pair:
    ``pairs (P, 2)``, ``dx (P, D, 3)`` = dx[centre]/dr[neighbour] (1/Å). Per structure:
    ``energy (B,)`` eV, ``n_atoms (B,)``, ``weight (B,)``, ``energy_weight (B,)`` (GDF weight of
    the energy term: 1, or the mean weight of the structure's atoms); with stress: ``virial
    (N, D, 3, 3)``, ``stress (B, 6)`` eV/Å^3 (0 where unlabelled), ``volume (B,)`` Å^3 (1
    where unlabelled) and ``stress_mask (B,)`` (1 for a structure with a stress label and a
    3-D periodic cell, else 0).
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


def transform_rows(values: torch.Tensor, species: torch.Tensor,
                   transforms: dict[str, ElementTransform], elements: list[str],
                   dtype: torch.dtype, *, in_place: bool = False) -> torch.Tensor:
    """``values`` ``(R, D, ...)`` (Jacobian or virial rows) with their feature axis mapped by
    the linear part of each row's element's transform (``species (R,)``; features beyond the
    element's own count are 0), in ``dtype``, computed in float64 :data:`TRANSFORM_ROWS` rows
    at a time. ``in_place``: written into ``values`` itself where it already has ``dtype``
    (its old content is then gone); else into a new tensor."""
    same = in_place and values.dtype == dtype
    out = values if same else torch.empty(values.shape, dtype=dtype)
    for start in range(0, values.shape[0], TRANSFORM_ROWS):
        stop = min(start + TRANSFORM_ROWS, values.shape[0])
        block, kinds = values[start:stop].to(torch.float64), species[start:stop]
        mapped = torch.zeros(block.shape, dtype=torch.float64)
        for n, element in enumerate(elements):
            rows = kinds == n
            if rows.any():
                d = transforms[element].shift.numel()
                mapped[rows, :d] = torch.einsum("rd...,de->re...", block[rows, :d],
                                                transforms[element].matrix.double())
        out[start:stop] = mapped
    return out


class TrainingSet:
    """A :class:`FeatureSet` turned into network inputs, ready for batching.

    Args:
        data: featurised structures.
        transforms: per element, the fitted feature transform.
        elements: element order of ``data``'s species.
        with_stress: keep virial terms and stress labels (structures without a label, or
            without a 3-D periodic cell, are masked out of the stress term).
        weighting: whether the GDF weights of ``data`` weight the force errors (else all atom
            weights are 1: eq. 1) and their per-structure means the energy errors.
        consume: transform ``data``'s Jacobian and virial arrays in place where ``dtype`` is
            theirs, and take them out of ``data`` (a set then costs its arrays once, not
            twice); else they are copied and ``data`` is left as it was.
    """

    def __init__(self, data: FeatureSet, transforms: dict[str, ElementTransform],
                 elements: list[str], dtype: torch.dtype = torch.float64,
                 with_stress: bool = False, weighting: WeightingPolicy = UNWEIGHTED,
                 consume: bool = False):
        a = data.arrays
        species = a[SPECIES]
        pairs = a[PAIRS]
        self.x = transform_features(a[FEATURES].to(torch.float64), species, transforms,
                                    elements).to(dtype)
        self.dx = transform_rows(a[DG], species[pairs[:, 0]], transforms, elements, dtype,
                                 in_place=consume)
        self.virial = (transform_rows(a[VIRIAL], species, transforms, elements, dtype,
                                      in_place=consume) if with_stress else None)
        if consume:
            a.pop(DG)
            a.pop(VIRIAL, None)
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

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
           ) -> TrainingSet:
        """A (shallow) copy on ``device`` with floating-point tensors in ``dtype``."""
        copy = TrainingSet.__new__(TrainingSet)
        for name, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                value = value.to(device=device, dtype=dtype if value.is_floating_point() else None)
            setattr(copy, name, value)
        return copy

    def reordered(self, order: torch.Tensor) -> TrainingSet:
        """A copy with the structures in ``order`` (one gather, at set-up time)."""
        b = self.batch(order)
        copy = self.to()
        copy.x, copy.species, copy.forces, copy.atom_weight = b.x, b.species, b.forces, \
            b.atom_weight
        copy.pairs, copy.dx, copy.virial = b.pairs, b.dx, b.virial
        copy.energy, copy.weight, copy.energy_weight = b.energy, b.weight, b.energy_weight
        copy.stress, copy.volume = self.stress[order], self.volume[order]
        copy.stress_mask = self.stress_mask[order]
        copy.atom_offset = torch.cat([b.n_atoms.new_zeros(1), torch.cumsum(b.n_atoms, 0)])
        n_pairs = self.pair_offset[order + 1] - self.pair_offset[order]
        copy.pair_offset = torch.cat([n_pairs.new_zeros(1), torch.cumsum(n_pairs, 0)])
        copy.group = [self.group[i] for i in order.tolist()]
        return copy

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
            stress_mask=self.stress_mask[start:stop] if stress else None)

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
            stress_mask=self.stress_mask[index] if stress else None)


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
    each chunk. The next chunk is read
    and turned into network inputs in a background thread while the current one trains, so
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

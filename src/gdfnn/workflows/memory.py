"""Will the data sets fit? The memory a training run's sets need, against what the machine
(or its cgroup) has, decided before anything large is loaded: in memory, streamed from the
feature store in chunks sized to fit, or one line saying what is needed and what to set.

A :class:`~gdfnn.training.batches.TrainingSet` holds, per atom, its features, forces,
weights and indices, with stress the virial terms; per pair (centre, neighbour), the
Jacobian ``(D, 3)`` and the indices: :func:`set_bytes` counts exactly these from the store's
offsets and widths. While a set is built, what the store gives stays loaded beside it unless
the training dtype is the store's (then the set takes the store's arrays as they are):
:func:`peak_bytes` adds that.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

from gdfnn.data.store import DG, FEATURES, FeatureStore
from gdfnn.errors import ConfigError

log = logging.getLogger("gdfnn")

#: Share of the available memory the data sets may take (the rest: the networks, the batch
#: buffers, the GDF reference, Python and the allocator's slack).
MEMORY_SHARE = 0.7
#: Chunks alive at once while streaming: the one training, the next one being read in the
#: background (its loaded and, in another dtype, converted arrays).
CHUNKS_ALIVE = 3
#: Bytes a chunk of a test set may take while it is evaluated.
EVALUATION_BYTES = 1_000_000_000
#: Bytes of the indices of one atom (species, row, batch index: int64) and one pair (int64 x 2).
ATOM_INDEX_BYTES, PAIR_INDEX_BYTES = 24, 16
GB = 1e9


def available_memory() -> int:
    """Bytes this process may still take: the kernel's MemAvailable, or less where a cgroup
    (v2 or v1) limit leaves less."""
    options = [_meminfo("MemAvailable")]
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            text = Path(limit).read_text().strip()
            if text != "max" and int(text) < 1 << 60:
                options.append(int(text) - int(Path(usage).read_text()))
        except (OSError, ValueError):
            continue
    return max(0, min(o for o in options if o is not None))


def _meminfo(key: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@dataclass(frozen=True)
class StoreWidths:
    """What one atom and one pair of a store cost: the feature count ``D`` (widest element)
    and the store's float item size (bytes)."""

    n_features: int
    store_itemsize: int

    @classmethod
    def of(cls, store: FeatureStore) -> StoreWidths:
        with h5py.File(store.path, "r") as f:
            return cls(int(f[FEATURES].shape[1]), int(f[DG].dtype.itemsize))

    def atom_bytes(self, itemsize: int, stress: bool) -> int:
        """In a training set of float ``itemsize``: inputs (D), forces (3), weight (1),
        indices; with stress, the virial terms (D x 9)."""
        return itemsize * (self.n_features + 4 + (9 * self.n_features if stress else 0)) \
            + ATOM_INDEX_BYTES

    def pair_bytes(self, itemsize: int) -> int:
        """The Jacobian (D x 3) and the pair's two indices."""
        return itemsize * 3 * self.n_features + PAIR_INDEX_BYTES


def _counts(store: FeatureStore, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Atoms and pairs of each structure ``indices``."""
    idx = np.asarray(indices, dtype=np.int64)
    return np.diff(store.atom_offset)[idx], np.diff(store.pair_offset)[idx]


def structure_bytes(store: FeatureStore, indices: np.ndarray, dtype: torch.dtype,
                    stress: bool, widths: StoreWidths | None = None) -> np.ndarray:
    """``(len(indices),)`` bytes each structure takes in a training set of ``dtype``."""
    widths = widths or StoreWidths.of(store)
    atoms, pairs = _counts(store, indices)
    return (atoms * widths.atom_bytes(dtype.itemsize, stress)
            + pairs * widths.pair_bytes(dtype.itemsize))


def structure_peak_bytes(store: FeatureStore, indices: np.ndarray, dtype: torch.dtype,
                         stress: bool, widths: StoreWidths | None = None) -> np.ndarray:
    """``(len(indices),)`` bytes each structure takes while its set is built: its share of
    the set, and the store's Jacobian (and virial) beside it where they are converted (the
    store's dtype is not ``dtype``)."""
    widths = widths or StoreWidths.of(store)
    held = structure_bytes(store, indices, dtype, stress, widths)
    if widths.store_itemsize != dtype.itemsize:
        atoms, pairs = _counts(store, indices)
        held = held + widths.store_itemsize * widths.n_features * (
            3 * pairs + (9 * atoms if stress else 0))
    return held


def set_bytes(store: FeatureStore, indices: np.ndarray, dtype: torch.dtype, stress: bool,
              widths: StoreWidths | None = None) -> int:
    """Bytes a training set of structures ``indices`` holds in ``dtype``."""
    return int(structure_bytes(store, indices, dtype, stress, widths).sum())


def peak_bytes(store: FeatureStore, indices: np.ndarray, dtype: torch.dtype, stress: bool,
               widths: StoreWidths | None = None) -> int:
    """Bytes while the set of structures ``indices`` is built (:func:`structure_peak_bytes`)."""
    return int(structure_peak_bytes(store, indices, dtype, stress, widths).sum())


@dataclass(frozen=True)
class MemoryPlan:
    """How the training set is held: ``chunk`` None in memory, else streamed in chunks of
    that many structures; the bytes the sets need and those available (for the log line)."""

    chunk: int | None
    needed: int
    available: int


def plan_memory(store: FeatureStore, train: np.ndarray, valid: np.ndarray, dtype: torch.dtype,
                stress: bool, *, stream_chunk: int | None = None,
                limit_gb: float | None = None) -> MemoryPlan:
    """Decide, before loading, how to hold the training set: in memory where training and
    validation sets fit in :data:`MEMORY_SHARE` of the available memory (``limit_gb``, or
    :func:`available_memory`), else streamed in the largest chunks of which
    :data:`CHUNKS_ALIVE` fit beside the validation set, whichever structures they hold
    (said in one line). ``stream_chunk`` given: streamed in chunks of that size, as asked.
    Raises :class:`ConfigError`, naming what is needed and what to set, where not even the
    validation set and one structure at a time fit."""
    widths = StoreWidths.of(store)
    available = int(limit_gb * GB) if limit_gb is not None else available_memory()
    budget = MEMORY_SHARE * available
    valid_need = peak_bytes(store, valid, dtype, True, widths)
    need = peak_bytes(store, train, dtype, stress, widths) + valid_need
    if stream_chunk is not None:
        return MemoryPlan(stream_chunk, need, available)
    if need <= budget:
        return MemoryPlan(None, need, available)
    room = (budget - valid_need) / CHUNKS_ALIVE
    chunk = _largest_chunk(structure_peak_bytes(store, train, dtype, stress, widths), room)
    where = (f"limit training.memory_limit_gb {limit_gb:g}" if limit_gb is not None
             else "available on this machine")
    if chunk < 1:
        raise ConfigError(
            f"the data sets need {need / GB:.1f} GB in memory ({valid_need / GB:.1f} GB the "
            f"validation set), {available / GB:.1f} GB {where}: not even one training "
            f"structure at a time fits beside the validation set; lower data.valid_rate, use "
            f"model.dtype float32, or run on a machine with more memory")
    log.info("the training set needs %.1f GB in memory, %.1f GB %s: streamed from the feature "
             "store in chunks of %d structures (training.stream_chunk to choose)",
             need / GB, available / GB, where, chunk)
    return MemoryPlan(chunk, need, available)


def evaluation_chunk(store: FeatureStore, indices: np.ndarray, dtype: torch.dtype) -> int:
    """Structures ``indices`` evaluated at a time (test sets): the largest chunk within
    :data:`EVALUATION_BYTES` while built (at least one structure)."""
    return max(1, _largest_chunk(structure_peak_bytes(store, indices, dtype, True),
                                 EVALUATION_BYTES))


def _largest_chunk(per_structure: np.ndarray, room: float) -> int:
    """The largest ``k`` such that any ``k`` of the structures fit in ``room`` bytes (the
    ``k`` largest do; a streamed chunk is a random set of them), 0 where not even one."""
    if per_structure.size == 0:
        return 1
    largest_first = np.cumsum(np.sort(per_structure)[::-1], dtype=np.float64)
    return int(np.searchsorted(largest_first, room, side="right"))


"""HDF5 feature store: features, sparse dG/dR, virial terms and labels of a data set.

All arrays are concatenated along their first axis (structures, atoms or pairs) with offset
arrays, chunked, so a subset of structures is a few contiguous slices and a data set larger
than memory can be streamed. The names below are the dataset names in the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from tqdm.auto import tqdm

from gdfnn.data.structure import Structure
from gdfnn.errors import InputError
from gdfnn.fileio import temporary_path

FORMAT_VERSION = 1

# per structure (S rows)
ATOM_OFFSET = "atom_offset"  # (S+1,) int64: atoms of structure s are rows [off[s], off[s+1])
PAIR_OFFSET = "pair_offset"  # (S+1,) int64: pairs of structure s
ENERGY = "energy"  # (S,) float64 total energy, eV (NaN when absent)
STRESS = "stress"  # (S, 6) float64 Voigt stress, eV/Å^3, ASE sign (NaN when absent)
VOLUME = "volume"  # (S,) float64 cell volume, Å^3 (0 when not periodic in 3-D)
WEIGHT = "weight"  # (S,) float64 structure weight
GROUP = "group"  # (S,) str group tag
SOURCE = "source"  # (S,) str file the frame came from
FRAME = "frame"  # (S,) int64 index of the frame in that file
# per atom (N rows)
SPECIES = "species"  # (N,) int64 index into the element list
FEATURES = "G"  # (N, D) raw symmetry functions
FORCES = "forces"  # (N, 3) float64 reference forces, eV/Å (NaN when absent)
VIRIAL = "virial"  # (N, D, 3, 3) sum over neighbour entries of dG/dD (x) D
GDF_RHO = "gdf_rho"  # (N,) float64 GDF against the training atoms (written by `gdfnn gdf`)
GDF_WEIGHT = "gdf_weight"  # (N,) float64 Theta(1/rho) / its mean over the training atoms
# in memory only (FeatureSet.arrays), not in the file
ATOM_ROW = "atom_row"  # (N,) int64 row of each loaded atom in the store's per-atom arrays
# per pair (P rows)
PAIRS = "pairs"  # (P, 2) int32 [centre, neighbour], atom indices local to the structure
DG = "dG"  # (P, D, 3) dG[centre]/dr[neighbour], 1/Å

PER_STRUCTURE = (ENERGY, STRESS, VOLUME, WEIGHT, FRAME)

# HDF5 chunk rows (reads of a few structures touch few chunks; writes append whole chunks)
ATOM_CHUNK = 4096  # per-atom arrays (species, G, forces)
VIRIAL_CHUNK = 512  # the virial rows are D * 9 times wider
PAIR_CHUNK = 4096  # dG rows (D * 3 wide)
PAIR_INDEX_CHUNK = 65536  # pair index rows (2 wide)
#: Structures featurised per kernel call while writing a store.
FRAMES_PER_WRITE = 64
PER_ATOM = (SPECIES, FEATURES, FORCES, VIRIAL)


def store_digest(structures: Sequence[Structure], descriptor: dict, dtype: str) -> str:
    """Hash of what the store's content depends on: descriptor parameters, dtype and every
    input frame (positions, cell, labels), so any change forces re-featurisation."""
    h = hashlib.sha256(json.dumps([FORMAT_VERSION, descriptor, dtype], sort_keys=True).encode())
    for s in structures:
        h.update(np.ascontiguousarray(s.atoms.positions).tobytes())
        h.update(np.ascontiguousarray(s.atoms.cell.array).tobytes())
        h.update(s.atoms.numbers.tobytes())
        h.update(repr((s.energy, s.group, s.weight, s.source, s.index)).encode())
        for array in (s.forces, s.stress):
            h.update(b"-" if array is None else np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def _volume(structure: Structure) -> float:
    return float(structure.atoms.get_volume()) if structure.atoms.pbc.all() else 0.0


def write_store(path: str | os.PathLike, structures: Sequence[Structure], sf, *,
                dtype: torch.dtype = torch.float64, digest: str = "",
                progress: bool = True) -> Path:
    """Featurise ``structures`` with ``sf`` (values, dG/dR, virial) into an HDF5 store.

    Written to a temporary file and renamed at the end: an interrupted run leaves no store.
    """
    path = Path(path)
    tmp = temporary_path(path)
    width, np_dtype = sf.width, np.float64 if dtype == torch.float64 else np.float32
    n_atoms = np.array([s.n_atoms for s in structures], dtype=np.int64)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs.update(format_version=FORMAT_VERSION, digest=digest, width=width,
                           elements=json.dumps(sf.elements), descriptor=json.dumps(sf.to_dict()),
                           dtype=str(np_dtype.__name__))
            f[ATOM_OFFSET] = np.concatenate([[0], np.cumsum(n_atoms)])
            f[ENERGY] = [np.nan if s.energy is None else s.energy for s in structures]
            f[STRESS] = np.array([np.full(6, np.nan) if s.stress is None else s.stress
                                  for s in structures]).reshape(-1, 6)
            f[VOLUME] = [_volume(s) for s in structures]
            f[WEIGHT] = [s.weight for s in structures]
            f[FRAME] = [s.index for s in structures]
            f[GROUP] = np.array([s.group for s in structures], dtype=h5py.string_dtype())
            f[SOURCE] = np.array([s.source for s in structures], dtype=h5py.string_dtype())
            total = int(n_atoms.sum())
            chunk_atoms = max(1, min(total, ATOM_CHUNK))
            f.create_dataset(SPECIES, (total,), np.int64, chunks=(chunk_atoms,))
            f.create_dataset(FEATURES, (total, width), np_dtype, chunks=(chunk_atoms, width))
            f.create_dataset(FORCES, (total, 3), np.float64, chunks=(chunk_atoms, 3))
            f.create_dataset(VIRIAL, (total, width, 3, 3), np_dtype,
                             chunks=(min(chunk_atoms, VIRIAL_CHUNK), width, 3, 3))
            f.create_dataset(PAIRS, (0, 2), np.int32, maxshape=(None, 2), chunks=(PAIR_INDEX_CHUNK, 2))
            f.create_dataset(DG, (0, width, 3), np_dtype, maxshape=(None, width, 3),
                             chunks=(PAIR_CHUNK, width, 3))
            pair_offset = [0]
            atom = 0
            bar = tqdm(total=len(structures), desc="featurising", unit="frame",
                       disable=not progress or len(structures) < 2)
            for start in range(0, len(structures), FRAMES_PER_WRITE):
                batch = structures[start:start + FRAMES_PER_WRITE]
                blocks = sf.compute_many([s.atoms for s in batch], derivatives=True, dtype=dtype,
                                         progress=False)
                for s, block in zip(batch, blocks, strict=True):
                    rows = slice(atom, atom + s.n_atoms)
                    f[SPECIES][rows] = block.species.numpy()
                    f[FEATURES][rows] = block.values.numpy()
                    f[VIRIAL][rows] = block.virial.numpy()
                    f[FORCES][rows] = np.full((s.n_atoms, 3), np.nan) if s.forces is None \
                        else s.forces
                    n_pairs = block.pairs.shape[0]
                    p0 = pair_offset[-1]
                    f[PAIRS].resize(p0 + n_pairs, axis=0)
                    f[DG].resize(p0 + n_pairs, axis=0)
                    f[PAIRS][p0:] = block.pairs.numpy().astype(np.int32)
                    f[DG][p0:] = block.dG.numpy()
                    pair_offset.append(p0 + n_pairs)
                    atom += s.n_atoms
                bar.update(len(batch))
            bar.close()
            f[PAIR_OFFSET] = np.asarray(pair_offset, dtype=np.int64)
            f[GDF_RHO] = np.full(total, np.nan)
            f[GDF_WEIGHT] = np.ones(total)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


@dataclass
class FeatureSet:
    """A set of featurised structures in memory, concatenated (global atom indices).

    Per structure: ``atom_offset (S+1,)``, ``pair_offset (S+1,)``, energy, stress, volume,
    weight, group (list), source (list), frame. Per atom: species, G, forces, virial,
    gdf_rho, gdf_weight. Per pair: pairs ``(P, 2)`` with *global* atom indices, dG.
    """

    arrays: dict[str, torch.Tensor]
    group: list[str]
    source: list[str]
    elements: list[str]

    @property
    def n_structures(self) -> int:
        return self.arrays[ATOM_OFFSET].numel() - 1

    @property
    def n_atoms(self) -> torch.Tensor:
        return self.arrays[ATOM_OFFSET].diff()

    def structure_of_atom(self) -> torch.Tensor:
        """``(N,)`` structure index of each atom."""
        return torch.repeat_interleave(torch.arange(self.n_structures), self.n_atoms)


class FeatureStore:
    """Read access to a store written by :func:`write_store` (lazy; nothing loaded yet)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such feature store")
        try:
            with h5py.File(self.path, "r") as f:
                self.attrs = dict(f.attrs)
                self.atom_offset = f[ATOM_OFFSET][:]
                self.pair_offset = f[PAIR_OFFSET][:]
        except (OSError, KeyError) as exc:
            raise InputError(f"{self.path}: not a gdfnn feature store ({exc})") from None
        if self.attrs.get("format_version") != FORMAT_VERSION:
            raise InputError(f"{self.path}: store format {self.attrs.get('format_version')}, "
                             f"expected {FORMAT_VERSION}; delete it to re-featurise")

    @property
    def digest(self) -> str:
        return str(self.attrs.get("digest", ""))

    @property
    def elements(self) -> list[str]:
        return json.loads(self.attrs["elements"])

    @property
    def n_structures(self) -> int:
        return len(self.atom_offset) - 1

    @property
    def groups(self) -> list[str]:
        """Group tag of every structure (read without loading any array)."""
        with h5py.File(self.path, "r") as f:
            return _strings(f[GROUP][:])

    def load(self, indices: Sequence[int] | np.ndarray | None = None, *,
             features_only: bool = False, virial: bool = True) -> FeatureSet:
        """Structures ``indices`` (default all) as an in-memory :class:`FeatureSet`;
        ``features_only`` reads just G, species and the per-structure labels (no Jacobian,
        no virial: what scaling and GDF need, a few percent of the store); ``virial=False``
        leaves out the virial terms (a set that does not train on stress: D x 9 values an
        atom)."""
        idx = np.arange(self.n_structures) if indices is None else np.asarray(indices, np.int64)
        per_atom = (SPECIES, FEATURES) if features_only else (*PER_ATOM, GDF_RHO, GDF_WEIGHT)
        if not virial:
            per_atom = tuple(name for name in per_atom if name != VIRIAL)
        with h5py.File(self.path, "r") as f:
            atom_rows = _rows(self.atom_offset, idx)
            arrays = {name: torch.from_numpy(f[name][:][idx]) for name in PER_STRUCTURE}
            arrays.update({name: torch.from_numpy(_take(f[name], atom_rows)) for name in per_atom})
            arrays[ATOM_ROW] = torch.from_numpy(np.asarray(atom_rows, dtype=np.int64))
            if not features_only:
                pair_rows = _rows(self.pair_offset, idx)
                arrays[DG] = torch.from_numpy(_take(f[DG], pair_rows))
                local = torch.from_numpy(_take(f[PAIRS], pair_rows).astype(np.int64))
            group, source = _strings(f[GROUP][:][idx]), _strings(f[SOURCE][:][idx])
        n_atoms = np.diff(self.atom_offset)[idx]
        n_pairs = np.diff(self.pair_offset)[idx]
        atom_offset = torch.from_numpy(np.concatenate([[0], np.cumsum(n_atoms)]))
        arrays[ATOM_OFFSET] = atom_offset
        arrays[PAIR_OFFSET] = torch.from_numpy(np.concatenate([[0], np.cumsum(n_pairs)]))
        if not features_only:
            shift = torch.repeat_interleave(atom_offset[:-1], torch.from_numpy(n_pairs))
            arrays[PAIRS] = local + shift[:, None]
        return FeatureSet(arrays, group, source, self.elements)

    def iter_chunks(self, indices: Sequence[int], chunk: int, *, virial: bool = True
                    ) -> Iterator[FeatureSet]:
        """Stream ``indices`` as in-memory sets of at most ``chunk`` structures."""
        indices = np.asarray(indices)
        for start in range(0, len(indices), chunk):
            yield self.load(indices[start:start + chunk], virial=virial)

    def write_gdf(self, rho: np.ndarray, weight: np.ndarray) -> None:
        """Store per-atom GDF values ``(N,)`` and weights ``(N,)``: into a copy of the store,
        renamed over it when written (HDF5 is not safe against a kill inside a write; readers
        that hold the old file open keep reading it)."""
        tmp = temporary_path(self.path)
        try:
            shutil.copyfile(self.path, tmp)
            with h5py.File(tmp, "r+") as f:
                f[GDF_RHO][:] = rho
                f[GDF_WEIGHT][:] = weight
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _strings(values: np.ndarray) -> list[str]:
    """h5py returns variable-length strings as bytes."""
    return [v.decode() if isinstance(v, bytes) else v for v in values]


def _rows(offset: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Row indices of the items of structures ``idx`` (offsets ``(S+1,)``)."""
    starts, stops = offset[idx], offset[idx + 1]
    lengths = stops - starts
    return np.repeat(starts - np.cumsum(np.concatenate([[0], lengths[:-1]])), lengths) + \
        np.arange(lengths.sum())


def _take(dataset: h5py.Dataset, rows: np.ndarray) -> np.ndarray:
    """``dataset[rows]`` read as contiguous runs (h5py fancy indexing is slow), each straight
    into its place in the result (no second copy of what is read)."""
    out = np.empty((rows.size, *dataset.shape[1:]), dtype=dataset.dtype)
    if rows.size == 0:
        return out
    starts = np.concatenate([[0], np.flatnonzero(np.diff(rows) != 1) + 1])
    stops = np.append(starts[1:], rows.size)
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        dataset.read_direct(out, np.s_[rows[a]:rows[b - 1] + 1], np.s_[a:b])
    return out

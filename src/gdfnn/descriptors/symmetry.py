"""The public featuriser: a symmetry-function set per element and its computation."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ase
import numpy as np
import torch
from tqdm.auto import tqdm

from gdfnn.descriptors import compiled
from gdfnn.descriptors import params as P
from gdfnn.descriptors.cutoff import COSINE, check_cutoff
from gdfnn.descriptors.kernel import FunctionTable, KernelOutput, symmetry_functions
from gdfnn.errors import InputError
from gdfnn.fileio import atomic_write
from gdfnn.neighbors import Neighbors, neighbor_list

#: Structures featurised together in one kernel call by :meth:`SymmetryFunctions.compute_many`
#: (bounded by atoms too, see ``MAX_BATCH_ATOMS``).
MAX_BATCH_STRUCTURES = 32
MAX_BATCH_ATOMS = 4096


@dataclass
class FeatureBlock:
    """Symmetry functions of one structure.

    Attributes:
        values: ``(n_atoms, D)`` features in atom order (for elements with fewer than D
            functions the trailing columns are 0).
        species: ``(n_atoms,)`` index into the element list.
        pairs: ``(n_pairs, 2)`` [centre i, neighbour j], sorted, self pairs (i, i) included.
        dG: ``(n_pairs, D, 3)`` dG[i]/dr[j] in 1/Å.
        virial: ``(n_atoms, D, 3, 3)`` sum over neighbour entries e of i of
            dG_i/dD_e (x) D_e; stress = (1/V) sum_i dE/dG_i . virial_i (eV/Å^3, ASE sign).
    """

    values: torch.Tensor
    species: torch.Tensor
    pairs: torch.Tensor | None = None
    dG: torch.Tensor | None = None
    virial: torch.Tensor | None = None


class SymmetryFunctions:
    """Behler-Parrinello symmetry functions G2/G4/G5 for each centre element.

    Args:
        elements: element symbols; their order defines species indices and SIMPLE-NN t1/t2.
        functions: per centre element, its list of :class:`~gdfnn.descriptors.params.SymmetryFunction`.
        cutoff_type, cutoff_alpha: the cutoff function of every function: n2p2's
            ``cutoff_type`` numbers (1, the cosine, with alpha 0 is SIMPLE-NN's; see
            :mod:`gdfnn.descriptors.cutoff`) and its inner cutoff alpha r_c.
    """

    def __init__(self, elements: Sequence[str], functions: dict[str, list[P.SymmetryFunction]],
                 cutoff_type: int = COSINE, cutoff_alpha: float = 0.0):
        check_cutoff(cutoff_type, cutoff_alpha)
        self.cutoff_type, self.cutoff_alpha = int(cutoff_type), float(cutoff_alpha)
        self.elements = list(elements)
        missing = [e for e in self.elements if not functions.get(e)]
        if missing:
            raise ValueError(f"no symmetry functions for element(s) {missing}")
        for centre, funcs in functions.items():
            if centre not in self.elements:
                raise ValueError(f"functions given for {centre!r}, not in elements {self.elements}")
            for f in funcs:
                unknown = set(f.neighbors) - set(self.elements)
                if unknown:
                    raise ValueError(f"{centre} function names unknown neighbour element(s) "
                                     f"{sorted(unknown)}")
        self.functions = {e: list(functions[e]) for e in self.elements}
        self._tables: dict[tuple, FunctionTable] = {}

    # ----- construction and files ------------------------------------------------------
    @classmethod
    def default(cls, elements: Sequence[str], cutoff: float = P.DEFAULT_CUTOFF,
                cutoff_type: int = COSINE, cutoff_alpha: float = 0.0) -> SymmetryFunctions:
        """SIMPLE-NN's default set (26 functions for one element, 70 for two)."""
        elements = list(elements)
        return cls(elements, {e: P.default_functions(elements, cutoff) for e in elements},
                   cutoff_type, cutoff_alpha)

    @classmethod
    def from_simple_nn(cls, files: dict[str, str | os.PathLike], cutoff_type: int = COSINE,
                       cutoff_alpha: float = 0.0) -> SymmetryFunctions:
        """Read SIMPLE-NN ``params_XX`` files; the dict order is the element order."""
        elements = list(files)
        return cls(elements, {e: P.read_simple_nn_params(path, elements)
                              for e, path in files.items()}, cutoff_type, cutoff_alpha)

    def write_simple_nn(self, directory: str | os.PathLike) -> dict[str, Path]:
        """Write ``params_XX`` files into ``directory``; returns their paths."""
        self.require_simple_nn_cutoff()
        paths = {}
        for e in self.elements:
            paths[e] = Path(directory) / f"params_{e}"
            with atomic_write(paths[e]) as out:
                out.write(P.format_simple_nn_params(self.functions[e], self.elements))
        return paths

    def require_simple_nn_cutoff(self) -> None:
        """SIMPLE-NN knows only the plain cosine cutoff: raise :class:`InputError` otherwise."""
        if (self.cutoff_type, self.cutoff_alpha) != (COSINE, 0.0):
            raise InputError(f"SIMPLE-NN has only the cosine cutoff (type 1, alpha 0), not "
                             f"type {self.cutoff_type}, alpha {self.cutoff_alpha}")

    @classmethod
    def from_n2p2_lines(cls, elements: Sequence[str], lines: Sequence[str], where: str = "input.nn",
                        length_factor: float = 1.0, cutoff_type: int = COSINE,
                        cutoff_alpha: float = 0.0) -> SymmetryFunctions:
        """From n2p2 ``symfunction_short`` lines (keyword included), lengths x ``length_factor``."""
        functions: dict[str, list[P.SymmetryFunction]] = {e: [] for e in elements}
        for n, line in enumerate(lines):
            centre, f = P.parse_n2p2_symfunction(line.split()[1:], f"{where}: function {n + 1}",
                                                 length_factor)
            if centre not in functions:
                raise InputError(f"{where}: function for {centre!r}, not in elements {list(elements)}")
            functions[centre].append(f)
        return cls(elements, functions, cutoff_type, cutoff_alpha)

    def to_n2p2_lines(self, length_factor: float = 1.0) -> list[str]:
        """n2p2 ``symfunction_short`` lines, lengths / ``length_factor`` (file units)."""
        return [P.format_n2p2_symfunction(e, f, length_factor)
                for e in self.elements for f in self.functions[e]]

    def to_dict(self) -> dict:
        """Plain values for the potential file."""
        return {"elements": list(self.elements),
                "functions": {e: [[f.kind, list(f.neighbors), f.cutoff, f.eta, f.rs, f.zeta, f.lam]
                                  for f in fs] for e, fs in self.functions.items()},
                "cutoff_type": self.cutoff_type, "cutoff_alpha": self.cutoff_alpha}

    @classmethod
    def from_dict(cls, data: dict) -> SymmetryFunctions:
        """Inverse of :meth:`to_dict` (dicts without a cutoff type have the cosine)."""
        return cls(data["elements"], {
            e: [P.SymmetryFunction(k, tuple(nb), rc, eta, rs, zeta, lam)
                for k, nb, rc, eta, rs, zeta, lam in fs] for e, fs in data["functions"].items()},
            data.get("cutoff_type", COSINE), data.get("cutoff_alpha", 0.0))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SymmetryFunctions) and self.elements == other.elements
                and self.functions == other.functions
                and (self.cutoff_type, self.cutoff_alpha) == (other.cutoff_type,
                                                              other.cutoff_alpha))

    # ----- properties ---------------------------------------------------------------------
    @property
    def n_features(self) -> dict[str, int]:
        """Number of functions of each centre element."""
        return {e: len(fs) for e, fs in self.functions.items()}

    @property
    def width(self) -> int:
        """D: columns of ``values`` (the largest per-element count)."""
        return max(self.n_features.values())

    @property
    def cutoff(self) -> float:
        """The largest Rc (Å): the neighbour-list cutoff."""
        return max(f.cutoff for fs in self.functions.values() for f in fs)

    def species_of(self, atoms: ase.Atoms) -> np.ndarray:
        """Species index of each atom; unknown elements raise :class:`InputError`."""
        index = {e: n for n, e in enumerate(self.elements)}
        symbols = atoms.get_chemical_symbols()
        unknown = sorted(set(symbols) - set(index))
        if unknown:
            raise InputError(f"element(s) {', '.join(unknown)} not in the descriptor's elements "
                             f"[{', '.join(self.elements)}]")
        return np.fromiter((index[s] for s in symbols), dtype=np.int64, count=len(symbols))

    def table(self, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu"
              ) -> FunctionTable:
        """The padded parameter tensors on ``device`` (cached)."""
        device = torch.device(device)
        key = (dtype, device)
        if key not in self._tables:
            self._tables[key] = self._build_table().to(dtype, device)
        return self._tables[key]

    def _build_table(self) -> FunctionTable:
        index = {e: n for n, e in enumerate(self.elements)}
        width = self.width
        radial = {e: [(n, f) for n, f in enumerate(fs) if f.kind == P.RADIAL]
                  for e, fs in self.functions.items()}
        angular = {e: [(n, f) for n, f in enumerate(fs) if f.kind != P.RADIAL]
                   for e, fs in self.functions.items()}
        n_r = max(len(v) for v in radial.values())
        n_a = max(len(v) for v in angular.values())
        n_el = len(self.elements)

        def filled(n_slots, value, dtype=torch.float64):
            return torch.full((n_el, n_slots), value, dtype=dtype)

        r = {"eta": filled(n_r, 0.0), "rs": filled(n_r, 0.0), "rc": filled(n_r, 1.0),
             "t1": filled(n_r, -1, torch.long), "col": filled(n_r, width, torch.long)}
        a = {"eta": filled(n_a, 0.0), "rs": filled(n_a, 0.0), "rc": filled(n_a, 1.0),
             "zeta": filled(n_a, 1.0),
             "lam": filled(n_a, 1.0), "kappa": filled(n_a, 0.0), "norm": filled(n_a, 1.0),
             "t1": filled(n_a, -1, torch.long), "t2": filled(n_a, -1, torch.long),
             "col": filled(n_a, width, torch.long)}
        for e in self.elements:
            c = index[e]
            for slot, (col, f) in enumerate(radial[e]):
                r["eta"][c, slot], r["rs"][c, slot], r["rc"][c, slot] = f.eta, f.rs, f.cutoff
                r["t1"][c, slot], r["col"][c, slot] = index[f.neighbors[0]], col
            for slot, (col, f) in enumerate(angular[e]):
                a["eta"][c, slot], a["rs"][c, slot], a["rc"][c, slot] = f.eta, f.rs, f.cutoff
                a["zeta"][c, slot], a["lam"][c, slot] = f.zeta, f.lam
                a["kappa"][c, slot] = 1.0 if f.kind == P.ANGULAR_NARROW else 0.0
                a["norm"][c, slot] = 2.0 ** (1.0 - f.zeta)
                a["t1"][c, slot], a["t2"][c, slot] = (index[f.neighbors[0]],
                                                      index[f.neighbors[1]])
                a["col"][c, slot] = col
        return FunctionTable(width, r, a, self.cutoff_type, self.cutoff_alpha)

    # ----- computation ----------------------------------------------------------------------
    def compute(self, atoms: ase.Atoms, derivatives: bool = False, *,
                dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu",
                backend: str = "auto", neighbors: Neighbors | None = None) -> FeatureBlock:
        """Features of one structure (and, with ``derivatives``, dG/dR and virial terms);
        ``neighbors``: a precomputed list within :attr:`cutoff` (e.g. from a
        :class:`NeighborCache`); other arguments as :meth:`compute_many`."""
        return self.compute_many([atoms], derivatives, dtype=dtype, device=device,
                                 backend=backend, progress=False,
                                 neighbor_lists=None if neighbors is None else [neighbors])[0]

    def compute_many(self, frames: Sequence[ase.Atoms], derivatives: bool = False, *,
                     dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu",
                     backend: str = "auto", progress: bool = True,
                     neighbor_lists: Sequence[Neighbors] | None = None) -> list[FeatureBlock]:
        """Features of many structures, several per kernel call; shows a progress bar.

        Args:
            frames: structures (positions in Å).
            derivatives: also compute the sparse Jacobian dG/dR and the virial terms.
            dtype: float64 (default) or float32.
            device: where the result lives and, for the torch backend, where it is computed.
            backend: ``"numba"`` (compiled CPU kernel), ``"torch"`` (vectorised torch,
                any device) or ``"auto"``: numba on CPU, torch elsewhere.
            neighbor_lists: one precomputed list per frame (default: built here).
        """
        device = torch.device(device)
        if backend == "auto":
            backend = "numba" if device.type == "cpu" else "torch"
        if backend not in ("numba", "torch"):
            raise ValueError(f"unknown backend {backend!r}: numba, torch or auto")
        blocks: list[FeatureBlock] = []
        bar = tqdm(total=len(frames), desc="featurising", unit="frame",
                   disable=not progress or len(frames) < 2)
        lists = iter(neighbor_lists) if neighbor_lists is not None else None
        for batch in _batches(frames):
            given = None if lists is None else [next(lists) for _ in batch]
            blocks.extend(self._compute_batch(batch, derivatives, dtype, device, backend, given))
            bar.update(len(batch))
        bar.close()
        return blocks

    def _run_numba(self, positions, species, centers, neighbors, offsets, derivatives, dtype
                   ) -> KernelOutput:
        if "numba" not in self._tables:
            self._tables["numba"] = compiled.compiled_tables(self.table())
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        vec = (positions[neighbors] - positions[centers] + offsets).astype(np_dtype)
        out = compiled.features(self._tables["numba"], species, centers, neighbors, vec,
                                self.width, derivatives)
        if not derivatives:
            return KernelOutput(torch.from_numpy(out))
        return KernelOutput(*(torch.from_numpy(x) for x in out))

    def _compute_batch(self, frames, derivatives, dtype, device, backend, given=None
                       ) -> list[FeatureBlock]:
        species, centers, neighbors, offsets = [], [], [], []
        start = 0
        for k, atoms in enumerate(frames):
            nl = neighbor_list(atoms, self.cutoff) if given is None else given[k]
            species.append(self.species_of(atoms))
            centers.append(nl.centers + start)
            neighbors.append(nl.neighbors + start)
            offsets.append(nl.shifts @ atoms.cell.array)
            start += len(atoms)

        arrays = [np.concatenate(x) for x in
                  ([a.positions for a in frames], species, centers, neighbors, offsets)]
        if backend == "numba":
            out = self._run_numba(*arrays, derivatives, dtype)
        else:
            positions, species_t, centers_t, neighbors_t, offsets_t = (
                torch.from_numpy(x).to(device) for x in arrays)
            out = symmetry_functions(positions.to(dtype), species_t, centers_t, neighbors_t,
                                     offsets_t.to(dtype), self.table(dtype, device), derivatives)
        out = KernelOutput(*(None if x is None else x.to(device) for x in
                             (out.values, out.pairs, out.dG, out.virial)))
        species_t = torch.from_numpy(arrays[1]).to(device)
        sizes = [len(a) for a in frames]
        values = out.values.split(sizes)
        spec = species_t.split(sizes)
        if not derivatives:
            return [FeatureBlock(v, s) for v, s in zip(values, spec, strict=True)]
        pair_counts = torch.bincount(out.pairs[:, 0], minlength=start)
        pair_sizes = [int(x) for x in torch.stack([c.sum() for c in pair_counts.split(sizes)])]
        offsets_atoms = np.cumsum([0, *sizes[:-1]])
        return [FeatureBlock(v, s, p - off, g, w) for v, s, p, g, w, off in zip(
            values, spec, out.pairs.split(pair_sizes), out.dG.split(pair_sizes),
            out.virial.split(sizes), offsets_atoms, strict=True)]


def _batches(frames: Sequence[ase.Atoms]):
    batch, n_atoms = [], 0
    for atoms in frames:
        if batch and (len(batch) >= MAX_BATCH_STRUCTURES or n_atoms + len(atoms) > MAX_BATCH_ATOMS):
            yield batch
            batch, n_atoms = [], 0
        batch.append(atoms)
        n_atoms += len(atoms)
    if batch:
        yield batch

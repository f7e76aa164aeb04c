"""Symmetry-function parameters: SIMPLE-NN ``params_XX`` files, n2p2 ``symfunction_short``
lines, and the SIMPLE-NN default set.

Formulas (SIMPLE-NN conventions, eta in 1/Å^2 on raw distances; fc is the cosine cutoff
0.5 (1 + cos(pi R / Rc)) by default, or any of n2p2's family, see ``descriptors.cutoff``)::

    G2 = sum_j exp(-eta (R_ij - Rs)^2) fc(R_ij)                          (neighbour type t1)
    G4 = 2^(1-zeta) sum_{j<k} (1 + lambda cos theta_ijk)^zeta
         exp(-eta ((R_ij-Rs)^2 + (R_ik-Rs)^2 + (R_jk-Rs)^2)) fc(R_ij) fc(R_ik) fc(R_jk)
                                                                         (types {t1, t2})
    G5 = G4 without the R_jk term in the exponent and without fc(R_jk)

Rs = 0 for angular functions is SIMPLE-NN's G4/G5; a shift is n2p2's shifted form of its
types 3 and 9.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gdfnn.errors import InputError

RADIAL, ANGULAR_NARROW, ANGULAR_WIDE = 2, 4, 5
KINDS = (RADIAL, ANGULAR_NARROW, ANGULAR_WIDE)

# SIMPLE-NN default set (the paper's 26-D G for one element).
DEFAULT_CUTOFF = 6.0
DEFAULT_G2_ETA = (0.003214, 0.035711, 0.071421, 0.124987, 0.214264, 0.357106, 0.714213, 1.428426)
DEFAULT_G4_ETA = (0.000357, 0.028569, 0.089277)
DEFAULT_G4_ZETA = (1.0, 2.0, 4.0)
DEFAULT_G4_LAMBDA = (-1.0, 1.0)

# n2p2 symmetry-function types that map exactly onto ours.
N2P2_TO_KIND = {2: RADIAL, 3: ANGULAR_NARROW, 9: ANGULAR_WIDE}
KIND_TO_N2P2 = {v: k for k, v in N2P2_TO_KIND.items()}
#: n2p2 types gdfnn does not compute, by name (for the error message).
N2P2_UNSUPPORTED = {12: "weighted radial", 13: "weighted angular",
                    **{t: "compact polynomial" for t in range(20, 29)}}


@dataclass(frozen=True)
class SymmetryFunction:
    """One symmetry function of a centre element.

    Attributes:
        kind: 2 (G2 radial), 4 (G4 narrow angular) or 5 (G5 wide angular).
        neighbors: neighbour element(s): ``(t1,)`` for G2, ``(t1, t2)`` for G4/G5.
        cutoff: Rc in Å.
        eta: Gaussian exponent in 1/Å^2.
        rs: radial shift in Å (G2; for G4/G5 n2p2's shifted angular form, SIMPLE-NN: 0).
        zeta: angular exponent (>= 1; G4/G5 only).
        lam: lambda, +1 or -1 (G4/G5 only).
    """

    kind: int
    neighbors: tuple[str, ...]
    cutoff: float
    eta: float
    rs: float = 0.0
    zeta: float = 1.0
    lam: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown symmetry-function type {self.kind} (known: 2, 4, 5)")
        if len(self.neighbors) != (1 if self.kind == RADIAL else 2):
            raise ValueError(f"type {self.kind} needs {1 if self.kind == RADIAL else 2} "
                             f"neighbour element(s), got {self.neighbors}")
        if not self.cutoff > 0:
            raise ValueError(f"cutoff must be positive, got Rc = {self.cutoff}")
        if self.eta < 0:
            raise ValueError(f"eta must be >= 0, got {self.eta}")
        if self.kind != RADIAL:
            if self.zeta < 1:
                raise ValueError(f"zeta must be >= 1, got {self.zeta}")
            if self.lam not in (-1.0, 1.0):
                raise ValueError(f"lambda must be +1 or -1, got {self.lam}")


def default_functions(elements: list[str], cutoff: float = DEFAULT_CUTOFF
                      ) -> list[SymmetryFunction]:
    """SIMPLE-NN's default set for one centre element: 8 G2 per neighbour element, 18 G4 per
    unordered neighbour pair (26 functions for one element, 70 for two)."""
    functions = [SymmetryFunction(RADIAL, (t,), cutoff, eta) for t in elements
                 for eta in DEFAULT_G2_ETA]
    pairs = [(a, b) for n, a in enumerate(elements) for b in elements[n:]]
    functions += [SymmetryFunction(ANGULAR_NARROW, pair, cutoff, eta, zeta=zeta, lam=lam)
                  for pair in pairs for eta in DEFAULT_G4_ETA for zeta in DEFAULT_G4_ZETA
                  for lam in DEFAULT_G4_LAMBDA]
    return functions


def _number(text: str) -> str:
    """SIMPLE-NN writes Python floats; keep that form (``6.0``, ``0.003214``)."""
    return repr(float(text))


def read_simple_nn_params(path: str | os.PathLike, elements: list[str]) -> list[SymmetryFunction]:
    """Read a SIMPLE-NN ``params_XX`` file: lines ``type t1 t2 Rc p1 p2 p3`` with 1-based
    element indices (t2 = 0 for G2); G2: p1 = eta, p2 = Rs; G4/G5: p1 = eta, p2 = zeta,
    p3 = lambda."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such params file")
    functions = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        where = f"{path}: line {lineno}"
        if len(fields) != 7:
            raise InputError(f"{where}: expected 'type t1 t2 Rc p1 p2 p3', got {line.strip()!r}")
        try:
            kind, t1, t2 = (int(x) for x in fields[:3])
            rc, p1, p2, p3 = (float(x) for x in fields[3:])
        except ValueError:
            raise InputError(f"{where}: not numbers: {line.strip()!r}") from None
        indices = (t1,) if kind == RADIAL else (t1, t2)
        for t in indices:
            if not 1 <= t <= len(elements):
                raise InputError(f"{where}: element index {t} outside 1..{len(elements)} "
                                 f"(elements {elements})")
        neighbors = tuple(elements[t - 1] for t in indices)
        try:
            if kind == RADIAL:
                functions.append(SymmetryFunction(kind, neighbors, rc, p1, rs=p2))
            else:
                functions.append(SymmetryFunction(kind, neighbors, rc, p1, zeta=p2, lam=p3))
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
    if not functions:
        raise InputError(f"{path}: params file defines no symmetry function")
    return functions


def format_simple_nn_params(functions: list[SymmetryFunction], elements: list[str]) -> str:
    """The ``params_XX`` text of ``functions`` (inverse of :func:`read_simple_nn_params`)."""
    lines = []
    for f in functions:
        if f.kind != RADIAL and f.rs != 0.0:
            raise InputError(f"SIMPLE-NN params have no shifted angular functions (rs = {f.rs})")
        t1 = elements.index(f.neighbors[0]) + 1
        if f.kind == RADIAL:
            t2, p = 0, (f.eta, f.rs, 0.0)
        else:
            t2, p = elements.index(f.neighbors[1]) + 1, (f.eta, f.zeta, f.lam)
        numbers = " ".join(_number(x) for x in (f.cutoff, *p))
        lines.append(f"{f.kind} {t1} {t2} {numbers}")
    return "\n".join(lines) + "\n"


def parse_n2p2_symfunction(fields: list[str], where: str, length_factor: float = 1.0
                           ) -> tuple[str, SymmetryFunction]:
    """One n2p2 ``symfunction_short`` line (keyword removed) -> (centre element, function).

    Type 2 ``e 2 e1 eta rs rc``; type 3 ``e 3 e1 e2 eta lambda zeta rc [rs]`` (-> G4);
    type 9 ``e 9 e1 e2 eta lambda zeta rc [rs]`` (-> G5). Lengths are multiplied by
    ``length_factor`` (Å per file length unit), eta divided by its square.
    """
    try:
        centre, n2p2_type = fields[0], int(fields[1])
        if n2p2_type not in N2P2_TO_KIND:
            name = N2P2_UNSUPPORTED.get(n2p2_type, "unknown")
            raise InputError(f"{where}: n2p2 symmetry-function type {n2p2_type} ({name}) is not "
                             "supported by gdfnn (supported: 2 radial, 3 narrow angular, "
                             "9 wide angular)")
        kind = N2P2_TO_KIND[n2p2_type]
        scale_eta = 1.0 / length_factor**2
        if kind == RADIAL:
            eta, rs, rc = (float(x) for x in fields[3:6])
            return centre, SymmetryFunction(kind, (fields[2],), rc * length_factor,
                                            eta * scale_eta, rs=rs * length_factor)
        eta, lam, zeta, rc = (float(x) for x in fields[4:8])
        rs = float(fields[8]) if len(fields) > 8 else 0.0
        return centre, SymmetryFunction(kind, (fields[2], fields[3]), rc * length_factor,
                                        eta * scale_eta, rs=rs * length_factor, zeta=zeta,
                                        lam=lam)
    except (ValueError, IndexError) as exc:
        raise InputError(f"{where}: cannot parse symfunction_short {' '.join(fields)!r}"
                         f"{f' ({exc})' if isinstance(exc, ValueError) else ''}") from None


def format_n2p2_symfunction(centre: str, f: SymmetryFunction, length_factor: float = 1.0) -> str:
    """The n2p2 ``symfunction_short`` line of ``f`` in file units (Å / ``length_factor``)."""
    to_file = 1.0 / length_factor
    eta = f.eta * length_factor**2
    if f.kind == RADIAL:
        return (f"symfunction_short {centre} 2 {f.neighbors[0]} {eta!r} {f.rs * to_file!r} "
                f"{f.cutoff * to_file!r}")
    return (f"symfunction_short {centre} {KIND_TO_N2P2[f.kind]} {f.neighbors[0]} {f.neighbors[1]} "
            f"{eta!r} {f.lam!r} {f.zeta!r} {f.cutoff * to_file!r} {f.rs * to_file!r}")

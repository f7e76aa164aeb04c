"""Coverage: is an atom inside the training data, and how large is its force error likely to be?

Coverage reads the GDF (eq. 2) of an atom against the potential's training atoms, with its own
width and floor, apart from the loss weighting's (the paper's sigma 0.02 is a weight's width:
at it, most atoms of the training distribution have no training neighbour inside the kernel).

- **Width** (:func:`knn_width`): the median, over training atoms, of the distance to their
  ``k``-th nearest other training atom that is not a copy of them (the RMS metric of eq. 2;
  copies, such as the equivalent atoms of a crystal, are not neighbours). A training atom
  then typically sees ``k`` neighbours inside one width.
- **Floor** (:func:`heldout_floor`): the rho below which a share ``quantile`` (default 1 %) of
  held-out atoms of the training distribution fall. Held out: each training atom against the
  training atoms of *other* frames (leave-one-frame-out: its own frame's atoms, its own kernel
  term among them, are removed from the sum), and the validation atoms against all training
  atoms. So by construction about 1 % of new atoms drawn like the training data are flagged;
  an atom below the floor is rarer than 99 % of them.
- **Verdict** (``signal``): an atom is outside the training data when its rho lies below the
  floor (``"rho"``), or, for new potentials (``"llpr"``), when its last-layer rigidity signal
  (:mod:`gdfnn.model.rigidity`) lies above the **ceiling** (:func:`heldout_ceiling`): the
  level above which a share ``quantile`` of held-out atoms lie (training atoms against the
  rigidity of the other frames, validation atoms against all). The rigidity ranks force errors
  better than rho on every set measured (docs/coverage.md) and costs a few hundred
  multiply-adds per atom on the hidden layer the force call computes anyway; rho and its floor
  stay recorded (``coverage.signal: rho`` decides on them, and thresholds on rho still work).
- **Error bar** (:class:`ErrorMap`): a monotone map from the log10 of a signal to the RMS of
  the force-error vector ``|F_pred - F_ref|`` (eV/Å), fitted on validation atoms (isotonic
  regression of the squared error on binned log signal). New potentials map the last-layer
  rigidity (``"llpr"``, :mod:`gdfnn.model.rigidity`: the error grows with it), which ranks
  and calibrates errors better than rho (``benchmarks.calibration``: worst decile within
  21-35 % against 75-80 %); files calibrated before it map rho (the error falls as it grows).

A potential file stores, per element, :class:`ElementCoverage` in its metadata
(``metadata["coverage"]``, :func:`coverage_metadata`). Files written before it carry the old
floor (the least covered training atom with its own kernel term, at the weighting sigma):
:data:`LEGACY` marks them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import torch

from gdfnn.errors import InputError
from gdfnn.gdf.kernel import gaussian_sums

log = logging.getLogger("gdfnn")

#: ``k`` of the width rule and the share of held-out atoms below the floor (defaults of the
#: config's ``coverage`` section).
DEFAULT_NEIGHBOURS = 10
DEFAULT_QUANTILE = 0.01
#: At most this many training atoms (chosen at random, seeded) set the width, and at most this
#: many held-out atoms the floor: both are medians/quantiles, well estimated from a sample.
WIDTH_SAMPLE = 2_000
HELDOUT_SAMPLE = 20_000
#: Training atoms per block of the width rule's distances (memory follows it, not M).
KNN_COLUMNS = 65_536
#: Distances below this (RMS, scaled features) are copies of one environment, not neighbours.
COPY_DISTANCE = 1e-6
#: Validation atoms per bin of the error map and the largest number of bins.
ATOMS_PER_BIN = 50
MAX_BINS = 20
#: The chance that a frame drawn like the training data has more atoms below the floor than
#: :func:`allowed_below` allows (one check; a run of 500 checks: about 5 % at most).
STOP_FALSE_ALARM = 1e-4
#: Version of the coverage record in a potential's metadata; files without one are LEGACY.
COVERAGE_VERSION = 2
LEGACY = "legacy"


#: The signals an error map reads: the GDF rho (error falls as it grows) and the last-layer
#: rigidity (error grows with it).
RHO, LLPR = "rho", "llpr"
SIGNALS = (RHO, LLPR)


@dataclass(frozen=True)
class ErrorMap:
    """Expected force error (eV/Å, RMS of ``|F_pred - F_ref|``) as a monotone function of
    the log10 of a ``signal`` (:data:`SIGNALS`): non-increasing for rho, non-decreasing for
    llpr; linear between the knots ``log10_signal`` (ascending) -> ``force_rmse``, flat beyond
    them (outside the validation atoms' range the estimate is a bound)."""

    log10_signal: tuple[float, ...]
    force_rmse: tuple[float, ...]
    signal: str = RHO

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """``(n,)`` expected error (eV/Å) of atoms with signal ``values (n,)``; NaN where the
        value is."""
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.log10(np.maximum(values, 1e-300))
        out = np.sqrt(np.interp(x, self.log10_signal, np.square(self.force_rmse)))
        return np.where(np.isnan(values), np.nan, out)

    def to_dict(self) -> dict:
        return {"signal": self.signal, "log10_signal": list(self.log10_signal),
                "force_rmse": list(self.force_rmse)}

    @classmethod
    def from_dict(cls, data: Mapping) -> ErrorMap:
        """The map recorded by :meth:`to_dict` (records before the signal was named: rho)."""
        knots = data.get("log10_signal", data.get("log10_rho"))
        return cls(tuple(knots), tuple(data["force_rmse"]), str(data.get("signal", RHO)))


@dataclass(frozen=True)
class ElementCoverage:
    """One element's coverage: width ``sigma`` and ``floor`` of rho (see the module), how
    they were set (``kind``: ``"heldout"``, or :data:`LEGACY`), the held-out atoms the floor
    was read on, the error map (None until calibrated), ``quantile``, the share of held-out
    atoms outside (0 for the legacy kind: no training atom is below its floor), the
    ``ceiling`` of the last-layer rigidity (NaN until calibrated) and ``signal``, what the
    verdict reads (:data:`SIGNALS`: rho against the floor, llpr against the ceiling)."""

    sigma: float
    floor: float
    kind: str = "heldout"
    heldout_atoms: int = 0
    error: ErrorMap | None = None
    quantile: float = DEFAULT_QUANTILE
    ceiling: float = math.nan
    signal: str = RHO

    def outside(self, rho: np.ndarray, rigidity: np.ndarray | None = None) -> np.ndarray:
        """``(n,)`` bool: atoms outside the training data by the verdict's signal, from their
        ``rho (n,)`` and last-layer ``rigidity (n,)`` (NaN, or None, where unknown: not
        outside)."""
        if self.signal == LLPR:
            if rigidity is None:
                return np.zeros(len(rho), dtype=bool)
            return np.asarray(rigidity) > self.ceiling
        return np.asarray(rho) < self.floor

    def to_dict(self) -> dict:
        out = asdict(self)
        out["error"] = None if self.error is None else self.error.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> ElementCoverage:
        error = data.get("error")
        return cls(float(data["sigma"]), float(data["floor"]), str(data.get("kind", "heldout")),
                   int(data.get("heldout_atoms", 0)),
                   None if error is None else ErrorMap.from_dict(error),
                   float(data.get("quantile", DEFAULT_QUANTILE)),
                   float(data.get("ceiling", math.nan)), str(data.get("signal", RHO)))


@dataclass(frozen=True)
class CoverageSettings:
    """How coverage is set at training: ``width`` (a number on [-1, 1]-scaled features, or
    ``"knn"``: :func:`knn_width` with ``neighbours``), ``quantile``, the share of held-out
    atoms outside, ``signal``, what the verdict of the trained potential reads
    (:data:`SIGNALS`), and the ``seed`` of the atom samples."""

    width: float | str = "knn"
    neighbours: int = DEFAULT_NEIGHBOURS
    quantile: float = DEFAULT_QUANTILE
    seed: int = 0
    signal: str = LLPR


def _sample(n: int, limit: int, seed: int) -> torch.Tensor:
    if n <= limit:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:limit].sort().values


def knn_width(train_x: torch.Tensor, neighbours: int = DEFAULT_NEIGHBOURS, *,
              seed: int = 0) -> float:
    """The median over training atoms ``(M, D)`` (at most :data:`WIDTH_SAMPLE`) of the RMS
    distance ``|x_i - x_j| / sqrt(D)`` to their ``neighbours``-th nearest training atom that
    is not a copy of them (closer than :data:`COPY_DISTANCE`). Refused when no atom has that
    many."""
    x = train_x.to(torch.float64)
    x = x - x.mean(0)  # centred: smaller |x|^2, less cancellation in the GEMM
    m, d = x.shape
    queries = x[_sample(m, WIDTH_SAMPLE, seed)]
    sq = (x * x).sum(1)
    kth = []
    for start in range(0, queries.shape[0] if m >= neighbours else 0, 256):
        q = queries[start:start + 256]
        qq = (q * q).sum(1)[:, None]
        nearest = []  # the k nearest of each block of references, then of those
        for first in range(0, m, KNN_COLUMNS):
            block = x[first:first + KNN_COLUMNS]
            d2 = (qq + sq[None, first:first + KNN_COLUMNS]
                  - 2.0 * q @ block.T).clamp_(min=0.0) / d
            d2[d2 < COPY_DISTANCE**2] = math.inf  # itself and its copies
            nearest.append(d2.topk(min(neighbours, d2.shape[1]), dim=1, largest=False).values)
        values = torch.cat(nearest, 1).topk(neighbours, dim=1, largest=False).values[:, -1]
        kth.append(values[torch.isfinite(values)])
    distances = torch.cat(kth) if kth else torch.empty(0, dtype=torch.float64)
    if distances.numel() == 0:
        raise InputError(f"coverage width: no training atom has {neighbours} neighbours that "
                         f"are not copies of it ({m} atoms): set coverage.width to a number, "
                         "or coverage.neighbours lower")
    return float(distances.median().sqrt())


def heldout_rho(train_x: torch.Tensor, train_frame: np.ndarray, sigma: float,
                valid_x: torch.Tensor | None = None, *, seed: int = 0) -> np.ndarray:
    """rho of held-out atoms of the training distribution, at width ``sigma``: training atoms
    ``(M, D)`` (at most :data:`HELDOUT_SAMPLE`) against the training atoms of the other frames
    (``train_frame (M,)``: each atom's frame), then validation atoms ``valid_x (V, D)`` against
    all training atoms. float64."""
    x = train_x.to(torch.float64)
    frame = np.asarray(train_frame)
    m = x.shape[0]
    pick = _sample(m, HELDOUT_SAMPLE, seed).numpy()
    # kernel sums against all training atoms, less those of the atom's own frame
    sums = _sums(x[pick], x, sigma).numpy()
    own = np.zeros(len(pick))
    n_frames = int(frame.max()) + 1
    frame_size = np.bincount(frame, minlength=n_frames)
    by_frame = np.argsort(frame, kind="stable")  # atoms grouped by frame, once
    starts = np.searchsorted(frame[by_frame], np.arange(n_frames + 1))
    picked = frame[pick]
    picked_by_frame = np.argsort(picked, kind="stable")
    picked_starts = np.searchsorted(picked[picked_by_frame], np.arange(n_frames + 1))
    for f in np.unique(picked):
        slots = picked_by_frame[picked_starts[f]:picked_starts[f + 1]]
        members = by_frame[starts[f]:starts[f + 1]]
        own[slots] = _sums(x[pick[slots]], x[members], sigma).numpy()
    others = m - frame_size[frame[pick]]
    with np.errstate(invalid="ignore", divide="ignore"):
        loo = np.where(others > 0, np.maximum(sums - own, 0.0) / others, np.nan)
    loo = loo[np.isfinite(loo)]
    has_valid = valid_x is not None and valid_x.shape[0] > 0
    if loo.size == 0 and not has_valid and m > 1:  # one frame: leave each atom out instead
        log.warning("coverage: one training frame and no validation frame: the floor is read "
                    "on the training atoms less their own kernel term")
        loo = (sums - 1.0) / (m - 1)
    if has_valid:
        v = valid_x.to(torch.float64)
        v = v[_sample(v.shape[0], HELDOUT_SAMPLE, seed + 1)]
        loo = np.concatenate([loo, _sums(v, x, sigma).numpy() / m])
    return loo


def _sums(queries: torch.Tensor, references: torch.Tensor, sigma: float) -> torch.Tensor:
    """Unnormalised kernel sums of eq. 2 at width ``sigma``, float64."""
    return gaussian_sums(queries, references, 1.0 / (2.0 * sigma**2 * queries.shape[1]))


def heldout_floor(rho: np.ndarray, quantile: float = DEFAULT_QUANTILE) -> float:
    """The floor: the ``quantile`` of held-out rho ``(n,)``."""
    if rho.size == 0:
        raise InputError("coverage floor: no held-out atoms (one training frame and no "
                         "validation frames)")
    return float(np.quantile(rho, quantile))


def heldout_ceiling(rigidity: np.ndarray, quantile: float = DEFAULT_QUANTILE) -> float:
    """The ceiling: the level of held-out last-layer rigidity ``(n,)`` above which a share
    ``quantile`` of them lie."""
    if rigidity.size == 0:
        raise InputError("coverage ceiling: no held-out atoms")
    return float(np.quantile(rigidity, 1.0 - quantile))


def fit_element_coverage(train_x: torch.Tensor, train_frame: np.ndarray,
                         valid_x: torch.Tensor | None, settings: CoverageSettings
                         ) -> ElementCoverage:
    """Width and floor of one element from its scaled training atoms ``(M, D)``, their frames
    ``(M,)`` and its scaled validation atoms ``(V, D)`` (or None)."""
    sigma = (knn_width(train_x, settings.neighbours, seed=settings.seed)
             if settings.width == "knn" else float(settings.width))
    rho = heldout_rho(train_x, train_frame, sigma, valid_x, seed=settings.seed)
    return ElementCoverage(sigma, heldout_floor(rho, settings.quantile), "heldout", rho.size,
                           quantile=settings.quantile)


def allowed_below(n_atoms: int, quantile: float,
                  false_alarm: float = STOP_FALSE_ALARM) -> int:
    """The most atoms of a frame of ``n_atoms`` that may lie below the floor before the frame
    counts as outside the training data: a frame drawn like the training data has each atom
    below it with probability ``quantile``, so more than this many with probability at most
    ``false_alarm`` (binomial tail), and fewer than all of them. 0 for ``quantile`` 0 (any
    atom below is outside).

    A per-atom floor alone stops a large frame by chance: 215 atoms at a 1 % floor have one
    atom below it in 88 % of frames drawn like the training data; the allowance is 9."""
    if quantile <= 0 or n_atoms <= 0:
        return 0
    if quantile >= 1:
        return n_atoms - 1
    mean, spread = n_atoms * quantile, math.sqrt(n_atoms * quantile * (1 - quantile))
    k = np.arange(min(n_atoms, int(mean + 40 * spread + 40)) + 1)
    log_pmf = (math.lgamma(n_atoms + 1) - np.array([math.lgamma(i + 1) for i in k])
               - np.array([math.lgamma(n_atoms - i + 1) for i in k])
               + k * math.log(quantile) + (n_atoms - k) * math.log1p(-quantile))
    above = np.cumsum(np.exp(log_pmf)[::-1])[::-1]  # above[i] = P(X >= i)
    return min(int(np.argmax(np.append(above[1:], 0.0) <= false_alarm)), n_atoms - 1)


def fit_error_map(values: np.ndarray, force_error: np.ndarray, signal: str = RHO) -> ErrorMap:
    """The error map of validation atoms' ``signal`` values ``(n,)`` and force-error norms
    ``(n,)`` eV/Å: atoms sorted by the signal into bins of at least :data:`ATOMS_PER_BIN` (at
    most :data:`MAX_BINS`), the mean squared error per bin made monotone (non-increasing in
    rho, non-decreasing in llpr) by pooling adjacent bins (isotonic regression, weighted by
    atoms), knots at each bin's median log10 signal."""
    if signal not in SIGNALS:
        raise InputError(f"coverage error map: unknown signal {signal!r} "
                         f"(one of {', '.join(SIGNALS)})")
    values, force_error = np.asarray(values, np.float64), np.asarray(force_error, np.float64)
    keep = np.isfinite(values) & np.isfinite(force_error)
    values, force_error = values[keep], force_error[keep]
    if values.size < 2 * ATOMS_PER_BIN:
        raise InputError(f"coverage error map: {values.size} validation atoms, at least "
                         f"{2 * ATOMS_PER_BIN} needed")
    order = np.argsort(values, kind="stable")
    x = np.log10(np.maximum(values[order], 1e-300))
    bins = np.array_split(np.arange(values.size),
                          min(MAX_BINS, values.size // ATOMS_PER_BIN))
    knots = np.array([np.median(x[b]) for b in bins])
    mse = np.array([np.mean(force_error[order][b] ** 2) for b in bins])
    weights = np.array([len(b) for b in bins], dtype=np.float64)
    if signal == RHO:
        fitted = _pool_adjacent(mse, weights)
    else:
        fitted = _pool_adjacent(mse[::-1], weights[::-1])[::-1]
    return ErrorMap(tuple(knots.tolist()), tuple(np.sqrt(fitted).tolist()), signal)


def _pool_adjacent(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The non-increasing sequence closest to ``values`` in weighted least squares (pool
    adjacent violators)."""
    blocks: list[list[float]] = []  # [value, weight, length]
    for v, w in zip(values, weights, strict=True):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([np.full(n, v) for v, _, n in blocks])


def coverage_metadata(elements: Mapping[str, ElementCoverage],
                      settings: CoverageSettings | None = None) -> dict:
    """What a potential records of its coverage (``metadata["coverage"]``): per element, and
    the settings that made it (None: not known, e.g. read from a LAMMPS file)."""
    made = {} if settings is None else {"width": settings.width, "neighbours":
                                        settings.neighbours, "quantile": settings.quantile,
                                        "signal": settings.signal}
    return {"version": COVERAGE_VERSION, **made,
            "elements": {e: c.to_dict() for e, c in elements.items()}}


def read_coverage_metadata(metadata: Mapping) -> dict[str, ElementCoverage] | None:
    """Per element, the coverage recorded in a potential's metadata; None for a file written
    before coverage had its own width and floor."""
    record = metadata.get("coverage")
    if not record or record.get("version") != COVERAGE_VERSION:
        return None
    return {e: ElementCoverage.from_dict(c) for e, c in record["elements"].items()}

"""A fixed GDF reference, prepared once, for many small density queries (coverage in MD).

:func:`gdfnn.gdf.density` prepares its references on every call (centring, augmenting,
a tile buffer), which costs more than the kernel itself for a 64-atom query against ten
thousand training atoms. :class:`DensityReference` does that work once; each query is then
one GEMM and one ``exp`` over ``(n, M)``.

The reference may be weighted: a compressed set of cluster centroids with member counts
(:func:`gdfnn.gdf.approximate.merge_into_cells`) stands for all its members, and rho is then
``sum_k c_k exp(-|x - y_k|^2 / h) / sum_k c_k``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from gdfnn.gdf.approximate import merge_into_cells
from gdfnn.gdf.clusters import cluster_reference, sums_below
from gdfnn.gdf.density import as_points, check_sigma, density
from gdfnn.gdf.kernel import EXP_FLOOR, TILE_COLS, TILE_ROWS, augment


class DensityReference:
    """Reference points ``(M, D)`` (scaled features of one element's training atoms), their
    optional weights ``(M,)`` (member counts of a compressed set) and the training range
    ``low, high (D,)`` (default: the points' own min and max).

    ``rho(x)`` is eq. 2 against these points with width ``sigma``; ``outside(x)`` counts
    each query's features outside the training range (n2p2's extrapolation test).
    ``dtype``: of the kernel sums; float32 (default) halves the cost of a query against
    float64 and changes rho by less than 1e-4 relative where rho > 1e-20 (tested); below,
    kernel terms under exp(-80) are floored, so such rho read as "< 1e-20", which is all a
    coverage threshold needs.
    """

    def __init__(self, points: torch.Tensor, sigma: float, *,
                 counts: torch.Tensor | None = None, low: torch.Tensor | None = None,
                 high: torch.Tensor | None = None, dtype: torch.dtype = torch.float32):
        points = as_points(points, "GDF reference", torch.float64, "cpu")
        self.sigma = check_sigma(sigma)
        self.dtype = dtype
        self.n_features = points.shape[1]
        self.low = points.min(0).values if low is None else low.double().cpu()
        self.high = points.max(0).values if high is None else high.double().cpu()
        self.counts = (torch.ones(points.shape[0], dtype=torch.float64) if counts is None
                       else counts.double().cpu())
        self.total = float(self.counts.sum())
        self._inv_h = 1.0 / (2.0 * self.sigma**2 * self.n_features)
        self._centre = points.mean(0)
        self._augmented = augment(points - self._centre, self._inv_h, query=False).to(dtype)
        self._weights = self.counts.to(dtype)
        self.points = points
        self._clusters: tuple | None = None  # (ClusteredReference, near), built on first use

    def rho(self, x: torch.Tensor) -> torch.Tensor:
        """GDF rho ``(n,)`` float64 of scaled features ``x (n, D)``."""
        x = x.detach().to("cpu", torch.float64)
        queries = augment(x - self._centre, self._inv_h, query=True).to(self.dtype)
        floor = EXP_FLOOR[self.dtype]
        sums = torch.zeros(x.shape[0], dtype=self.dtype)
        rows = max(1, (TILE_ROWS * TILE_COLS) // max(1, self._augmented.shape[0]))
        for r0 in range(0, x.shape[0], rows):
            tile = queries[r0:r0 + rows] @ self._augmented.T
            tile.clamp_(min=floor, max=0.0).exp_()
            sums[r0:r0 + rows] = tile @ self._weights
        return sums.double() / self.total

    def below(self, x: torch.Tensor, threshold: float, hints: np.ndarray | None = None
              ) -> np.ndarray:
        """``(n,)`` bool: whether rho of each query is below ``threshold``, decided exactly
        (in float64) by the cluster search of :mod:`gdfnn.gdf.clusters`, which sums a few
        dozen reference points for a typical atom instead of all M. ``hints``: each query's
        covering cluster of the previous call, updated in place (an MD step's atoms are
        those of the step before)."""
        if self._clusters is None:
            clusters = cluster_reference(self.points, self.counts)
            self._clusters = (clusters, clusters.near())
        clusters, near = self._clusters
        x = x.detach().to("cpu", torch.float64)
        return sums_below(clusters, x, self._inv_h, threshold * self.total, hints, near)

    def outside(self, x: torch.Tensor) -> torch.Tensor:
        """Number ``(n,)`` of each query's features outside the training range."""
        x = x.detach().to("cpu", torch.float64)
        return ((x < self.low) | (x > self.high)).sum(1)


def legacy_floor(reference: DensityReference) -> float:
    """The floor of potential files written before coverage had its own width and floor: rho
    of the least covered reference point against the reference, itself included, less 0.1 %
    (float32 rounding). About 1/M at the weighting sigma: it flags most atoms that are not
    copies of training atoms (see :mod:`gdfnn.gdf.coverage`). O(M^2 D)."""
    return float(reference.rho(reference.points).min()) * (1.0 - 1e-3)


@dataclass
class CompressedReference:
    """Cluster centroids ``(K, D)`` standing for ``M`` reference points, their member
    counts ``(K,)``, the points' min and max ``(2, D)``, and the largest relative error of
    rho measured against the exact reference on ``checked`` of the points."""

    centroids: torch.Tensor
    counts: torch.Tensor
    range: torch.Tensor
    max_rel_error: float
    checked: int


def compress_reference(points: torch.Tensor, sigma: float, *, radius_fraction: float = 0.1,
                       check: int = 1000, seed: int = 0) -> CompressedReference:
    """Merge reference points ``(M, D)`` into weighted centroids (members within
    ``radius_fraction * sigma`` of their centroid in the RMS metric of eq. 2, see
    :func:`merge_into_cells`), and measure rho's error on ``check`` random points (exact
    rho against all points vs rho against the centroids)."""
    points = as_points(points, "GDF reference", torch.float64, "cpu")
    sigma = check_sigma(sigma)
    centroids, counts = merge_into_cells(points, radius_fraction * sigma
                                         * math.sqrt(points.shape[1]))
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randperm(points.shape[0], generator=generator)[:check]
    exact = density(points[sample], sigma, reference=points)
    approx = DensityReference(centroids, sigma, counts=counts, dtype=torch.float64
                              ).rho(points[sample])
    error = float(((approx - exact).abs() / exact).max())
    bounds = torch.stack([points.min(0).values, points.max(0).values])
    return CompressedReference(centroids, counts, bounds, error, int(sample.numel()))

"""Approximate GDF for millions of points: references merged into weighted cells.

References are merged into clusters (a fine grid, then leader clustering of the cells, see
:func:`merge_into_cells`) whose members lie within about ``f sigma`` of their leader in the
RMS (|.|/sqrt(D)) metric of eq. 2 (f = ``radius_fraction``). Each query then sums over the
weighted centroids instead of all references: cost M x K for K clusters instead of M x M.
Because each centroid is its members' mean, first-order errors cancel; what is left is of
order f^2 (a few 1e-3 for f = 0.1).

The bound is checked, not assumed: the exact rho of a sample of queries (random ones and the
lowest-density ones, whose weights GDF raises and which approximations get wrong first) is
computed against all references, and the largest relative error of rho and of the final
weights on that sample is returned with the result.

The speed-up is the data's redundancy: K/M. Long MD of few environments compresses well;
diverse data (thermal ACSF in 26-D, where neighbours lie further apart than sigma/10)
compresses little, and the exact path (GPU or several ranks) is the right tool there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from gdfnn.gdf.density import as_points, check_sigma, density
from gdfnn.gdf.kernel import gaussian_sums
from gdfnn.gdf.modifiers import DEFAULT_B, DEFAULT_C, auto_c, theta


@dataclass
class ApproximateDensity:
    """rho ``(M,)`` with the cells used and the errors measured on the checked sample."""

    rho: torch.Tensor
    n_cells: int
    checked: int
    max_rel_error_rho: float
    max_rel_error_weights: float


def merge_into_cells(points: torch.Tensor, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted centroids ``(K, D)`` and member counts ``(K,)`` of clusters of ``points``.

    First a grid of side ``radius / sqrt(D)`` (exact duplicates and near-copies share a cell),
    then greedy leader clustering of the cell centroids, largest cells first: every centroid
    within ``radius`` of a leader joins it (a k-d tree finds them). Copies that a grid
    boundary separated are merged again, and no member cell lies further than ``radius`` from
    its leader.
    """
    from scipy.spatial import cKDTree

    d = points.shape[1]
    side = radius / np.sqrt(d)
    codes = torch.floor((points - points.min(0).values) / side).to(torch.int64)
    _, cell, counts = torch.unique(codes, dim=0, return_inverse=True, return_counts=True)
    sums = torch.zeros(counts.numel(), d, dtype=points.dtype, device=points.device)
    sums.index_add_(0, cell, points)
    centroids = (sums / counts[:, None].to(points.dtype)).cpu().numpy()
    tree = cKDTree(centroids)
    leader = np.full(len(centroids), -1)
    for i in np.argsort(-counts.cpu().numpy(), kind="stable"):
        if leader[i] < 0:
            near = np.asarray(tree.query_ball_point(centroids[i], radius), dtype=np.int64)
            leader[near[leader[near] < 0]] = i
    _, cluster = np.unique(leader, return_inverse=True)
    cluster = torch.from_numpy(cluster).to(points.device)
    n_clusters = int(cluster.max()) + 1
    merged_counts = torch.zeros(n_clusters, dtype=counts.dtype, device=points.device)
    merged_counts.index_add_(0, cluster, counts)
    merged = torch.zeros(n_clusters, d, dtype=points.dtype, device=points.device)
    merged.index_add_(0, cluster, sums)
    return merged / merged_counts[:, None].to(points.dtype), merged_counts


def approximate_density(
    X,
    sigma: float,
    *,
    radius_fraction: float = 0.1,
    dtype: torch.dtype = torch.float32,
    check: int = 1000,
    modifier: str = "linear",
    b: float = DEFAULT_B,
    c: float | str = DEFAULT_C,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> ApproximateDensity:
    """Approximate self-density rho of ``X`` ``(M, D)`` (eq. 2, references = ``X``).

    Args:
        radius_fraction: f; members lie within f sigma (RMS metric) of their centroid.
        dtype: dtype of the kernel sums (float32 by default: its error, ~1e-4, is far below
            the approximation's and it is ~2.5x faster on CPU).
        check: size of the checked sample (half random, half lowest approximate rho).
        modifier, b, c: the modifier whose weights' error is reported.
    """
    sigma = check_sigma(sigma)
    points = as_points(X, "features", torch.float64, device)
    m, d = points.shape
    centroids, counts = merge_into_cells(points, radius_fraction * sigma * math.sqrt(d))
    inv_h = 1.0 / (2.0 * sigma**2 * d)
    sums = gaussian_sums(points.to(dtype), centroids.to(dtype), inv_h, counts.to(dtype),
                         progress=progress)
    rho = sums.to(torch.float64) / m
    sample = _checked_sample(rho, check, seed)
    exact = density(points[sample], sigma, reference=points)
    rel_rho = ((rho[sample] - exact).abs() / exact).max().item()
    # Weights are Theta(1/rho) / mean(Theta(1/rho)). If every Theta is within a factor
    # (1 +- e) of its exact value, so is the mean, and a weight is within (1+e)/(1-e).
    if c == "auto":  # SIMPLE-NN's fit on all points, then the same c on both sides
        c = auto_c(1.0 / rho)
    theta_approx = theta(1.0 / rho[sample], modifier, b, c)
    theta_exact = theta(1.0 / exact, modifier, b, c)
    e = ((theta_approx - theta_exact).abs() / theta_exact).max().item()
    rel_w = (1.0 + e) / (1.0 - e) - 1.0 if e < 1 else float("inf")
    return ApproximateDensity(rho, int(counts.numel()), int(sample.numel()), rel_rho, rel_w)


def _checked_sample(rho: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    m = rho.numel()
    if m <= n:
        return torch.arange(m, device=rho.device)
    generator = torch.Generator().manual_seed(seed)
    random = torch.randperm(m, generator=generator)[: n // 2].to(rho.device)
    lowest = torch.argsort(rho)[: n - n // 2]
    return torch.unique(torch.cat([random, lowest]))


"""Coverage decisions at the cost of a few reference points: is an atom's GDF below a threshold?

``rho(x) < t`` does not need the whole kernel sum over the M reference points. With the points
grouped into clusters (k-means: centroid ``c_k``, radius ``r_k`` = the farthest member, total
weight ``W_k``), a cluster contributes at most ``W_k exp(-(max(0, |x - c_k| - r_k))^2 / h)``
(the triangle inequality). Clusters are visited in the order of these bounds, each summed
exactly; the search stops as soon as the exact partial sum reaches the threshold (covered) or
the partial sum plus the bounds of the clusters not yet visited stays below it (uncovered).
Both exits are certain: the answer is that of the full sum. A typical atom lies inside the
training data and stops after its nearest cluster; an atom far from all of it stops on the
bounds alone.

The same algorithm runs in ``pair_style gdfnn`` (``coverage`` keyword); the potential file
carries the clusters (:func:`cluster_reference`). Sums are unnormalised: ``S(x) = sum_j w_j
exp(-|x - y_j|^2 / h)`` with ``h = 2 sigma^2 D``, and ``rho = S / sum_j w_j``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import torch

#: Ties: a sum within this relative distance of the threshold counts as reaching it, in the
#: full sum and in the search alike (the two add in different orders).
TIE = 1e-12


@dataclass(frozen=True)
class ClusteredReference:
    """Reference points ``(M, D)`` grouped into K clusters (cluster k is rows
    ``offsets[k]:offsets[k + 1]``), their weights ``(M,)``, the centroids ``(K, D)``, the
    radii ``(K,)`` (largest member distance to its centroid, Euclidean) and the clusters'
    total weights ``(K,)``. float64 numpy arrays."""

    points: np.ndarray
    weights: np.ndarray
    offsets: np.ndarray
    centroids: np.ndarray
    radii: np.ndarray
    cluster_weights: np.ndarray

    def near(self, n: int = 4) -> np.ndarray:
        """``(K, n)`` each cluster's ``n`` nearest other clusters (by centroid), for the
        search's first try after a hint."""
        c = self.centroids
        d2 = (c**2).sum(1)[:, None] - 2 * c @ c.T + (c**2).sum(1)[None, :]
        np.fill_diagonal(d2, np.inf)
        n = min(n, len(c) - 1)
        return np.argsort(d2, axis=1, kind="stable")[:, :n].astype(np.int64)

    @property
    def n_features(self) -> int:
        return self.points.shape[1]


#: Points per cluster the k-means aims at; no cluster keeps more than twice as many. A typical
#: atom inside the training data is covered by the few dozen points of its nearest cluster.
CLUSTER_SIZE = 32


def cluster_reference(points: torch.Tensor | np.ndarray, weights=None, *,
                      size: int = CLUSTER_SIZE, iterations: int = 10, seed: int = 0
                      ) -> ClusteredReference:
    """k-means (k-means++ start, ``iterations`` Lloyd steps, seeded: deterministic) of the
    reference points into clusters of about ``size`` points, the larger ones split in two
    until none has more than ``2 size``."""
    x = np.ascontiguousarray(torch.as_tensor(points).double().cpu().numpy())
    m = x.shape[0]
    w = np.ones(m) if weights is None else np.asarray(torch.as_tensor(weights).double().cpu())
    rng = np.random.default_rng(seed)
    centroids = _kmeans(x, min(m, math.ceil(m / size)), iterations, rng)
    label = _nearest(x, centroids)
    while True:  # split the largest cluster while it is too large
        counts = np.bincount(label, minlength=len(centroids))
        big = int(counts.argmax())
        if counts[big] <= 2 * size:
            break
        members = np.flatnonzero(label == big)
        halves = _kmeans(x[members], 2, iterations, rng)
        side = _nearest(x[members], halves)
        if side.min() == side.max():  # identical points: nothing to split
            break
        centroids[big] = halves[0]
        centroids = np.vstack([centroids, halves[1:]])
        label[members[side == 1]] = len(centroids) - 1
    k = len(centroids)
    order = np.argsort(label, kind="stable")
    counts = np.bincount(label, minlength=k)
    keep = counts > 0  # clusters that kept no member are dropped
    offsets = np.concatenate([[0], np.cumsum(counts[keep])]).astype(np.int64)
    points_sorted, weights_sorted, label_sorted = x[order], w[order], label[order]
    centroids = centroids[keep]
    renumber = np.cumsum(keep) - 1
    members = renumber[label_sorted]
    radii = np.zeros(len(centroids))
    np.maximum.at(radii, members, np.linalg.norm(points_sorted - centroids[members], axis=1))
    cluster_weights = np.bincount(members, weights=weights_sorted, minlength=len(centroids))
    return ClusteredReference(points_sorted, weights_sorted, offsets, centroids, radii,
                              cluster_weights)


def _kmeans(x: np.ndarray, k: int, iterations: int, rng: np.random.Generator) -> np.ndarray:
    """Centroids ``(k, D)`` of ``x`` by Lloyd's iterations from a k-means++ start."""
    centroids = _kmeans_plus_plus(x, k, rng)
    for _ in range(iterations):
        label = _nearest(x, centroids)
        counts = np.bincount(label, minlength=k)
        sums = np.zeros_like(centroids)
        np.add.at(sums, label, x)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


def _kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centroids = [x[rng.integers(len(x))]]
    nearest = ((x - centroids[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = nearest / nearest.sum() if nearest.sum() > 0 else None
        centroids.append(x[rng.choice(len(x), p=p)])
        nearest = np.minimum(nearest, ((x - centroids[-1]) ** 2).sum(1))
    return np.array(centroids)


def _nearest(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    d2 = (x**2).sum(1)[:, None] - 2 * x @ centroids.T + (centroids**2).sum(1)[None, :]
    return d2.argmin(1)


def sums_below(reference: ClusteredReference, x: torch.Tensor | np.ndarray, inv_h: float,
               threshold: float, hints: np.ndarray | None = None,
               near: np.ndarray | None = None) -> np.ndarray:
    """``(n,)`` bool: whether ``S(x_i) < threshold`` (unnormalised sums, ``inv_h = 1 / h``),
    decided by the cluster search; certain, up to :data:`TIE`. ``hints`` ``(n,)``: each
    query's covering cluster of a previous call (-1: none), tried first with its ``near``
    clusters (:meth:`ClusteredReference.near`) and updated in place, as the plugin does for
    an atom from step to step."""
    q = np.ascontiguousarray(torch.as_tensor(x).double().cpu().numpy())
    r = reference
    if hints is None:
        hints = np.full(len(q), -1, dtype=np.int64)
    if near is None:
        near = np.zeros((len(r.centroids), 0), dtype=np.int64)
    return _below(q, r.points, r.weights, r.offsets, r.centroids, r.radii, r.cluster_weights,
                  float(inv_h), float(threshold), hints, near)


def exact_sums(reference: ClusteredReference, x: torch.Tensor | np.ndarray, inv_h: float
               ) -> np.ndarray:
    """``(n,)`` the full unnormalised sums ``S(x_i)`` (every point, in stored order)."""
    q = np.ascontiguousarray(torch.as_tensor(x).double().cpu().numpy())
    return _exact(q, reference.points, reference.weights, float(inv_h))


@numba.njit(parallel=True, cache=True, fastmath=False)
def _exact(q, points, weights, inv_h):  # pragma: no cover - compiled
    out = np.empty(q.shape[0])
    for i in numba.prange(q.shape[0]):
        total = 0.0
        for j in range(points.shape[0]):
            d2 = 0.0
            for c in range(points.shape[1]):
                diff = q[i, c] - points[j, c]
                d2 += diff * diff
            total += weights[j] * math.exp(-inv_h * d2)
        out[i] = total
    return out


@numba.njit(cache=True, fastmath=False)
def _cluster_sum(q, i, points, weights, offsets, c, inv_h):  # pragma: no cover - compiled
    total = 0.0
    for j in range(offsets[c], offsets[c + 1]):
        d2 = 0.0
        for f in range(q.shape[1]):
            diff = q[i, f] - points[j, f]
            d2 += diff * diff
        total += weights[j] * math.exp(-inv_h * d2)
    return total


@numba.njit(cache=True, fastmath=False)
def _visit(q, i, points, weights, offsets, c, inv_h, partial, largest,
           hints):  # pragma: no cover - compiled
    """Cluster ``c`` added to query ``i``'s partial sum; it becomes the query's hint if it
    adds more than any before it. Returns (partial, largest)."""
    s = _cluster_sum(q, i, points, weights, offsets, c, inv_h)
    if s > largest:
        largest = s
        hints[i] = c
    return partial + s, largest


@numba.njit(parallel=True, cache=True, fastmath=False)
def _below(q, points, weights, offsets, centroids, radii, cluster_weights, inv_h,
           threshold, hints, near):  # pragma: no cover - compiled
    n, k = q.shape[0], centroids.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    limit = threshold * (1.0 - TIE)
    for i in numba.prange(n):
        visited = np.zeros(k, dtype=np.bool_)
        partial, largest, covered = 0.0, -1.0, False
        h = hints[i]
        if 0 <= h < k:  # the previous covering cluster and its neighbours first
            for r in range(-1, near.shape[1]):
                c = h if r < 0 else near[h, r]
                visited[c] = True
                partial, largest = _visit(q, i, points, weights, offsets, c, inv_h, partial,
                                          largest, hints)
                if partial >= limit:
                    covered = True
                    break
        if covered:
            continue
        bound = np.empty(k)
        for c in range(k):
            d2 = 0.0
            for f in range(q.shape[1]):
                diff = q[i, f] - centroids[c, f]
                d2 += diff * diff
            gap = max(0.0, math.sqrt(d2) - radii[c])
            bound[c] = cluster_weights[c] * math.exp(-inv_h * gap * gap)
        for c in range(k):
            if visited[c]:
                bound[c] = -1.0  # summed already: after every other in the order
        order = np.argsort(-bound)
        # the bounds of the clusters after each one, summed from the smallest (a running
        # difference would lose them in its rounding)
        rest = np.zeros(k + 1)
        for r in range(k - 1, -1, -1):
            rest[r] = rest[r + 1] + max(bound[order[r]], 0.0)
        decided = partial + rest[0] < limit
        out[i] = decided
        for r in range(k):
            c = order[r]
            if decided or visited[c]:
                break
            partial, largest = _visit(q, i, points, weights, offsets, c, inv_h, partial,
                                      largest, hints)
            if partial >= limit:
                decided = True
            elif partial + rest[r + 1] < limit:
                out[i] = True
                decided = True
        if not decided:
            out[i] = partial < limit
    return out

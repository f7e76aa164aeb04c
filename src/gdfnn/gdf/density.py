"""The Gaussian density function (paper eq. 2) and SIMPLE-NN's automatic sigma.

    rho(G_i) = (1/M_ref) sum_j exp(-|G_i - G_j|^2 / (2 sigma^2 D))

over the reference points G_j (the training atoms of one element, on scaled pre-PCA
features), self term included, so rho >= 1/M for a point that is its own reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.distributed as dist

from gdfnn.errors import InputError
from gdfnn.gdf.kernel import gaussian_sums, nearest_sq_distances

ArrayLike = np.ndarray | torch.Tensor | Sequence
#: Default Gaussian width on [-1, 1]-scaled features (SIMPLE-NN's automatic rule gave worse
#: weights on the calibration data; see docs/design-notes.md).
DEFAULT_SIGMA = 0.02


def as_points(x: ArrayLike, name: str, dtype: torch.dtype, device: torch.device | str | None
              ) -> torch.Tensor:
    """A ``(M, D)`` tensor; empty, non-2-D or non-finite input is an :class:`InputError`."""
    t = torch.as_tensor(x)
    if t.ndim != 2:
        raise InputError(f"GDF: {name} must have shape (M, D), got {tuple(t.shape)}")
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise InputError(f"GDF: {name} is empty (shape {tuple(t.shape)}): no atoms of this element?")
    t = t.to(dtype=dtype, device=device if device is not None else t.device)
    if not torch.isfinite(t).all():
        bad = int(torch.nonzero(~torch.isfinite(t).all(1))[0])
        raise InputError(f"GDF: {name} has NaN or inf (row {bad})")
    return t


def check_sigma(sigma: float) -> float:
    if not (isinstance(sigma, int | float) and math.isfinite(sigma) and sigma > 0):
        raise InputError(f"GDF: sigma must be a positive number, got {sigma!r}")
    return float(sigma)


def _split_by_rank(n: int, distributed: bool) -> tuple[int, int]:
    if not distributed:
        return 0, n
    rank, size = dist.get_rank(), dist.get_world_size()
    per = -(-n // size)
    return min(rank * per, n), min((rank + 1) * per, n)


def _gather(local: torch.Tensor, n: int, distributed: bool) -> torch.Tensor:
    if not distributed:
        return local
    size = dist.get_world_size()
    per = -(-n // size)
    padded = torch.zeros(per, dtype=local.dtype, device=local.device)
    padded[: local.numel()] = local
    parts = [torch.empty_like(padded) for _ in range(size)]
    dist.all_gather(parts, padded)
    return torch.cat(parts)[:n]


def density(
    X: ArrayLike,
    sigma: float,
    *,
    reference: ArrayLike | None = None,
    chunk: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float64,
    progress: bool = False,
    distributed: bool = False,
) -> torch.Tensor:
    """GDF rho of each row of ``X`` (paper eq. 2).

    Args:
        X: ``(M, D)`` query points (features of atoms of one element).
        sigma: Gaussian width in the units of the features (> 0).
        reference: ``(K, D)`` reference points; default ``X`` itself (self term included,
            and the kernel's symmetry halves the work).
        chunk: query rows per tile (default 512); memory is O(chunk x 2048), never M x M.
        device: where to compute (default: where ``X`` is).
        dtype: float64 (default) or float32 (about 2.5x faster on CPU; its error is measured
            in ``benchmarks/gdf.py``).
        progress: show a progress bar.
        distributed: split the queries across the ranks of the initialised
            ``torch.distributed`` process group (every rank must call, with the same
            arguments); all ranks receive the whole result.

    Returns:
        ``(M,)`` rho in (0, 1], float64 on ``device``.
    """
    sigma = check_sigma(sigma)
    queries = as_points(X, "features", dtype, device)
    refs = None if reference is None else as_points(reference, "reference features", dtype,
                                                    queries.device)
    if refs is not None and refs.shape[1] != queries.shape[1]:
        raise InputError(f"GDF: features have D = {queries.shape[1]}, references "
                         f"D = {refs.shape[1]}")
    n_ref = queries.shape[0] if refs is None else refs.shape[0]
    inv_h = 1.0 / (2.0 * sigma**2 * queries.shape[1])
    tiles = {} if chunk is None else {"tile_rows": int(chunk)}
    if distributed and not (dist.is_available() and dist.is_initialized()):
        raise InputError("GDF: distributed=True needs an initialised torch.distributed group")
    start, stop = _split_by_rank(queries.shape[0], distributed)
    if refs is None and (start, stop) != (0, queries.shape[0]):
        refs = queries  # a slice of the queries no longer sees all references
    sums = gaussian_sums(queries[start:stop], refs, inv_h, progress=progress, **tiles)
    return _gather(sums.to(torch.float64) / n_ref, queries.shape[0], distributed)


def auto_sigma(X: ArrayLike, *, device: torch.device | str | None = None) -> float:
    """SIMPLE-NN's rule: (max over points of the nearest-neighbour RMS distance
    sqrt(min_j |X_i - X_j|^2 / D), exact duplicates excluded) / 3."""
    points = as_points(X, "features", torch.float64, device)
    unique = torch.unique(points, dim=0)
    if unique.shape[0] < 2:
        raise InputError("GDF: auto sigma needs at least two distinct feature vectors")
    nearest = nearest_sq_distances(unique)
    return float(torch.sqrt(nearest.max() / points.shape[1])) / 3.0

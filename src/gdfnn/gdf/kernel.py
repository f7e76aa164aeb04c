"""Chunked Gaussian kernel sums: sum_j w_j exp(-|x_i - y_j|^2 / h) without an M x M matrix.

The squared distance comes from one GEMM on augmented vectors,

    [x, |x|^2, 1] . [2y, -1, -|y|^2] * (1/h) = -|x - y|^2 / h,

into a reused tile buffer (fresh buffers page-fault), then clamp (>= -700 in float64, -80 in
float32: exp of very negative numbers is slow on CPUs and gives denormals; <= 0 because a
distance is never negative) and exp in place. For the self-sum (references = queries) only
tiles on and above the diagonal are computed; each off-diagonal tile adds its row sums to its
rows and its column sums to its columns, halving the work.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

#: Default tile: rows x columns of the buffer (8 MB in float64).
TILE_ROWS, TILE_COLS = 512, 2048
EXP_FLOOR = {torch.float64: -700.0, torch.float32: -80.0}


def augment(x: torch.Tensor, inv_h: float, query: bool) -> torch.Tensor:
    """``[x, |x|^2, 1]`` (queries) or ``[2y, -1, -|y|^2] / h`` (references) of rows
    ``(n, D)``: their products are ``-|x - y|^2 / h``."""
    sq = (x * x).sum(1, keepdim=True)
    ones = torch.ones_like(sq)
    if query:
        return torch.cat([x, sq, ones], dim=1)
    return torch.cat([2.0 * x, -ones, -sq], dim=1) * inv_h


def gaussian_sums(
    queries: torch.Tensor,
    references: torch.Tensor | None,
    inv_h: float,
    ref_weights: torch.Tensor | None = None,
    *,
    tile_rows: int = TILE_ROWS,
    tile_cols: int = TILE_COLS,
    progress: bool = False,
) -> torch.Tensor:
    """s_i = sum_j w_j exp(-|q_i - r_j|^2 inv_h) for every query (``references=None``: the
    queries themselves, self term included, computed on half the tiles).

    Args:
        queries: ``(M, D)``; references: ``(K, D)`` or None; same dtype and device.
        inv_h: 1/h, where h is the kernel's squared length scale.
        ref_weights: ``(K,)`` weights w_j (default 1).
    Returns:
        ``(M,)`` sums in the dtype of ``queries``.
    """
    symmetric = references is None
    refs = queries if symmetric else references
    # Centring changes no distance but shrinks |x|^2, hence the GEMM cancellation error.
    centre = refs.mean(0)
    qa = augment(queries - centre, inv_h, query=True)
    ra = augment(refs - centre, inv_h, query=False)
    weights = (torch.ones(refs.shape[0], dtype=queries.dtype, device=queries.device)
               if ref_weights is None else ref_weights.to(queries.dtype))
    m, k = qa.shape[0], ra.shape[0]
    floor = EXP_FLOOR[queries.dtype]
    sums = torch.zeros(m, dtype=queries.dtype, device=queries.device)
    buffer = torch.empty(tile_rows * tile_cols, dtype=queries.dtype, device=queries.device)
    row_starts = range(0, m, tile_rows)
    for r0 in tqdm(row_starts, desc="GDF", unit="block", disable=not progress, leave=False):
        r1 = min(r0 + tile_rows, m)
        c_first = r0 if symmetric else 0
        for c0 in range(c_first, k, tile_cols):
            c1 = min(c0 + tile_cols, k)
            tile = buffer[: (r1 - r0) * (c1 - c0)].view(r1 - r0, c1 - c0)
            torch.mm(qa[r0:r1], ra[c0:c1].T, out=tile)
            tile.clamp_(min=floor, max=0.0).exp_()
            if symmetric and c0 < r1:  # a tile that crosses the diagonal: mask its lower part
                rows = torch.arange(r0, r1, device=tile.device)[:, None]
                cols = torch.arange(c0, c1, device=tile.device)[None, :]
                tile.masked_fill_(cols < rows, 0.0)
                diagonal = cols == rows
                sums[r0:r1] += tile @ weights[c0:c1]
                tile.masked_fill_(diagonal, 0.0)  # the self term counts once
                sums[c0:c1] += weights[r0:r1] @ tile
            else:
                sums[r0:r1] += tile @ weights[c0:c1]
                if symmetric:
                    sums[c0:c1] += weights[r0:r1] @ tile
    return sums


def nearest_sq_distances(points: torch.Tensor, *, tile_rows: int = TILE_ROWS,
                         tile_cols: int = TILE_COLS) -> torch.Tensor:
    """For each point, the exact squared distance to its nearest *other* point (``inf`` for a
    single point). The GEMM form finds the nearest candidate; its distance is recomputed
    exactly from the difference vector, so rounding never turns a distance into 0."""
    m = points.shape[0]
    centred = points - points.mean(0)
    qa = augment(centred, 1.0, query=True)
    ra = augment(centred, 1.0, query=False)
    best = torch.empty(m, dtype=torch.long, device=points.device)
    buffer = torch.empty(tile_rows * tile_cols, dtype=points.dtype, device=points.device)
    best_value = torch.full((m,), float("-inf"), dtype=points.dtype, device=points.device)
    for r0 in range(0, m, tile_rows):
        r1 = min(r0 + tile_rows, m)
        for c0 in range(0, m, tile_cols):
            c1 = min(c0 + tile_cols, m)
            tile = buffer[: (r1 - r0) * (c1 - c0)].view(r1 - r0, c1 - c0)
            torch.mm(qa[r0:r1], ra[c0:c1].T, out=tile)  # = -|x - y|^2
            if c0 < r1 and r0 < c1:
                rows = torch.arange(r0, r1, device=tile.device)[:, None]
                cols = torch.arange(c0, c1, device=tile.device)[None, :]
                tile.masked_fill_(rows == cols, float("-inf"))
            value, index = tile.max(1)
            better = value > best_value[r0:r1]
            best_value[r0:r1] = torch.where(better, value, best_value[r0:r1])
            best[r0:r1] = torch.where(better, index + c0, best[r0:r1])
    exact = ((points - points[best]) ** 2).sum(1)
    return torch.where(torch.isfinite(best_value), exact, torch.inf)

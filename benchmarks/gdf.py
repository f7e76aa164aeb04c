"""Benchmark: exact GDF (paper eq. 2) against the GEMM floor, float32 error, scale.

Features: 800 frames of the paper's 63-atom Si vacancy cell with random displacements of
0.03-0.25 Å (a stand-in for 500-1300 K MD), featurised with the 26-D default set and scaled to
[-1, 1]: M = 50,400, D = 26, sigma = 0.02. In the same run:
  floor    a bare torch GEMM of the same chunked distance computation (|a|^2 + |b|^2 - 2 a.b)
           over all M x M tiles, without exp ("GEMM only") and with clamp+exp+sum ("GEMM+exp")
  naive    chunked numpy broadcasting ((a - b)^2).sum, measured on M/10 query rows, x10
Then M = 200,000 exact (float32) and M = 1,000,000 with the approximate mode on clustered
data built from the same features (long-MD-like: few environments, many near-copies, plus
rare spread-out points).

    python -m benchmarks.gdf [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.common import print_table, set_threads, si_vacancy_cell
from gdfnn.descriptors import SymmetryFunctions
from gdfnn.gdf import approximate_density, density
from gdfnn.gdf.kernel import EXP_FLOOR, TILE_COLS, TILE_ROWS
from gdfnn.model.scaling import fit_transform

SIGMA = 0.02


def paper_features(n_frames: int) -> torch.Tensor:
    rng = np.random.default_rng(0)
    frames = [si_vacancy_cell(seed=k, amplitude=float(rng.uniform(0.03, 0.25)))
              for k in range(n_frames)]
    blocks = SymmetryFunctions.default(["Si"]).compute_many(frames, progress=False)
    x = torch.cat([b.values for b in blocks])
    return fit_transform(x).scaled(x)


def timed(run) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def gemm_floor(x: torch.Tensor, with_exp: bool) -> float:
    sq = (x * x).sum(1)
    buffer = torch.empty(TILE_ROWS * TILE_COLS, dtype=x.dtype)
    start = time.perf_counter()
    for r0 in range(0, len(x), TILE_ROWS):
        a = x[r0:r0 + TILE_ROWS]
        for c0 in range(0, len(x), TILE_COLS):
            b = x[c0:c0 + TILE_COLS]
            tile = buffer[: len(a) * len(b)].view(len(a), len(b))
            torch.mm(a, b.T, out=tile)
            if with_exp:
                tile.mul_(-2.0).add_(sq[r0:r0 + TILE_ROWS, None]).add_(sq[None, c0:c0 + TILE_COLS])
                tile.mul_(-1.0 / (2 * SIGMA**2 * x.shape[1])).clamp_(min=EXP_FLOOR[x.dtype],
                                                                     max=0).exp_().sum(1)
    return time.perf_counter() - start


def naive_numpy(x: np.ndarray, rows: int) -> float:
    start = time.perf_counter()
    h = 2 * SIGMA**2 * x.shape[1]
    for r0 in range(0, rows, 64):
        a = x[r0:r0 + 64]
        np.exp(-((a[:, None, :] - x[None, :, :]) ** 2).sum(-1) / h).sum(1)
    return time.perf_counter() - start


def clustered_million(x: torch.Tensor, n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    prototypes = x[torch.randperm(len(x), generator=g)[:20000]]
    picks = torch.randint(0, len(prototypes), (n - 20000,), generator=g)
    dense = prototypes[picks] + 2e-4 * torch.randn(n - 20000, x.shape[1], generator=g,
                                                   dtype=x.dtype)
    sparse = torch.rand(20000, x.shape[1], generator=g, dtype=x.dtype) * 2 - 1
    return torch.cat([dense, sparse])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="M = 10,080 and no large runs")
    args = parser.parse_args()
    set_threads(2)
    x64 = paper_features(160 if args.quick else 800)
    m = len(x64)
    rows = []
    t_ours64, rho64 = timed(lambda: density(x64, SIGMA))
    t_ours32, rho32 = timed(lambda: density(x64, SIGMA, dtype=torch.float32))
    f32_error = ((rho32 - rho64).abs() / rho64).max().item()
    for dtype, t_ours in [(torch.float64, t_ours64), (torch.float32, t_ours32)]:
        x = x64.to(dtype)
        floor = gemm_floor(x, with_exp=False)
        floor_exp = gemm_floor(x, with_exp=True)
        name = str(dtype).replace("torch.", "")
        rows.append([m, name, "ours exact (symmetric tiles)", f"{t_ours:.2f}",
                     f"{t_ours / floor:.2f}", f"{t_ours / floor_exp:.2f}"])
        rows.append([m, name, "floor: bare GEMM only", f"{floor:.2f}", "1.00",
                     f"{floor / floor_exp:.2f}"])
        rows.append([m, name, "floor: bare GEMM+exp+sum", f"{floor_exp:.2f}",
                     f"{floor_exp / floor:.2f}", "1.00"])
    t_naive = naive_numpy(x64.numpy(), m // 10) * 10
    rows.append([m, "float64", "naive chunked numpy (x10 of M/10 rows)", f"{t_naive:.1f}",
                 f"{t_naive / gemm_floor(x64, False):.1f}", "-"])
    print_table(["M", "dtype", "method", "seconds", "/ GEMM only", "/ GEMM+exp"], rows)
    print(f"float32 max relative error of rho vs float64 (M = {m}): {f32_error:.2e}")
    if args.quick:
        return
    big = clustered_million(x64, 200_000)
    t200, _ = timed(lambda: density(big, SIGMA, dtype=torch.float32))
    print(f"M = 200,000 exact float32: {t200:.1f} s")
    million = clustered_million(x64, 1_000_000)
    t_approx, result = timed(lambda: approximate_density(million, SIGMA, check=1000))
    print(f"M = 1,000,000 approximate: {t_approx:.1f} s (incl. the exact check of "
          f"{result.checked} points), {result.n_cells:,} cells, max relative error on the "
          f"checked sample: rho {result.max_rel_error_rho:.2e}, weights "
          f"{result.max_rel_error_weights:.2e}")
    approx_real, result_real = timed(lambda: approximate_density(x64, SIGMA, check=1000))
    print(f"approximate mode on the M = {m} thermal features themselves: {approx_real:.1f} s, "
          f"{result_real.n_cells:,} cells (compression {m / result_real.n_cells:.2f}x): "
          "diverse data does not compress")


if __name__ == "__main__":
    main()

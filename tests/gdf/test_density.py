import math

import numpy as np
import pytest
import torch

from gdfnn.errors import InputError
from gdfnn.gdf import approximate_density, auto_sigma, density


def brute_rho(X, sigma, ref=None):
    ref = X if ref is None else ref
    d = X.shape[1]
    out = np.zeros(len(X))
    for i, x in enumerate(X):
        for y in ref:
            out[i] += math.exp(-float(((x - y) ** 2).sum()) / (2 * sigma**2 * d))
    return out / len(ref)


def clustered(n_dense=300, n_sparse=30, d=6, seed=0):
    rng = np.random.default_rng(seed)
    dense = 0.1 + rng.normal(0, 0.02, (n_dense, d))
    sparse = rng.uniform(-1, 1, (n_sparse, d))
    return np.concatenate([dense, sparse])


def test_density_matches_double_loop():
    X = clustered()
    for sigma in [0.02, 0.1, 0.7]:
        ours = density(X, sigma).numpy()
        ref = brute_rho(X, sigma)
        assert np.abs(ours / ref - 1).max() < 1e-12
        assert ours.min() >= 1 / len(X) * (1 - 1e-12) and ours.max() <= 1


def test_density_with_reference_set():
    X, ref = clustered(seed=1)[:50], clustered(seed=2)
    ours = density(X, 0.1, reference=ref).numpy()
    assert np.abs(ours / brute_rho(X, 0.1, ref) - 1).max() < 1e-12


def test_chunk_size_independence_and_permutation_invariance():
    X = torch.as_tensor(clustered(n_dense=2500, n_sparse=100))
    base = density(X, 0.05)
    for chunk in [1, 7, 333, 5000]:
        assert torch.allclose(density(X, 0.05, chunk=chunk), base, rtol=1e-13, atol=0)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(density(X[order], 0.05), base[order], rtol=1e-13, atol=0)


def test_duplicated_point_doubles_its_contribution_exactly():
    X = clustered(n_dense=40, n_sparse=10)
    sigma, m = 0.1, len(X)
    base = density(X, sigma).numpy() * m  # unnormalised sums
    doubled = density(np.concatenate([X, X[[7]]]), sigma).numpy() * (m + 1)
    kernel = np.exp(-((X - X[7]) ** 2).sum(1) / (2 * sigma**2 * X.shape[1]))
    np.testing.assert_allclose(doubled[:m], base + kernel, rtol=1e-13)


def test_float32_error_is_small():
    X = clustered(n_dense=2000)
    rel = (density(X, 0.05, dtype=torch.float32) / density(X, 0.05) - 1).abs().max()
    assert rel < 1e-3


def test_auto_sigma_matches_brute_force():
    X = clustered(n_dense=200, n_sparse=20, seed=3)
    X = np.concatenate([X, X[:5]])  # exact duplicates are excluded
    d = X.shape[1]
    nearest = []
    for i, x in enumerate(X):
        dist = [((x - y) ** 2).sum() for j, y in enumerate(X) if j != i and not np.array_equal(x, y)]
        nearest.append(math.sqrt(min(dist) / d))
    assert auto_sigma(X) == pytest.approx(max(nearest) / 3, rel=1e-12)


@pytest.mark.parametrize(
    ("args", "message"),
    [((np.zeros((5, 3)), 0.0), "sigma must be a positive"),
     ((np.zeros((5, 3)), -1.0), "sigma must be a positive"),
     ((np.zeros((0, 3)), 0.1), "empty"),
     ((np.array([[0.0, np.nan]]), 0.1), "NaN or inf .row 0"),
     ((np.zeros(5), 0.1), "shape .M, D.")],
)
def test_bad_inputs(args, message):
    with pytest.raises(InputError, match=message):
        density(*args)


def test_approximate_mode_within_its_checked_bound_on_dense_and_sparse_clusters():
    rng = np.random.default_rng(4)
    d = 26
    prototypes = rng.uniform(-0.2, 0.2, (150, d))  # bulk: few environments, many copies
    dense = prototypes[rng.integers(0, 150, 20000)] + rng.normal(0, 2e-4, (20000, d))
    sparse = rng.uniform(-1, 1, (300, d))  # defects: rare, spread out
    X = np.concatenate([dense, sparse])
    result = approximate_density(X, 0.02, check=400)
    assert result.n_cells < len(X) / 4
    exact = density(X, 0.02)
    rel = ((result.rho - exact).abs() / exact).max().item()
    assert rel < 0.01 and result.max_rel_error_weights < 0.01
    # the checked sample includes the lowest-density points, so its maximum is the true one
    assert rel <= 1.5 * result.max_rel_error_rho + 1e-6

import numpy as np
import pytest
import torch

from gdfnn.gdf import density
from gdfnn.gdf.reference import DensityReference, compress_reference, legacy_floor


def points(n=400, d=8, seed=0):
    rng = np.random.default_rng(seed)
    dense = 0.2 + rng.normal(0, 0.01, (n, d))  # an MD-like, redundant cloud
    sparse = rng.uniform(-1, 1, (n // 10, d))
    return torch.from_numpy(np.concatenate([dense, sparse]))


def test_rho_is_eq2_against_the_reference():
    ref, queries = points(), points(seed=1)[::7]
    exact = density(queries, 0.05, reference=ref)
    assert torch.allclose(DensityReference(ref, 0.05, dtype=torch.float64).rho(queries), exact,
                          rtol=1e-12, atol=0)
    single = DensityReference(ref, 0.05).rho(queries)  # float32 kernel sums
    resolved = exact > 1e-20
    assert 0 < resolved.sum() < len(exact)
    assert torch.allclose(single[resolved], exact[resolved], rtol=1e-4, atol=0)
    assert (single[~resolved] < 1e-20).all()


def test_counts_stand_for_copies():
    ref, queries = points(n=50), points(seed=2)[::5]
    counts = torch.arange(1, ref.shape[0] + 1)
    copies = torch.repeat_interleave(ref, counts, dim=0)
    weighted = DensityReference(ref, 0.1, counts=counts, dtype=torch.float64).rho(queries)
    assert torch.allclose(weighted, density(queries, 0.1, reference=copies), rtol=1e-12)


def test_outside_counts_functions_beyond_the_range():
    ref = torch.tensor([[0.0, 0.0], [1.0, 2.0]], dtype=torch.float64)
    r = DensityReference(ref, 0.1)
    x = torch.tensor([[0.5, 1.0], [1.5, 1.0], [-1.0, 3.0]], dtype=torch.float64)
    assert r.outside(x).tolist() == [0, 1, 2]
    wide = DensityReference(ref, 0.1, low=torch.tensor([-2.0, -2.0]), high=torch.tensor([2, 4.0]))
    assert wide.outside(x).tolist() == [0, 0, 0]


def test_compressed_reference_is_smaller_and_its_error_is_measured():
    ref = points(n=2000)
    c = compress_reference(ref, 0.1, check=ref.shape[0])  # every point checked
    assert c.centroids.shape[0] < ref.shape[0] / 4
    assert int(c.counts.sum()) == ref.shape[0]
    assert torch.equal(c.range, torch.stack([ref.min(0).values, ref.max(0).values]))
    approx = DensityReference(c.centroids, 0.1, counts=c.counts, dtype=torch.float64).rho(ref)
    true_error = float(((approx - density(ref, 0.1)).abs() / density(ref, 0.1)).max())
    assert abs(c.max_rel_error - true_error) < 1e-12
    assert 0 < c.max_rel_error < 1e-2  # f = 0.1: errors of order f^2


def test_legacy_floor_is_the_least_covered_reference_point():
    ref = points()
    floor = legacy_floor(DensityReference(ref, 0.05, dtype=torch.float64))
    assert floor == pytest.approx(float(density(ref, 0.05).min()) * (1 - 1e-3), rel=1e-12)
    assert (DensityReference(ref, 0.05).rho(ref) >= legacy_floor(DensityReference(ref, 0.05))
            ).all()

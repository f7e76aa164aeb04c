"""The cluster search decides ``rho < threshold`` as the full kernel sum does: on 10,000
environments, real (diamond Si at several temperatures, a vacancy, a surface-like
compression) and random, and on thresholds placed exactly at some of their sums."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk

from gdfnn import SymmetryFunctions
from gdfnn.gdf.clusters import TIE, cluster_reference, exact_sums, sums_below
from gdfnn.model.scaling import fit_transform


@pytest.fixture(scope="module")
def environments():
    """Scaled features of training-like atoms (the reference) and of 10,000 queries."""
    sf = SymmetryFunctions.default(["Si"], cutoff=4.0)

    def features(rattle, n_cells, seed, vacancies=0, strain=0.0):
        frames = []
        for k in range(n_cells):
            atoms = bulk("Si", "diamond", a=5.43 * (1 + strain), cubic=True) * 2
            for _ in range(vacancies):
                del atoms[k % len(atoms)]
            atoms.rattle(rattle, seed=seed + k)
            frames.append(atoms)
        return torch.cat([b.values for b in sf.compute_many(frames, progress=False)]).double()

    train = features(0.05, 40, 0)
    transform = fit_transform(train)
    queries = torch.cat([features(0.05, 40, 1000), features(0.15, 40, 2000),
                         features(0.1, 40, 3000, vacancies=1), features(0.08, 30, 4000,
                                                                        strain=-0.08)])
    x = transform.scaled(queries)[:8000]
    rng = np.random.default_rng(0)
    random = torch.from_numpy(rng.uniform(-1.2, 1.2, (2000, x.shape[1])))
    return transform.scaled(train), torch.cat([x, random])


@pytest.mark.parametrize("sigma", [0.02, 0.05])
def test_the_search_decides_as_the_full_sum_on_10000_environments(environments, sigma):
    reference, queries = environments
    assert queries.shape[0] == 10_000
    clusters = cluster_reference(reference)
    inv_h = 1.0 / (2 * sigma**2 * reference.shape[1])
    full = exact_sums(clusters, queries, inv_h)
    for threshold in np.quantile(full[full > 0], [0.01, 0.2, 0.5]):
        decided = sums_below(clusters, queries, inv_h, threshold)
        np.testing.assert_array_equal(decided, full < threshold * (1 - TIE))
        assert 0 < decided.sum() < len(decided)
    # thresholds exactly at sums: both say "not below" for those atoms
    at = full[full > 0][::997]
    for threshold in at:
        decided = sums_below(clusters, queries, inv_h, threshold)
        np.testing.assert_array_equal(decided, full < threshold * (1 - TIE))
        assert not decided[full == threshold].any()


def test_hints_carried_from_call_to_call_change_no_decision(environments):
    """As in MD: the same atoms moved a little, each first tried against the cluster that
    covered it last time and that cluster's nearest ones; stale, random and absent hints
    alike leave every decision equal to the full sum's."""
    reference, queries = environments
    clusters = cluster_reference(reference)
    near = clusters.near()
    assert near.shape == (len(clusters.centroids), 4)
    assert not (near == np.arange(len(near))[:, None]).any()  # never itself
    inv_h = 1.0 / (2 * 0.02**2 * reference.shape[1])
    rng = np.random.default_rng(1)
    hints = np.full(len(queries), -1, dtype=np.int64)
    x = queries.clone()
    for step in range(4):
        full = exact_sums(clusters, x, inv_h)
        threshold = float(np.quantile(full[full > 0], 0.2))
        decided = sums_below(clusters, x, inv_h, threshold, hints, near)
        np.testing.assert_array_equal(decided, full < threshold * (1 - TIE))
        assert (hints[~decided] >= 0).all()  # a covered atom remembers its cluster
        assert (hints >= -1).all() and (hints < len(clusters.centroids)).all()
        if step == 2:  # hints from another atom entirely
            hints = rng.integers(0, len(clusters.centroids), len(x))
        x = x + torch.from_numpy(rng.normal(0, 0.01, x.shape))


def test_clusters_cover_every_point_once_and_their_radii_bound_their_members(environments):
    reference, _ = environments
    clusters = cluster_reference(reference, torch.arange(len(reference)) % 3 + 1.0)
    assert clusters.offsets[-1] == len(reference) == len(clusters.points)
    assert sorted(map(tuple, clusters.points)) == sorted(map(tuple, reference.numpy()))
    for k in range(len(clusters.centroids)):
        members = clusters.points[clusters.offsets[k]:clusters.offsets[k + 1]]
        assert len(members) > 0
        distances = np.linalg.norm(members - clusters.centroids[k], axis=1)
        assert distances.max() <= clusters.radii[k] + 1e-12
        weights = clusters.weights[clusters.offsets[k]:clusters.offsets[k + 1]]
        assert clusters.cluster_weights[k] == pytest.approx(weights.sum())
    again = cluster_reference(reference, torch.arange(len(reference)) % 3 + 1.0)
    np.testing.assert_array_equal(again.points, clusters.points)  # deterministic

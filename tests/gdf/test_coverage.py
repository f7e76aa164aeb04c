"""Coverage's width, held-out floor and error map (gdfnn.gdf.coverage)."""

import numpy as np
import pytest
import torch

from gdfnn.errors import InputError
from gdfnn.gdf.coverage import (
    CoverageSettings,
    ElementCoverage,
    ErrorMap,
    _pool_adjacent,
    allowed_below,
    coverage_metadata,
    fit_element_coverage,
    fit_error_map,
    heldout_ceiling,
    heldout_rho,
    knn_width,
    read_coverage_metadata,
)
from gdfnn.gdf.density import density


def test_knn_width_is_the_median_kth_neighbour_distance_without_copies():
    h, d = 0.01, 4
    x = torch.zeros(201, d, dtype=torch.float64)
    x[:, 0] = h * torch.arange(201)
    # neighbours of an inner point: 2 at h, 2 at 2h, ...: the 10th at 5h; RMS metric / sqrt(D)
    assert knn_width(x, 10) == pytest.approx(5 * h / np.sqrt(d), rel=1e-6)
    # each point twice: its copy is no neighbour, the others count twice (the 10th at 3h)
    assert knn_width(torch.cat([x, x]), 10) == pytest.approx(3 * h / np.sqrt(d), rel=1e-6)
    assert knn_width(x, 2) == pytest.approx(h / np.sqrt(d), rel=1e-6)
    with pytest.raises(InputError, match="not copies"):
        knn_width(x[:5], 10)


def test_knn_width_in_blocks_of_training_atoms_is_the_same(monkeypatch):
    """Distances in blocks of 37 training atoms (memory independent of M) give the width of
    one block, copies across blocks included."""
    from gdfnn.gdf import coverage

    x = torch.from_numpy(np.random.default_rng(1).normal(0, 0.3, (500, 6)))
    x = torch.cat([x, x[:60]])
    whole = knn_width(x, 10)
    monkeypatch.setattr(coverage, "KNN_COLUMNS", 37)
    assert knn_width(x, 10) == whole


def test_heldout_rho_leaves_each_atoms_frame_out_and_adds_the_validation_atoms():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(0, 0.3, (60, 5)))
    frame = np.repeat(np.arange(6), 10)
    valid = torch.from_numpy(rng.normal(0, 0.3, (7, 5)))
    rho = heldout_rho(x, frame, 0.2, valid)
    assert rho.shape == (67,)
    for i in (0, 13, 59):
        others = x[torch.from_numpy(frame != frame[i])]
        assert rho[i] == pytest.approx(float(density(x[i:i + 1], 0.2, reference=others)[0]),
                                       rel=1e-10)
    assert np.allclose(rho[60:], density(valid, 0.2, reference=x).numpy(), rtol=1e-10)


def test_one_frame_without_validation_falls_back_to_leaving_each_atom_out():
    x = torch.from_numpy(np.random.default_rng(1).normal(0, 0.3, (20, 3)))
    rho = heldout_rho(x, np.zeros(20, dtype=int), 0.2)
    own = density(x, 0.2).numpy()  # self term included
    assert np.allclose(rho, (own * 20 - 1) / 19, rtol=1e-10)


def test_the_floor_flags_about_the_quantile_of_new_atoms_of_the_training_distribution():
    """Training frames and fresh frames drawn alike: the held-out floor flags about 1 % of
    the fresh atoms; the old floor (least covered training atom, self term included, at the
    weighting sigma 0.02) flags nearly all of them."""
    rng = np.random.default_rng(2)
    train = torch.from_numpy(rng.normal(0, 0.3, (4000, 6)))
    frame = np.repeat(np.arange(200), 20)
    fresh = torch.from_numpy(rng.normal(0, 0.3, (20000, 6)))
    c = fit_element_coverage(train, frame, None, CoverageSettings(quantile=0.01))
    flagged = float((density(fresh, c.sigma, reference=train) < c.floor).double().mean())
    assert 0.004 < flagged < 0.02
    old_floor = float(density(train, 0.02).min()) * (1 - 1e-3)
    assert float((density(fresh, 0.02, reference=train) < old_floor).double().mean()) > 0.5


@pytest.mark.parametrize("n, quantile", [(1, 0.01), (8, 0.01), (64, 0.01), (215, 0.01),
                                         (500, 0.05), (1000, 0.01)])
def test_the_allowance_is_the_binomial_level_a_training_frame_passes_once_in_ten_thousand(
        n, quantile):
    """Against the binomial tail summed exactly with integers: more than the allowance has
    probability <= 1e-4, more than one atom fewer has more (capped below n)."""
    from fractions import Fraction
    from math import comb

    q = Fraction(quantile).limit_denominator(1000)

    def above(k):  # P(X > k), exact
        return float(sum(comb(n, i) * q ** i * (1 - q) ** (n - i) for i in range(k + 1, n + 1)))

    allowed = allowed_below(n, quantile, false_alarm=1e-4)
    assert allowed == n - 1 or (above(allowed) <= 1e-4 < above(allowed - 1))
    assert allowed_below(n, 0.0) == 0


def test_pool_adjacent_violators_gives_the_closest_non_increasing_sequence():
    values = np.array([5.0, 6.0, 3.0, 4.0, 1.0])
    weights = np.array([1.0, 1.0, 1.0, 3.0, 1.0])
    fitted = _pool_adjacent(values, weights)
    assert np.allclose(fitted, [5.5, 5.5, 3.75, 3.75, 1.0])
    assert (np.diff(fitted) <= 0).all()


def test_the_error_map_is_calibrated_where_the_error_grows_as_rho_falls():
    """Errors drawn with an RMS that falls with log rho: the fitted map's prediction matches
    the observed RMS per decile of fresh atoms within 25 %, never rises with rho, and is flat
    beyond its knots."""
    rng = np.random.default_rng(3)

    def draw(n):
        log_rho = rng.uniform(-6, 0, n)
        scale = 0.05 * 10 ** (-0.2 * log_rho)  # RMS of |dF|: 0.05 at rho 1, 0.8 at 1e-6
        # |dF| of a 3-D Gaussian error with per-component std scale / sqrt(3): RMS = scale
        return 10**log_rho, np.linalg.norm(rng.normal(0, 1, (n, 3)), axis=1) * scale / 3**0.5

    error_map = fit_error_map(*draw(2000))
    assert np.all(np.diff(error_map.force_rmse) <= 0)
    rho, error = draw(20000)
    predicted = error_map(rho)
    for part in np.array_split(np.argsort(predicted), 10):
        ratio = np.sqrt(np.mean(predicted[part] ** 2) / np.mean(error[part] ** 2))
        assert abs(ratio - 1) < 0.25
    assert error_map(np.array([1e-30]))[0] == pytest.approx(error_map.force_rmse[0])
    assert np.isnan(error_map(np.array([np.nan]))[0])
    with pytest.raises(InputError, match="validation atoms"):
        fit_error_map(rho[:50], error[:50])


def test_an_error_map_on_the_rigidity_rises_with_it():
    """The LLPR map is non-decreasing (pool adjacent violators on the reversed bins), exact on
    errors that grow with the signal, and an unknown signal is refused."""
    rng = np.random.default_rng(5)
    llpr = 10 ** rng.uniform(-3, 1, 4000)
    error = 0.1 * llpr**0.25 * np.linalg.norm(rng.normal(0, 1, (4000, 3)), axis=1) / 3**0.5
    error_map = fit_error_map(llpr, error, "llpr")
    assert error_map.signal == "llpr" and np.all(np.diff(error_map.force_rmse) >= 0)
    fresh = 10 ** np.linspace(-2.5, 0.5, 7)
    np.testing.assert_allclose(error_map(fresh), 0.1 * fresh**0.25, rtol=0.2)
    with pytest.raises(InputError, match="unknown signal 'ensemble'"):
        fit_error_map(llpr, error, "ensemble")


def test_coverage_records_round_trip_and_old_records_are_not_read():
    c = ElementCoverage(0.07, 1e-3, "heldout", 500, ErrorMap((-3.0, -1.0), (0.3, 0.1)))
    record = coverage_metadata({"Si": c}, CoverageSettings())
    assert read_coverage_metadata({"coverage": record}) == {"Si": c}
    on_llpr = ElementCoverage(0.07, 1e-3, error=ErrorMap((-2.0, 0.0), (0.1, 0.4), "llpr"))
    record = coverage_metadata({"Si": on_llpr})
    assert read_coverage_metadata({"coverage": record}) == {"Si": on_llpr}
    # a map recorded before the signal was named reads rho
    record["elements"]["Si"]["error"] = {"log10_rho": [-3.0, -1.0], "force_rmse": [0.3, 0.1]}
    assert read_coverage_metadata({"coverage": record})["Si"].error == ErrorMap(
        (-3.0, -1.0), (0.3, 0.1), "rho")
    # a verdict on the rigidity round-trips; records before it decide on rho
    judged = ElementCoverage(0.07, 1e-3, ceiling=2.5, signal="llpr")
    assert read_coverage_metadata({"coverage": coverage_metadata({"Si": judged})}) == {
        "Si": judged}
    assert c.signal == "rho" and np.isnan(c.ceiling)
    assert read_coverage_metadata({}) is None
    assert read_coverage_metadata({"coverage": {**record, "version": 1}}) is None


def test_the_verdict_reads_rho_against_the_floor_or_the_rigidity_against_the_ceiling():
    rho, llpr = np.array([1e-4, 1e-2, 1e-4, 1e-2]), np.array([0.5, 0.5, 3.0, 3.0])
    on_rho = ElementCoverage(0.07, 1e-3, ceiling=1.0)
    on_llpr = ElementCoverage(0.07, 1e-3, ceiling=1.0, signal="llpr")
    np.testing.assert_array_equal(on_rho.outside(rho, llpr), [True, False, True, False])
    np.testing.assert_array_equal(on_llpr.outside(rho, llpr), [False, False, True, True])
    np.testing.assert_array_equal(on_llpr.outside(rho, np.full(4, np.nan)), [False] * 4)
    assert not on_llpr.outside(rho).any()  # no rigidity known: nothing decided outside


def test_the_ceiling_leaves_the_quantile_of_held_out_atoms_above_it():
    values = np.random.default_rng(3).lognormal(0, 1, 10_000)
    ceiling = heldout_ceiling(values, 0.01)
    assert (values > ceiling).mean() == pytest.approx(0.01, abs=1e-3)
    with pytest.raises(InputError, match="no held-out atoms"):
        heldout_ceiling(np.empty(0))

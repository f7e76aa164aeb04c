import math

import numpy as np
import pytest
import torch

from gdfnn.errors import InputError
from gdfnn.gdf import auto_c, theta, weights

X = torch.tensor([1.0, 1.5, 3.0, 10.0, 1e3, 1e9], dtype=torch.float64)


@pytest.mark.parametrize(
    ("modifier", "formula"),
    [("sigmoid-paper", lambda x: x / (1 + math.exp(-150 * x + 1.0)) if x < 5 else x),
     ("linear", lambda x: x), ("none", lambda x: 1.0)],
)
def test_modifiers_follow_their_formulas(modifier, formula):
    got = theta(X, modifier)
    assert torch.isfinite(got).all()
    np.testing.assert_allclose(got.numpy(), [formula(float(x)) for x in X], rtol=1e-12)


def test_sigmoid_shifted_formula_and_no_overflow():
    x = torch.tensor([0.5, 1.0, 1.02, 2.0, 1e9], dtype=torch.float64)
    got = theta(x, "sigmoid-shifted", b=10.0, c=1.0)
    expected = [v / (1 + math.exp(-10 * (v - 1.0))) if v < 100 else v for v in x.tolist()]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_weights_mean_one_and_monotone_in_one_over_rho():
    rho = torch.tensor([0.9, 0.5, 0.1, 0.01, 1e-4, 2e-5], dtype=torch.float64)
    for modifier in ["sigmoid-paper", "sigmoid-shifted", "linear"]:
        w = weights(rho, modifier, b=2.0, c="auto" if modifier == "sigmoid-shifted" else 1.0)
        assert w.mean().item() == pytest.approx(1.0, rel=1e-14)
        assert (w[1:] > w[:-1]).all()  # x = 1/rho increases along rho's order here
    assert torch.equal(weights(rho, "none"), torch.ones(6, dtype=torch.float64))


def test_auto_c_is_the_linear_fit_at_75_percent():
    x = torch.arange(100, dtype=torch.float64) * 2.0 + 5.0  # exactly linear in rank
    assert auto_c(x[torch.randperm(100)]) == pytest.approx(5.0 + 2.0 * 75, rel=1e-10)


def test_bad_modifier_inputs():
    with pytest.raises(InputError, match="unknown modifier"):
        weights(torch.ones(3), "cubic")
    with pytest.raises(InputError, match="finite and positive"):
        weights(torch.tensor([0.1, 0.0]))
    with pytest.raises(InputError, match="empty element"):
        weights(torch.zeros(0))


def test_tempering_cap_and_joint_normalisation_follow_their_formulas():
    from gdfnn.gdf.dataset import element_gdf, normalise_jointly
    from gdfnn.gdf.modifiers import normalise
    from gdfnn.gdf.settings import GdfSettings

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(0, 0.3, (60, 4)))
    train = torch.ones(60, dtype=torch.bool)
    train[50:] = False
    plain = element_gdf("Si", x, train, GdfSettings(sigma=0.2, modifier="linear"))
    assert torch.allclose(plain.weights, (1 / plain.rho) / (1 / plain.rho[train]).mean())
    flat = element_gdf("Si", x, train, GdfSettings(sigma=0.2, modifier="linear", alpha=0.0))
    assert torch.equal(flat.weights, torch.ones(60, dtype=torch.float64))
    half = element_gdf("Si", x, train, GdfSettings(sigma=0.2, modifier="linear", alpha=0.5))
    expected = plain.rho ** -0.5
    assert torch.allclose(half.weights, expected / expected[train].mean())
    capped = normalise(plain.raw, train, max_weight=1.5)
    assert capped[train].max() <= 1.5 + 1e-12 and capped[train].mean() == pytest.approx(1.0)
    below = capped < 1.5 - 1e-9  # atoms under the cap keep their ratios
    ratio = capped[below] / plain.weights[below]
    assert torch.allclose(ratio, ratio[0].expand_as(ratio))
    with pytest.raises(InputError, match="max_weight must be > 1"):
        normalise(plain.raw, train, max_weight=0.9)
    other = element_gdf("C", x[:30] * 3, train[:30], GdfSettings(sigma=0.2, modifier="linear"))
    joint = normalise_jointly({"Si": plain, "C": other})
    all_train = torch.cat([joint["Si"].weights[train], joint["C"].weights[train[:30]]])
    assert all_train.mean() == pytest.approx(1.0)
    assert torch.allclose(joint["Si"].weights / joint["Si"].raw,
                          joint["C"].weights[:1] / joint["C"].raw[:1])  # one common factor

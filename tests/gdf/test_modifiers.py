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

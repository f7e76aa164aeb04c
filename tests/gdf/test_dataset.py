"""The weights' statistics and what they say: inert, extreme or neither."""

from __future__ import annotations

import logging

import pytest
import torch

from gdfnn.gdf.dataset import ElementGdf, weight_warning
from gdfnn.gdf.modifiers import effective_sample_size


def element(weights: list[float]) -> ElementGdf:
    w = torch.tensor(weights, dtype=torch.float64)
    return ElementGdf("Si", 0.02, None, rho=1 / w, weights=w / w.mean(), raw=w,
                      is_train=torch.ones(len(w), dtype=torch.bool))


def test_effective_sample_size_of_equal_and_of_one_weight():
    assert effective_sample_size(torch.ones(10)) == pytest.approx(1.0)
    assert effective_sample_size(torch.tensor([1.0] + [0.0] * 9)) == pytest.approx(0.1)


@pytest.mark.parametrize(("weights", "verdict"), [
    ([1.0, 1.001, 0.999, 1.0] * 25, "is inert"),        # the H2O case: 0.90-1.001, ESS 1.00
    ([1.0] * 99 + [2000.0], "is extreme"),               # one atom carries the loss
    ([0.5, 1.0, 2.0, 4.0] * 25, None),                   # ESS 0.61
])
def test_weights_are_called_inert_extreme_or_nothing(weights, verdict):
    warning = weight_warning(element(weights).stats())
    assert (warning is None) if verdict is None else verdict in warning


def test_a_training_with_gdf_logs_the_weights_and_warns_when_inert(toy_config, caplog):
    from gdfnn.workflows.train import train

    caplog.set_level(logging.INFO, logger="gdfnn")
    train(toy_config(gdf={"enabled": True, "sigma": 1e-4}))  # alone in its own Gaussian
    assert "effective sample size" in caplog.text
    assert any(r.levelno == logging.WARNING and "is inert" in r.message
               for r in caplog.records)

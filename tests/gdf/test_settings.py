"""The GDF settings object: built from the config once, it is the cache key (every setting that
changes rho or the weights changes it), resolves 'auto' widths, and is what a potential
records of its GDF."""

from __future__ import annotations

import json
from dataclasses import fields, replace

import pytest
import torch

from gdfnn.config import GdfConfig
from gdfnn.gdf.density import auto_sigma, density
from gdfnn.gdf.modifiers import effective_sample_size, normalise
from gdfnn.gdf.settings import GdfSettings, ess_sigma


def test_the_config_section_builds_every_setting():
    section = GdfConfig(sigma={"Si": 0.05, "O": 0.06}, modifier="sigmoid-shifted", b=2.0,
                        c="auto", alpha=0.5, max_weight=4.0, normalize="all",
                        approximate=True, target_ess=0.3)
    settings = section.settings()
    for f in fields(GdfSettings):
        assert getattr(settings, f.name) == getattr(section, f.name), f.name
    assert settings.sigma_of("Si") == 0.05 and settings.sigma_of("O") == 0.06


@pytest.mark.parametrize(("name", "other"), [
    ("sigma", 0.03), ("modifier", "linear"), ("b", 3.0), ("c", 2.0), ("alpha", 0.5),
    ("max_weight", 5.0), ("normalize", "all"), ("approximate", True), ("target_ess", 0.3)])
def test_every_setting_is_in_the_key(name, other):
    base = GdfSettings()
    assert replace(base, **{name: other}).key() != base.key()
    assert replace(base, **{name: other}).key() == replace(base, **{name: other}).key()


def test_auto_sigma_is_resolved_on_the_training_features():
    x = torch.rand(50, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert GdfSettings(sigma="auto").resolved_sigma("Si", x) == pytest.approx(
        float(auto_sigma(x)))
    assert GdfSettings(sigma={"Si": 0.05, "O": 0.07}).resolved_sigma("O", x) == 0.07


def test_metadata_records_every_setting_with_the_widths_used():
    settings = GdfSettings(sigma="auto", alpha=0.5, max_weight=3.0, normalize="all")
    meta = settings.metadata(True, {"Si": 0.041}, {"Si": None})
    assert meta == {"sigma": {"Si": 0.041}, "modifier": settings.modifier, "b": settings.b,
                    "c": {"Si": None}, "alpha": 0.5, "max_weight": 3.0, "normalize": "all",
                    "approximate": False, "target_ess": settings.target_ess, "enabled": True}


def clustered_points() -> torch.Tensor:
    """A dense cluster of 400 points and 40 points spread over [-1, 1]^5."""
    g = torch.Generator().manual_seed(0)
    dense = 0.05 * torch.randn(400, 5, generator=g, dtype=torch.float64)
    spread = 2 * torch.rand(40, 5, generator=g, dtype=torch.float64) - 1
    return torch.cat([dense, spread])


def ess_at(x: torch.Tensor, settings: GdfSettings, sigma: float) -> float:
    rho = density(x, sigma)
    raw = settings.raw_weights(rho, rho)[0]
    return effective_sample_size(normalise(raw, torch.ones(len(x), dtype=torch.bool),
                                           settings.max_weight))


@pytest.mark.parametrize(("target", "modifier", "alpha"), [
    (0.5, "sigmoid-paper", 1.0), (0.8, "linear", 1.0), (0.3, "linear", 0.5)])
def test_ess_sigma_is_the_widest_width_that_reaches_the_target(target, modifier, alpha):
    x = clustered_points()
    settings = GdfSettings(sigma="ess", target_ess=target, modifier=modifier, alpha=alpha)
    sigma = settings.resolved_sigma("Si", x)
    assert ess_at(x, settings, sigma) <= target
    assert ess_at(x, settings, sigma * 1.02) > target  # wider misses it: the widest one
    assert ess_at(x, settings, sigma) > target - 0.05


def test_ess_sigma_says_when_no_width_reaches_the_target(caplog):
    x = torch.tensor([[0.0, 0.0], [0.5, 0.5], [1.0, 0.0]], dtype=torch.float64)  # alike
    settings = GdfSettings(sigma="ess", target_ess=0.2, modifier="linear")
    sigma = ess_sigma(x, settings, "Si")
    assert "no width gives effective sample size 0.2" in caplog.text
    assert ess_at(x, settings, sigma) > 0.2


def test_a_training_with_ess_sigma_reaches_its_target(toy_config, tmp_path):
    from gdfnn.workflows.train import train

    pot = train(toy_config(gdf={"enabled": True, "sigma": "ess", "target_ess": 0.7,
                                "modifier": "linear"}))
    (stats,) = json.loads((tmp_path / "out" / "metrics.json").read_text())["gdf"]
    assert 0.65 < stats["effective_sample_size"] <= 0.7
    recorded = pot.metadata["gdf"]
    assert recorded["sigma"]["Si"] == stats["sigma"] and recorded["target_ess"] == 0.7

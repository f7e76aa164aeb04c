"""The GDF settings object: built from the config once, it is the cache key (every setting that
changes rho or the weights changes it), resolves 'auto' widths, and is what a potential
records of its GDF."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
import torch

from gdfnn.config import GdfConfig
from gdfnn.gdf.density import auto_sigma
from gdfnn.gdf.settings import GdfSettings


def test_the_config_section_builds_every_setting():
    section = GdfConfig(sigma={"Si": 0.05, "O": 0.06}, modifier="sigmoid-shifted", b=2.0,
                        c="auto", alpha=0.5, max_weight=4.0, normalize="all",
                        approximate=True)
    settings = section.settings()
    for f in fields(GdfSettings):
        assert getattr(settings, f.name) == getattr(section, f.name), f.name
    assert settings.sigma_of("Si") == 0.05 and settings.sigma_of("O") == 0.06


@pytest.mark.parametrize(("name", "other"), [
    ("sigma", 0.03), ("modifier", "linear"), ("b", 3.0), ("c", 2.0), ("alpha", 0.5),
    ("max_weight", 5.0), ("normalize", "all"), ("approximate", True)])
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
                    "approximate": False, "enabled": True}

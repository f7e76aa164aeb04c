"""The reusable steps of a run: the GDF cache computes each setting once."""

import numpy as np
import pytest
import torch

from gdfnn.config import Config
from gdfnn.workflows import steps


def test_gdf_cache_computes_each_setting_once(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    scaled = {"Si": (torch.from_numpy(rng.normal(0, 0.2, (40, 5))),
                     torch.arange(40) < 30)}
    config = Config.model_validate({"gdf": {"enabled": True, "sigma": 0.1}})
    ctx = steps.RunContext(torch.device("cpu"))
    first = steps.compute_gdf(scaled, config, ctx, tmp_path)
    assert len(list(tmp_path.glob("gdf_*.pt"))) == 1

    def must_not_run(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(steps, "element_gdf", must_not_run)
    again = steps.compute_gdf(scaled, config, ctx, tmp_path)
    assert torch.equal(again["Si"].weights, first["Si"].weights)
    assert again["Si"].sigma == first["Si"].sigma
    other = Config.model_validate({"gdf": {"enabled": True, "sigma": 0.2}})
    with pytest.raises(AssertionError, match="computed again"):
        steps.compute_gdf(scaled, other, ctx, tmp_path)  # another sigma: another entry

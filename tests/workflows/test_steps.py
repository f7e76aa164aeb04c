"""The reusable steps of a run: the GDF cache computes each setting once; a warm start
(training.init_from) starts from the potential it names."""

from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
import yaml

from gdfnn.cli import main
from gdfnn.config import Config
from gdfnn.workflows import steps


def test_gdf_cache_computes_each_setting_once(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    scaled = {"Si": (torch.from_numpy(rng.normal(0, 0.2, (40, 5))),
                     torch.arange(40) < 30)}
    settings = Config.model_validate({"gdf": {"enabled": True, "sigma": 0.1}}).gdf.settings()
    ctx = steps.RunContext(torch.device("cpu"))
    first = steps.compute_gdf(scaled, settings, ctx, cache=tmp_path)
    assert len(list(tmp_path.glob("gdf_*.pt"))) == 1

    def must_not_run(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(steps, "dataset_gdf", must_not_run)
    again = steps.compute_gdf(scaled, settings, ctx, cache=tmp_path)
    assert torch.equal(again["Si"].weights, first["Si"].weights)
    assert again["Si"].sigma == first["Si"].sigma
    for change in ({"sigma": 0.2}, {"alpha": 0.5}, {"normalize": "all"}, {"max_weight": 3.0}):
        other = Config.model_validate({"gdf": {"enabled": True, "sigma": 0.1, **change}})
        with pytest.raises(AssertionError, match="computed again"):  # another entry
            steps.compute_gdf(scaled, other.gdf.settings(), ctx, cache=tmp_path)


def test_a_large_gdf_reference_is_stored_compressed(toy_config, tmp_path, monkeypatch):
    from gdfnn import train
    from gdfnn.model.potential import Potential

    # a wide coverage width (1.0 on [-1, 1] features): the 96 atoms merge into fewer clusters
    full = train(toy_config(output={"directory": str(tmp_path / "full")},
                            coverage={"width": 1.0}))
    assert not full.gdf_reference_counts
    points = full.gdf_reference["Si"]
    from gdfnn.gdf.reference import DensityReference

    loaded = Potential.load(tmp_path / "full" / "potential.pt")
    monkeypatch.setattr(DensityReference, "rho", lambda *a: pytest.fail("floor recomputed"))
    assert loaded.coverage_of("Si") == full.coverage_of("Si")  # stored
    assert full.coverage_of("Si").sigma == 1.0
    monkeypatch.undo()
    monkeypatch.setattr(steps, "GDF_REFERENCE_LIMIT_BYTES", points.numel() * 8 - 1)
    train(toy_config(output={"directory": str(tmp_path / "small")}, coverage={"width": 1.0}))
    small = Potential.load(tmp_path / "small" / "potential.pt")
    counts = small.gdf_reference_counts["Si"]
    assert small.gdf_reference["Si"].shape[0] < points.shape[0] == int(counts.sum())
    low, high = small.reference_range("Si")
    assert torch.equal(low, points.min(0).values) and torch.equal(high, points.max(0).values)
    x = points[::3] + 0.01
    species = torch.zeros(x.shape[0], dtype=torch.long)
    raw = x * full.transforms["Si"].scale.double() + full.transforms["Si"].shift.double()
    exact, out_exact = full.coverage(raw, species)
    approx, out_approx = small.coverage(raw, species)
    assert np.allclose(approx, exact, rtol=0.05) and np.array_equal(out_approx, out_exact)


def test_the_potential_records_its_gdf_settings_and_the_width_its_reference_uses(toy_config,
                                                                                  tmp_path):
    """An NNP-c run configured with sigma 'auto' records the auto width (not the default) and
    every other setting, as an NNP-GDF run does."""
    from gdfnn import train
    from gdfnn.gdf.density import DEFAULT_SIGMA

    plain = train(toy_config(output={"directory": str(tmp_path / "c")},
                             gdf={"sigma": "auto", "alpha": 0.5, "normalize": "all"}))
    weighted = train(toy_config(output={"directory": str(tmp_path / "gdf")},
                                gdf={"enabled": True, "sigma": "auto", "alpha": 0.5,
                                     "normalize": "all", "modifier": "linear"}))
    c, g = plain.metadata["gdf"], weighted.metadata["gdf"]
    assert c["enabled"] is False and g["enabled"] is True
    assert c["sigma"]["Si"] == pytest.approx(g["sigma"]["Si"]) and c["sigma"]["Si"] != DEFAULT_SIGMA
    for meta in (c, g):
        assert (meta["alpha"], meta["normalize"], meta["max_weight"]) == (0.5, "all", None)
    assert plain.gdf_sigma("Si") == c["sigma"]["Si"]  # what coverage reads


def test_a_warm_start_with_no_epochs_is_the_potential_it_starts_from(toy_config):
    from gdfnn.workflows.train import train

    first = train(toy_config())
    config = toy_config(training={"init_from": "out/potential.pt", "epochs": 0},
                        output={"directory": "warm"})
    warm = train(config)
    atoms = ase.io.read(Path(config.data.train[0]), 0)
    assert warm.predict(atoms)["energy"] == first.predict(atoms)["energy"]
    assert np.array_equal(warm.predict(atoms)["forces"], first.predict(atoms)["forces"])


def test_a_warm_start_from_other_symmetry_functions_is_refused(toy_config, capsys):
    from gdfnn.workflows.train import train

    train(toy_config())
    config = toy_config(descriptor={"cutoff": 3.5}, output={"directory": "other"},
                        training={"init_from": "out/potential.pt", "epochs": 0})
    path = Path(config.output.directory).parent / "other.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "training.init_from" in err[0] and "symmetry functions" in err[0]

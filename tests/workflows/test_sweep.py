"""gdfnn sweep: grid x seeds as separate processes, one store, GDF once per setting, scored
on the same test atoms, resumable; sweep.csv, sweep.md and plots."""

import csv
import json

import ase.io
import numpy as np
import pytest
import yaml

from gdfnn.cli import main
from gdfnn.workflows.sweep import (
    DENSE,
    RARE,
    label,
    parse_sets,
    slug,
    summarise,
    validation_metrics,
)


def test_parse_sets_reads_yaml_values():
    assert parse_sets(["gdf.sigma=0.01,0.02", "gdf.enabled=false,true"]) == {
        "gdf.sigma": [0.01, 0.02], "gdf.enabled": [False, True]}


def test_label_is_the_setting_as_the_table_and_legends_show_it():
    assert label({"gdf.enabled": "true", "model.hidden": "[60, 60]"}) == \
        "gdf.enabled=true, model.hidden=[60, 60]"
    assert label({}) == "base"


def test_summary_is_mean_and_sample_std_over_seeds():
    rows = [{"gdf.enabled": "true", "seed": s, "force_rmse": v} for s, v in
            enumerate([1.0, 2.0, 3.0])]
    (entry,) = summarise(rows, ["gdf.enabled"])
    assert entry["seeds"] == 3 and entry["force_rmse"] == (2.0, 1.0)


def test_sweep_trains_the_grid_once_and_resumes(morse_frames, tmp_path, capsys):
    ase.io.write(tmp_path / "train.xyz", morse_frames(16, seed=1))
    ase.io.write(tmp_path / "test.xyz", morse_frames(4, seed=2))
    config = {"data": {"train": ["train.xyz"], "test": ["test.xyz"], "valid_rate": 0.25},
              "descriptor": {"cutoff": 4.0}, "gdf": {"sigma": 0.1, "modifier": "linear"},
              "model": {"hidden": [6], "activation": "tanh"},
              "training": {"epochs": 3, "batch_size": 4, "valid_every": 3}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    argv = ["sweep", str(tmp_path / "c.yaml"), "--set", "gdf.enabled=false,true", "--seeds",
            "2", "--jobs", "2", "--output", str(tmp_path / "sw")]
    assert main(argv) == 0
    out = tmp_path / "sw"
    rows = list(csv.DictReader((out / "sweep.csv").read_text().splitlines()))
    assert len(rows) == 4 and {r["seed"] for r in rows} == {"0", "1"}
    assert {f"force_rmse_{RARE}", f"force_rmse_{DENSE}", "force_rmse[hot]",
            "energy_rmse_mev_atom", "stress_rmse_gpa", "lattice_constant", "bulk_modulus_gpa",
            "wall_seconds"} <= set(rows[0])
    for row in rows:  # the validation split's errors, as each run's metrics.json has them
        run = out / "runs" / slug({"gdf.enabled": json.loads(row["gdf.enabled"])})
        metrics = json.loads((run / f"seed{row['seed']}" / "metrics.json").read_text())
        assert float(row["valid_force_rmse"]) == pytest.approx(metrics["valid"]["force"]["rmse"])
        assert float(row["valid_energy_rmse_mev_atom"]) > 0
    text = (out / "sweep.md").read_text()
    assert "±" in text and "Difference to the NNP-c row" in text
    assert len([p for p in out.glob("features_*.h5") if "_test" not in p.name]) == 1  # once
    assert len(list((out / "gdf_cache").glob("gdf_*.pt"))) == 1  # one GDF setting
    for name in ("sweep_error_vs_gdf.png", "sweep_rare_vs_bulk.png"):
        assert (out / name).stat().st_size > 1000
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/potential.pt")}
    assert len(stamps) == 4
    capsys.readouterr()
    assert main(argv) == 0  # resumes: nothing retrained
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_rows_join_several_keys_into_one_setting():
    from gdfnn.workflows.sweep import parse_row, settings

    row = parse_row("gdf.sigma=auto gdf.modifier=sigmoid-shifted gdf.b=1 gdf.c=auto")
    assert row == {"gdf.sigma": "auto", "gdf.modifier": "sigmoid-shifted", "gdf.b": 1,
                   "gdf.c": "auto"}
    grid = settings({"gdf.enabled": [False, True]}, [row])
    assert grid == [{"gdf.enabled": False}, {"gdf.enabled": True}, row]
    assert settings({}, [row]) == [row] and settings({}, []) == [{}]


def test_validation_metrics_are_nan_without_a_split(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"valid": None, "test": {}}))
    assert all(np.isnan(v) for v in validation_metrics(tmp_path).values())

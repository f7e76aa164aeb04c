import json

import pytest

pytest.importorskip("matscipy", reason="the experiment needs a reference potential")


@pytest.mark.slow
def test_reference_vacancy_migration_barrier_is_physical():
    from gdfnn.experiments.neb import migration_barrier
    from gdfnn.reference import get_reference

    result = migration_barrier(lambda: get_reference("sw-si"), 5.431, images=5, steps=400)
    # SW Si: 0.15 eV to leave the simple vacancy (SW then prefers the split vacancy, 1.5 eV
    # lower); a physically sensible escape barrier lies between 0.05 and 1.5 eV
    assert result["converged"]
    assert 0.05 < result["barrier_eV"] < 1.5
    assert abs(result["end_point_difference_eV"]) < 0.01  # the end points are equivalent


@pytest.mark.slow
def test_tiny_preset_end_to_end_on_the_default_snap_reference(tmp_path, capsys, snap_si):
    from gdfnn.cli import main

    assert main(["reproduce", "si-vacancy", "--preset", "tiny", "--output", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["reference"] == "snap-si"
    assert results["frames"] == {"train": 18, "test": 2}
    for split in ("train", "test"):
        for name in ("nnp_c", "nnp_gdf"):
            table = results[split][name]
            assert {"subsets", "force", "energy_mev_atom", "per_gdf_bin",
                    "atomic_energy_mev"} <= set(table)
            assert set(table["subsets"]) == {"defect_atoms", "other_atoms"}
    assert set(results["neb"]) == {"reference", "nnp_c", "nnp_gdf"}
    for path in ["report.md", "feature_map_fig1b.png", "evaluation_train/force_error_vs_gdf.png",
                 "evaluation_test/parity_forces.png"]:
        assert (tmp_path / path).stat().st_size > 100, path
    assert "| nnp_gdf |" in capsys.readouterr().out


def test_seeds_table_is_mean_and_std_per_cell():
    from gdfnn.experiments.report import seeds_table

    headers = ["potential", "F"]
    markdown, numbers = seeds_table([(headers, [["nnp_c", 1.0], ["nnp_gdf", 2.0]]),
                                     (headers, [["nnp_c", 3.0], ["nnp_gdf", 2.0]])])
    assert numbers == {"nnp_c": {"F": [2.0, pytest.approx(2 ** 0.5)]},
                       "nnp_gdf": {"F": [2.0, 0.0]}}
    assert "| nnp_c | 2 ± 1.4 |" in markdown


@pytest.mark.slow
def test_tiny_preset_over_two_seeds_reports_mean_and_std(tmp_path, capsys):
    from gdfnn.cli import main

    assert main(["reproduce", "si-vacancy", "--preset", "tiny", "--seeds", "2", "--reference",
                 "sw-si", "--output", str(tmp_path)]) == 0
    numbers = json.loads((tmp_path / "results_seeds.json").read_text())
    assert set(numbers) == {"nnp_c", "nnp_gdf"}
    assert all(len(v) == 2 for v in numbers["nnp_gdf"].values())
    assert (tmp_path / "seed0" / "results.json").is_file()
    assert (tmp_path / "seed1" / "results.json").is_file()
    assert "±" in (tmp_path / "report_seeds.md").read_text()

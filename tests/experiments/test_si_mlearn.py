import json


def test_si_mlearn_runs_on_the_packaged_data_and_reports_every_group(tmp_path, capsys):
    from gdfnn.cli import main

    assert main(["reproduce", "si-mlearn", "--epochs", "2",
                 "--output", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    for name in ("nnp_c", "nnp_gdf"):
        assert set(results["test"][name]["per_group"]) == {"Vacancy", "AIMD-NVT", "Elastic",
                                                          "Surface"}
        for definition in ("coordination", "near_site", "rarest"):
            subsets = results["vacancy_frames"][definition][name]["subsets"]
            assert subsets["defect_atoms"]["force"]["n"] > 0, definition
        assert "per_gdf_bin" in results["test"][name]
    share = results["defect_fraction"]
    # the vacancy site tags its few neighbours; the coordination rule far more in hot frames
    assert 0 < share["near_site"] < 0.15 < share["coordination"]
    assert 0 < share["rarest"] < 1
    report = (tmp_path / "report.md").read_text()
    assert "| nnp_gdf |" in report and "F Vacancy near_site defect" in report
    assert "| nnp_c |" in capsys.readouterr().out

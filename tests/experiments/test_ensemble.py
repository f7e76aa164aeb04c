import json

import numpy as np
import pytest

pytest.importorskip("matscipy", reason="the experiment needs a reference potential")


def test_spread_summary_equals_a_direct_computation():
    from gdfnn.experiments.ensemble import spread_summary

    rng = np.random.default_rng(0)
    rho = rng.uniform(1e-4, 1.0, 200)
    spread = 0.1 / np.sqrt(rho) + rng.normal(0, 0.01, 200)
    error = rng.uniform(0, 1, (200,))
    s = spread_summary(rho, spread, error)
    rare = np.argsort(rho)[:20]
    assert s["rarest_10pc_spread"] == pytest.approx(spread[rare].mean())
    assert s["mean_spread"] == pytest.approx(spread.mean())
    assert s["spearman_vs_inverse_rho"] > 0.9  # built to grow as rho falls
    assert s["force_rmse"] == pytest.approx(np.sqrt((error**2).mean() / 3))
    assert sum(b["n"] for b in s["per_gdf_bin"]) == 200


@pytest.mark.slow  # ~13 s: the default run keeps si-vacancy's, si-mlearn's and si-interstitial's
def test_tiny_preset_end_to_end(tmp_path, capsys):
    from gdfnn.cli import main

    assert main(["reproduce", "ensemble", "--preset", "tiny", "--reference", "sw-si",
                 "--output", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["spread"]) == {"nnp_c", "nnp_gdf"}
    for per in results["spread"].values():
        assert set(per) == {"train", "interstitial", "trivacancy"}
        assert per["interstitial"]["atoms"] == 2 * 65 and per["trivacancy"]["atoms"] == 2 * 61
        assert all(s["mean_spread"] > 0 for s in per.values())  # different seeds disagree
    for name in ("train", "interstitial", "trivacancy"):
        assert (tmp_path / f"spread_vs_gdf_{name}.png").stat().st_size > 100
    assert "Spearman spread vs 1/rho" in capsys.readouterr().out

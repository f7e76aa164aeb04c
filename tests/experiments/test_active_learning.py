import json

import numpy as np
import pytest

from gdfnn.experiments.active_learning import (
    MIN_SAFE_DISTANCE,
    PRESETS,
    candidate_pool,
    labels_to_match,
)


def test_candidate_md_ends_each_trajectory_where_it_leaves_the_training_data(random_potential):
    from gdfnn.experiments.sampling import diamond_si

    pot = random_potential(elements=("Si",))
    x = pot.descriptor.compute(diamond_si(2)).values  # trained on the perfect crystal only
    pot.gdf_reference = {"Si": pot.transforms["Si"].scaled(x).double()}
    pot.metadata["gdf"] = {"sigma": {"Si": 0.02}}
    preset = PRESETS["tiny"]
    with np.errstate(all="ignore"):
        pool = candidate_pool(pot, preset, seed=0)
    # every defect snapshot lies outside: each trajectory gives one candidate, after one
    # snapshot interval, and the step budget buys md_steps / md_interval trajectories
    per_structure = preset.md_steps // preset.md_interval
    assert len(pool) == 2 * per_structure
    assert all(s.index == preset.md_interval for s in pool)
    assert len({s.source for s in pool}) == len(pool)
    for s in pool:
        d = s.atoms.get_all_distances(mic=True)[np.triu_indices(len(s.atoms), 1)]
        assert d.min() >= MIN_SAFE_DISTANCE and s.energy is None
        assert pot.predict(s.atoms, coverage=True)["uncovered"].any()


def test_labels_to_match_reads_the_first_round_at_the_target():
    curve = [{"labelled": 50, "defect": 0.1}, {"labelled": 70, "defect": 0.3},
             {"labelled": 90, "defect": 0.2}, {"labelled": 110, "defect": 0.15}]
    assert labels_to_match(curve, 0.2, "defect") == 40  # frames added; the start is not a round
    assert labels_to_match(curve, 0.12, "defect") is None


@pytest.mark.slow
def test_tiny_preset_end_to_end(tmp_path, capsys):
    pytest.importorskip("matscipy", reason="the experiment needs a reference potential")
    from gdfnn.cli import main

    assert main(["reproduce", "active-learning", "--preset", "tiny", "--reference", "sw-si",
                 "--output", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["curves"]) == {"nnp_c coverage", "nnp_c random", "nnp_gdf coverage",
                                      "nnp_gdf random"}
    for curve in results["curves"].values():
        assert [r["labelled"] for r in curve] == [6, 8]
        assert all(0 < r["defect"] < 10 and 0 < r["bulk"] < 10 for r in curve)
    assert results["test_frames"] == {"vacancy": 2, "interstitial": 2, "bulk": 2}
    assert (tmp_path / "active_learning.png").stat().st_size > 100
    assert "coverage selection reaches it after" in capsys.readouterr().out


def test_seeds_figure_draws_mean_and_spread(tmp_path, monkeypatch):
    from gdfnn.experiments import active_learning

    def run(shift):
        curve = [{"labelled": n, "defect": 0.9 - 0.001 * n + shift, "bulk": 0.4 + shift}
                 for n in (50, 70)]
        return {"curves": {"nnp_c coverage": curve, "nnp_c random": curve}}

    seen = {}
    monkeypatch.setattr(active_learning, "learning_rounds",
                        lambda curves, path, spread: seen.update(curves=curves, spread=spread))
    active_learning.seeds_figure([run(0.0), run(0.02), run(0.04)], tmp_path / "f.png")
    x, mean = seen["curves"]["nnp_c random"]
    assert x == [50, 70] and np.allclose(mean["bulk"], [0.42, 0.42])
    assert np.allclose(seen["spread"]["nnp_c random"]["defect"], [0.02, 0.02])

import json

import numpy as np
import pytest

pytest.importorskip("matscipy", reason="the experiment needs a reference potential")


def test_reference_against_itself_gives_zero_error_and_compact_clusters():
    from gdfnn.experiments.sampling import SI_BOND_CUTOFF, compact_cluster, diamond_si
    from gdfnn.experiments.vacancy_clusters import formation_energy, relative_errors
    from gdfnn.reference import get_reference

    sw = lambda: get_reference("sw-si")  # noqa: E731
    ours = {"trivacancy": formation_energy(sw, 5.431, 3, 2, steps=30)}
    again = {"trivacancy": formation_energy(sw, 5.431, 3, 2, steps=30)}
    assert relative_errors(again, ours) == {"trivacancy": 0.0}
    assert ours["trivacancy"]["atoms"] == 61
    # by hand: relaxed energy of the same start minus 61 bulk atomic energies
    from ase.optimize import BFGS

    perfect = diamond_si(2, 5.431)
    perfect.calc = sw()
    per_atom = perfect.get_potential_energy() / 64
    removed = compact_cluster(perfect, 3)
    defect = perfect.copy()
    del defect[removed]
    defect.rattle(0.03, seed=7)
    defect.calc = sw()
    BFGS(defect, logfile=None).run(fmax=0.01, steps=30)
    assert ours["trivacancy"]["formation_eV"] == pytest.approx(
        defect.get_potential_energy() - 61 * per_atom, abs=1e-9)
    # the three removed sites form a connected chain of bonds
    d = perfect.get_all_distances(mic=True)[np.ix_(removed, removed)]
    assert ((d > 0) & (d < SI_BOND_CUTOFF)).sum() >= 4  # at least two bonds, counted twice


def test_snap_monovacancy_formation_is_the_published_number(snap_si):
    from gdfnn.experiments.vacancy_clusters import formation_energy
    from gdfnn.reference import get_reference

    result = formation_energy(lambda: get_reference("snap-si"), 5.474, 1, 2, steps=300)
    assert result["converged"]
    assert result["formation_eV"] == pytest.approx(2.71, abs=0.05)


def test_tiny_preset_end_to_end(tmp_path, capsys):
    from gdfnn.cli import main

    assert main(["reproduce", "vacancy-clusters", "--preset", "tiny", "--reference", "sw-si",
                 "--output", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["formation"]) == {"reference", "nnp_c", "nnp_gdf"}
    for per in results["formation"].values():
        assert [per[k]["atoms"] for k in ("monovacancy", "trivacancy", "pentavacancy")] == [
            63, 61, 211]
    assert set(results["relative_error_percent"]["nnp_gdf"]) == {
        "monovacancy", "trivacancy", "pentavacancy"}
    frames = (tmp_path / "data.xyz").read_text().count("config_type=")
    assert frames == 10 + 6 + 4  # vacancy MD, perfect MD, strained crystals
    out = capsys.readouterr().out
    assert "| pentavacancy |" in out and "paper NNP-GDF %" in out

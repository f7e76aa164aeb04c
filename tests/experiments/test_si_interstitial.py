import json

import numpy as np
import pytest

pytest.importorskip("matscipy", reason="the experiment needs a reference potential")


def test_pes_points_lie_on_the_sphere_and_the_other_atoms_stay():
    from gdfnn.experiments.sampling import diamond_si, with_tetrahedral_interstitial
    from gdfnn.experiments.si_interstitial import PES_RADIUS, displaced, pes_grid

    atoms = with_tetrahedral_interstitial(diamond_si(2))
    thetas, phis = pes_grid(7, 13)
    assert thetas[[0, -1]].tolist() == [0.0, 180.0] and phis[[0, -1]].tolist() == [0.0, 360.0]
    points = []
    for theta in thetas:
        for phi in phis:
            moved = displaced(atoms, 64, theta, phi)
            np.testing.assert_array_equal(moved.positions[:64], atoms.positions[:64])
            points.append(moved.positions[64] - atoms.positions[64])
    points = np.array(points)
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), PES_RADIUS, rtol=1e-12)
    # the grid reaches both poles and every octant of the sphere
    assert np.isclose(points[:, 2].max(), PES_RADIUS) and np.isclose(points[:, 2].min(),
                                                                      -PES_RADIUS)
    assert len({tuple(np.sign(p).astype(int)) for p in points if np.all(np.abs(p) > 1e-9)}) == 8


def test_pes_of_a_potential_is_its_energy_change(rattled_si):
    from ase.calculators.emt import EMT

    from gdfnn.experiments.si_interstitial import displaced, pes

    atoms = rattled_si(0)
    atoms.set_chemical_symbols(["Cu"] * len(atoms))
    grid = pes(atoms, EMT(), np.array([30.0]), np.array([45.0, 200.0]))
    reference = atoms.copy()
    reference.calc = EMT()
    e0 = reference.get_potential_energy()
    for j, phi in enumerate((45.0, 200.0)):
        moved = displaced(atoms, len(atoms) - 1, 30.0, phi)
        moved.calc = EMT()
        assert grid[0, j] == pytest.approx(moved.get_potential_energy() - e0, abs=1e-12)


def test_tiny_preset_end_to_end(tmp_path, capsys):
    from gdfnn.cli import main

    assert main(["reproduce", "si-interstitial", "--preset", "tiny", "--reference", "sw-si",
                 "--output", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["pes"]["energy_eV"]) == {"reference", "nnp_c", "nnp_gdf"}
    assert np.array(results["pes"]["energy_eV"]["reference"]).shape == (3, 4)
    assert set(results["pes"]["rms_vs_reference_meV"]) == {"nnp_c", "nnp_gdf"}
    for name in ("nnp_c", "nnp_gdf"):
        assert set(results["test"][name]["subsets"]) == {"defect_atoms", "other_atoms"}
        (run,) = results["stability"][name]["1300"]
        assert set(run) == {"failed", "time_ps", "reason"} and run["time_ps"] <= 0.02
    assert (tmp_path / "pes_fig2.png").stat().st_size > 100
    assert "PES RMS vs reference meV" in capsys.readouterr().out

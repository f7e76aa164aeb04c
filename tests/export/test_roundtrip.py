import numpy as np
import pytest

from gdfnn import Potential, load_potential
from gdfnn.export import write_n2p2_potential, write_simple_nn_potential

KEYS = ["energy", "forces", "stress", "energies"]


def assert_same_predictions(a: Potential, b: Potential, sheared_si_c, carbon=True, tol=1e-10):
    for seed in (11, 12):
        atoms = sheared_si_c(seed, carbon=carbon)
        pa, pb = a.predict(atoms), b.predict(atoms)
        for key in KEYS:
            np.testing.assert_allclose(pb[key], pa[key], rtol=tol, atol=tol, err_msg=key)


@pytest.mark.parametrize("pca", [False, True])
def test_simple_nn_round_trip(random_potential, sheared_si_c, tmp_path, pca):
    pot = random_potential(pca=pca, elements=("Si",) if pca else ("Si", "C"))
    path = write_simple_nn_potential(pot, tmp_path / "potential_saved")
    text = path.read_text()
    assert text.startswith("ELEM_LIST ") and "\nPOT Si 4.0\nSYM " in text and "scale1 " in text
    assert ("LAYER 0 linear" in text) == pca
    back = load_potential(path)
    assert_same_predictions(pot, back, sheared_si_c, carbon=not pca)


@pytest.mark.parametrize(("pca", "units"), [(False, {}), (True, {"length_unit": "bohr",
                                                                 "energy_unit": "hartree"})])
def test_n2p2_round_trip(random_potential, sheared_si_c, tmp_path, pca, units):
    pot = random_potential(pca=pca, elements=("Si",) if pca else ("Si", "C"))
    write_n2p2_potential(pot, tmp_path, **units)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == (["input.nn", "scaling.data", "weights.014.data"] if pca else
                     ["input.nn", "scaling.data", "weights.006.data", "weights.014.data"])
    back = load_potential(tmp_path, **units)
    assert_same_predictions(pot, back, sheared_si_c, carbon=not pca)


def test_an_imported_n2p2_potential_exports_to_simple_nn(tmp_path):
    """Imported potentials keep one activation per layer; the SIMPLE-NN writer takes them."""
    from ase.io import read

    from gdfnn import datasets

    pot = load_potential("dataset:mlearn-n2p2-si", length_unit="bohr", energy_unit="hartree")
    write_simple_nn_potential(pot, tmp_path / "potential_saved")
    back = load_potential(tmp_path / "potential_saved")
    atoms = read(datasets.path("mlearn-si", "test"), 0)
    a, b = pot.predict(atoms), back.predict(atoms)
    assert b["energy"] == pytest.approx(a["energy"], abs=1e-9)
    np.testing.assert_allclose(b["forces"], a["forces"], atol=1e-9)

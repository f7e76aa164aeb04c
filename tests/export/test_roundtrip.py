import numpy as np
import pytest
import torch

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


def test_an_nnp_train_folder_is_read_at_the_chosen_or_last_epoch(random_potential, sheared_si_c,
                                                                  tmp_path, capsys):
    """nnp-train writes weights.NNN.EEEEEE.out per epoch, no weights.NNN.data."""
    from gdfnn.cli import main

    first, second = (random_potential(elements=("Si", "C")) for _ in range(2))
    with torch.no_grad():
        for p in second.parameters():
            p.add_(0.1)
    for epoch, pot in ((3, first), (7, second)):
        write_n2p2_potential(pot, tmp_path / f"e{epoch}")
        for n in ("006", "014"):
            (tmp_path / f"e{epoch}" / f"weights.{n}.data").rename(
                tmp_path / f"weights.{n}.{epoch:06d}.out")
    for name in ("input.nn", "scaling.data"):
        (tmp_path / "e3" / name).rename(tmp_path / name)
    assert_same_predictions(first, load_potential(tmp_path, epoch=3), sheared_si_c)
    assert_same_predictions(second, load_potential(tmp_path), sheared_si_c)
    assert main(["export", str(tmp_path), "--n2p2-epoch", "5", "--to", "gdfnn", "--output",
                 str(tmp_path / "p.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no weights of epoch 5 (epochs 3, 7)" in err[0]
    assert main(["export", str(tmp_path), "--n2p2-epoch", "3", "--to", "gdfnn", "--output",
                 str(tmp_path / "p.pt")]) == 0
    assert_same_predictions(first, load_potential(tmp_path / "p.pt"), sheared_si_c)

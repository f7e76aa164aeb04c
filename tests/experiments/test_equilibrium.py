import json

import numpy as np
import pytest
from ase import units

pytest.importorskip("matscipy", reason="the tests measure the SW reference")
pytest.importorskip("phonopy", reason="phonons need phonopy")

A_SW = 5.431


def sw():
    from gdfnn.reference import get_reference

    return get_reference("sw-si")


def dynamical_matrix_frequencies(q_cartesian: np.ndarray, h: float = 0.01) -> np.ndarray:
    """Frequencies (THz) at ``q`` (1/Å, with the 2 pi) from force constants by central
    differences on the 64-atom supercell, written out here without phonopy: both atoms of
    the primitive basis displaced by +-h along x, y, z, D(q) summed over the supercell."""
    from gdfnn.experiments.sampling import diamond_si

    cell = diamond_si(2, A_SW)
    basis = [0, 1]  # atoms 0 (0,0,0) and 1 (a/4,a/4,a/4) are the two primitive sublattices
    assert np.allclose(cell.positions[1], [A_SW / 4] * 3)
    # fcc lattice vectors are integer vectors with an even sum in units of a/2: atoms that
    # far from atom 0 are on its sublattice, the others on atom 1's
    frac = (cell.positions - cell.positions[0]) / (A_SW / 2)
    sublattice = np.array([0 if np.allclose(f, np.round(f), atol=1e-6)
                           and int(np.round(f).sum()) % 2 == 0 else 1 for f in frac])
    assert np.bincount(sublattice).tolist() == [32, 32]
    mass = cell.get_masses()[0]
    phi = np.zeros((2, 3, len(cell), 3))  # d F_j beta / d u_kappa alpha (sign flipped below)
    for kappa, atom in enumerate(basis):
        for alpha in range(3):
            forces = []
            for sign in (1.0, -1.0):
                moved = cell.copy()
                moved.positions[atom, alpha] += sign * h
                moved.calc = sw()
                forces.append(moved.get_forces())
            phi[kappa, alpha] = -(forces[0] - forces[1]) / (2 * h)
    d = np.zeros((6, 6), complex)
    for kappa, atom in enumerate(basis):
        for j in range(len(cell)):
            phase = np.exp(1j * q_cartesian @ (cell.positions[j] - cell.positions[atom]))
            lam = sublattice[j]
            d[3 * kappa:3 * kappa + 3, 3 * lam:3 * lam + 3] += phi[kappa, :, j, :] * phase / mass
    eigen = np.linalg.eigvalsh(0.5 * (d + d.conj().T))
    omega = np.sqrt(np.abs(eigen) * units._e / (units._amu * 1e-20)) * np.sign(eigen)
    return np.sort(omega / (2 * np.pi * 1e12))


def test_phonons_at_gamma_and_x_equal_an_independent_dynamical_matrix():
    from gdfnn.experiments.equilibrium import phonons

    ph = phonons(sw, A_SW, band_points=5, mesh=4)
    gamma = dynamical_matrix_frequencies(np.zeros(3))
    x = dynamical_matrix_frequencies(np.array([2 * np.pi / A_SW, 0.0, 0.0]))
    np.testing.assert_allclose(ph["gamma_THz"], gamma, atol=2e-3)
    np.testing.assert_allclose(ph["x_THz"], x, atol=2e-3)
    assert ph["gamma_THz"][-1] > 15.0  # the optical mode, not three zeros only


def test_sw_elastic_constants_and_bulk_modulus_are_the_published_ones():
    """Stillinger-Weber Si: a = 5.431 Å, B = 101.4, C11 = 151.4, C12 = 76.4, C44 = 56.4 GPa
    (ions relaxed; Cowley, PRB 38, 1988, and the original parametrisation)."""
    from gdfnn.experiments.equilibrium import elastic_constants, equation_of_state

    eos = equation_of_state(sw, 5.40)
    assert eos["lattice_A"] == pytest.approx(5.431, abs=2e-3)
    assert eos["bulk_modulus_GPa"] == pytest.approx(101.4, rel=0.01)
    c = elastic_constants(sw, eos["lattice_A"])
    assert c["C11"] == pytest.approx(151.4, rel=0.01)
    assert c["C12"] == pytest.approx(76.4, rel=0.01)
    assert c["C44"] == pytest.approx(56.4, rel=0.02)
    assert (c["C11"] + 2 * c["C12"]) / 3 == pytest.approx(eos["bulk_modulus_GPa"], rel=0.01)


def test_tiny_preset_end_to_end(tmp_path, capsys):
    from gdfnn.cli import main

    assert main(["reproduce", "si-equilibrium", "--preset", "tiny", "--reference", "sw-si",
                 "--output", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["properties"]) == {"reference", "nnp_c", "nnp_gdf"}
    for m in results["properties"].values():
        assert {"lattice_A", "bulk_modulus_GPa", "C11", "C12", "C44", "phonons"} <= set(m)
        assert len(m["phonons"]["x_THz"]) == 6 and len(m["phonons"]["band_THz"]) == 5
    assert (tmp_path / "phonons_figS6.png").stat().st_size > 100
    assert "| reference |" in capsys.readouterr().out

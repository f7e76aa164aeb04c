import numpy as np
import pytest
import torch
from ase import units
from ase.build import bulk
from ase.calculators.calculator import CalculatorError, CalculatorSetupError
from ase.calculators.fd import calculate_numerical_stress
from ase.md.velocitydistribution import thermalize_momenta
from ase.md.verlet import VelocityVerlet

from gdfnn import NNPCalculator, Potential, load_potential


@pytest.fixture
def si_potential() -> Potential:
    """The published mlearn n2p2 Si potential (Bohr, Hartree), shipped with gdfnn."""
    return load_potential("dataset:mlearn-n2p2-si", length_unit="bohr", energy_unit="hartree")


def test_forces_and_stress_are_derivatives_of_the_energy(random_potential, sheared_si_c):
    atoms = sheared_si_c(5)
    atoms.calc = NNPCalculator(random_potential())
    forces = atoms.get_forces()
    h = 1e-5
    for j, x in [(0, 0), (3, 1), (6, 2)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.calc = minus.calc = atoms.calc
        plus.positions[j, x] += h
        minus.positions[j, x] -= h
        numeric = -(plus.get_potential_energy() - minus.get_potential_energy()) / (2 * h)
        assert forces[j, x] == pytest.approx(numeric, abs=1e-7)
    numeric_stress = calculate_numerical_stress(atoms, eps=1e-6)
    np.testing.assert_allclose(atoms.get_stress(), numeric_stress, atol=1e-7)
    assert atoms.get_potential_energy() == pytest.approx(atoms.get_potential_energies().sum())
    assert atoms.get_potential_energy(force_consistent=True) == atoms.get_potential_energy()


def test_cell_and_supercell_give_identical_atomic_energies(random_potential, sheared_si_c):
    pot = random_potential(elements=("Si",))
    cell = sheared_si_c(3, carbon=False)
    cell.calc = NNPCalculator(pot)
    big = cell * (2, 1, 2)
    big.calc = NNPCalculator(pot)
    np.testing.assert_allclose(big.get_potential_energies(),
                               np.tile(cell.get_potential_energies(), 4), atol=1e-10)
    np.testing.assert_allclose(big.get_forces(), np.tile(cell.get_forces(), (4, 1)), atol=1e-10)


def test_unknown_element_is_a_clear_error(random_potential, sheared_si_c):
    atoms = sheared_si_c(1)
    atoms.calc = NNPCalculator(random_potential(elements=("Si",)))
    with pytest.raises(CalculatorError, match=r"element\(s\) C not in the potential's elements"):
        atoms.get_potential_energy()
    with pytest.raises(CalculatorSetupError, match="no such potential"):
        NNPCalculator("missing.pt")


def test_nve_energy_drift_is_small_and_neighbour_lists_are_reused(si_potential):
    """64-atom diamond Si, 300 K, 1 fs, 1,000 steps with the published n2p2 Si potential."""
    pot = si_potential
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * 2
    thermalize_momenta(atoms, temperature_K=600, rng=np.random.default_rng(0))
    calc = NNPCalculator(pot, skin=0.5)
    atoms.calc = calc
    total = []
    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    dyn.attach(lambda: total.append(atoms.get_total_energy() / len(atoms)), interval=10)
    dyn.run(1000)
    drift = np.abs(np.array(total) - total[0]).max()
    assert drift < 2e-4  # eV/atom over 1 ps
    assert 1 < calc.neighbors.builds < 200
    assert atoms.get_temperature() > 100  # it really moved


def test_reused_neighbour_list_gives_the_forces_of_a_fresh_one(random_potential, sheared_si_c):
    pot = random_potential()
    atoms = sheared_si_c(8) * (2, 1, 1)
    cached, fresh = NNPCalculator(pot, skin=1.0), NNPCalculator(pot, skin=0.0)
    atoms.calc = cached
    atoms.get_forces()
    rng = np.random.default_rng(3)
    for step in range(4):  # every move keeps each atom within skin / 2 of the listed positions
        moved = atoms.copy()
        moved.positions += rng.uniform(-0.28, 0.28, (len(atoms), 3)) * (step + 1) / 4
        moved.calc = cached
        reused = moved.get_forces()
        moved.calc = fresh
        np.testing.assert_allclose(reused, moved.get_forces(), rtol=1e-12, atol=1e-12)
        assert cached.neighbors.builds == 1
    far = atoms.copy()
    far.positions[0] += [0.6, 0.0, 0.0]  # beyond skin / 2: the list is rebuilt
    far.calc = cached
    far.get_forces()
    assert cached.neighbors.builds == 2


def test_coverage_is_the_gdf_against_the_training_atoms(random_potential, sheared_si_c):
    from gdfnn.gdf import density

    pot = random_potential(elements=("Si",))
    train = [sheared_si_c(s, carbon=False) for s in range(3)]
    x = torch.cat([b.values for b in pot.descriptor.compute_many(train, progress=False)])
    pot.gdf_reference = {"Si": pot.transforms["Si"].scaled(x).double()}
    pot.metadata["gdf"] = {"sigma": {"Si": 0.05}}
    inside, away = sheared_si_c(0, carbon=False), sheared_si_c(0, carbon=False)
    away.positions[3] += [0.6, 0.0, 0.0]
    calc = NNPCalculator(pot, coverage=True)
    inside.calc = calc
    rho = inside.calc.get_property("rho", inside)
    expected = density(pot.transforms["Si"].scaled(pot.descriptor.compute(inside).values), 0.05,
                       reference=pot.gdf_reference["Si"]).numpy()
    np.testing.assert_allclose(rho, expected, rtol=1e-5)  # float32 kernel sums
    assert (inside.calc.get_property("outside", inside) == 0).all()
    assert not inside.calc.get_property("uncovered", inside).any()  # a training frame
    away.calc = NNPCalculator(pot)
    far = away.calc.get_property("rho", away)  # asked for: computed without coverage=True
    assert far[3] < 0.1 * rho[3] and away.calc.get_property("outside", away)[3] > 0
    assert away.calc.get_property("uncovered", away)[3]
    assert away.calc.get_property("n_uncovered", away) == away.calc.results["uncovered"].sum()
    assert away.calc.get_property("min_rho", away) == far.min()
    pot.gdf_reference = {"Si": pot.gdf_reference["Si"][:8]}  # a new reference is used
    fewer = pot.predict(inside, coverage=True)["rho"]
    np.testing.assert_allclose(fewer, density(pot.transforms["Si"].scaled(
        pot.descriptor.compute(inside).values), 0.05, reference=pot.gdf_reference["Si"]).numpy(),
        rtol=1e-5)


def test_coverage_check_flags_the_atoms_the_exact_rho_flags(random_potential, sheared_si_c):
    """``coverage="check"`` (the cluster search, hints carried per atom) over steps of a
    growing displacement: the same uncovered atoms as the exact rho, their rho exact and
    NaN for the covered ones."""
    pot = random_potential(elements=("Si",))
    train = [sheared_si_c(s, carbon=False) for s in range(3)]
    x = torch.cat([b.values for b in pot.descriptor.compute_many(train, progress=False)])
    pot.gdf_reference = {"Si": pot.transforms["Si"].scaled(x).double()}
    pot.metadata["gdf"] = {"sigma": {"Si": 0.05}}
    atoms = sheared_si_c(0, carbon=False)
    atoms.calc = NNPCalculator(pot, coverage="check")
    exact = NNPCalculator(pot, coverage=True)
    seen = 0
    for shift in (0.0, 0.1, 0.3, 0.6):
        atoms.positions[3] += [shift, 0.0, 0.0]
        flags = atoms.calc.get_property("uncovered", atoms)
        want = exact.get_property("uncovered", atoms)
        np.testing.assert_array_equal(flags, want)
        rho = atoms.calc.results["rho"]
        np.testing.assert_allclose(rho[flags], exact.results["rho"][flags], rtol=1e-5)
        assert np.isnan(rho[~flags]).all()
        assert atoms.calc.get_property("n_uncovered", atoms) == want.sum()
        np.testing.assert_array_equal(atoms.calc.results["outside"], exact.results["outside"])
        seen += want.sum()
    assert seen > 0  # the displaced atom left the training data at last
    with pytest.raises(CalculatorSetupError, match="coverage must be"):
        NNPCalculator(pot, coverage="fast")

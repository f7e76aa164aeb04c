import numpy as np
import pytest
from ase.build import bulk

from gdfnn.errors import InputError
from gdfnn.reference import REFERENCES, get_reference, lammps_calculator

pytest.importorskip("matscipy", reason="reference potentials need matscipy (pip install "
                    "'gdfnn[reference]')")

CASES = {"sw-si": ("Si", "diamond", 5.431, -4.3366), "tersoff-si": ("Si", "diamond", 5.432, -4.63),
         "eam-ni": ("Ni", "fcc", 3.52, -4.45), "emt": ("Ni", "fcc", 3.52, None)}


def crystal(name, rattle=0.0):
    element, structure, a, _ = CASES[name]
    atoms = bulk(element, structure, a=a, cubic=True) * 2
    if rattle:
        atoms.rattle(rattle, seed=3)
    return atoms


@pytest.mark.parametrize("name", list(REFERENCES))
def test_reference_energies_forces_and_atomic_energies(name):
    if name == "eam-ni":
        pytest.importorskip("lammps", reason="Ni_u3.eam comes from the lammps wheel")
    atoms = crystal(name, rattle=0.05)
    atoms.calc = get_reference(name)
    energy = atoms.get_potential_energy()
    assert atoms.get_potential_energies().sum() == pytest.approx(energy, abs=1e-8)
    forces = atoms.get_forces()
    h = 1e-5
    for j, x in [(0, 0), (5, 2)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.calc, minus.calc = get_reference(name), get_reference(name)
        plus.positions[j, x] += h
        minus.positions[j, x] -= h
        numeric = -(plus.get_potential_energy() - minus.get_potential_energy()) / (2 * h)
        assert forces[j, x] == pytest.approx(numeric, abs=1e-5)
    cohesive = CASES[name][3]
    if cohesive is not None:
        perfect = crystal(name)
        perfect.calc = get_reference(name)
        assert perfect.get_potential_energy() / len(perfect) == pytest.approx(cohesive, abs=0.01)


def test_unknown_reference():
    with pytest.raises(InputError, match="unknown reference potential 'lj'"):
        get_reference("lj")


@pytest.mark.parametrize(("name", "tolerance"), [("sw-si", 1e-8), ("tersoff-si", 1e-8),
                                                 ("eam-ni", 3e-4)])
def test_matscipy_and_lammps_agree_on_totals_and_forces(name, tolerance):
    try:
        reference = lammps_calculator(name)
    except InputError as exc:
        pytest.skip(str(exc))
    a, b = crystal(name, rattle=0.08), crystal(name, rattle=0.08)
    a.calc, b.calc = get_reference(name), reference
    assert a.get_potential_energy() == pytest.approx(b.get_potential_energy(), abs=tolerance * 10)
    np.testing.assert_allclose(a.get_forces(), b.get_forces(), atol=tolerance)

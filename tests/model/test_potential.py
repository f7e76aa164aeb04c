import json
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch

from gdfnn import Potential
from gdfnn.errors import InputError


@pytest.mark.parametrize(("pca", "elements"), [(False, ("Si", "C")), (True, ("Si",))])
def test_forces_are_minus_the_energy_gradient(random_potential, sheared_si_c, pca, elements):
    # (PCA on two elements would whiten C-C functions that never vary in 3 small cells:
    # their 1e4 amplification makes finite differences, not the forces, imprecise)
    pot = random_potential(pca, elements)
    atoms = sheared_si_c(7, carbon="C" in elements)
    forces = pot.predict(atoms)["forces"]
    h = 1e-5
    for j in [0, 2, 6]:
        for x in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[j, x] += h
            minus.positions[j, x] -= h
            numeric = -(pot.predict(plus)["energy"] - pot.predict(minus)["energy"]) / (2 * h)
            assert forces[j, x] == pytest.approx(numeric, abs=1e-7)


def strain_derivative(pot, atoms, h: float = 1e-6) -> np.ndarray:
    """(1/V) dE/d(eps) by central differences along each Voigt strain (engineering shear):
    ASE's stress, eV/Å^3, positive under tension."""
    out = np.zeros(6)
    for k, (a, b) in enumerate([(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]):
        energies = []
        for sign in (1, -1):
            strain = np.eye(3)
            strain[a, b] += sign * h / (1 if a == b else 2)
            strain[b, a] += 0 if a == b else sign * h / 2
            strained = atoms.copy()
            strained.set_cell(atoms.cell.array @ strain, scale_atoms=True)
            energies.append(pot.predict(strained)["energy"])
        out[k] = (energies[0] - energies[1]) / (2 * h) / atoms.get_volume()
    return out


def test_stress_is_the_strain_derivative_with_ase_sign(random_potential, sheared_si_c):
    pot = random_potential()
    atoms = sheared_si_c(4)
    np.testing.assert_allclose(pot.predict(atoms)["stress"], strain_derivative(pot, atoms),
                               atol=1e-8)


def test_energy_is_sum_of_atomic_energies_and_autograd_agrees(random_potential, sheared_si_c):
    pot = random_potential()
    atoms = sheared_si_c(2)
    out = pot.predict(atoms)
    assert out["energy"] == pytest.approx(out["energies"].sum(), rel=1e-12)
    # autograd through the featuriser's torch kernel
    from gdfnn.descriptors.kernel import symmetry_functions
    from gdfnn.neighbors import neighbor_list

    sf = pot.descriptor
    nl = neighbor_list(atoms, sf.cutoff)
    species = torch.from_numpy(sf.species_of(atoms))
    pos = torch.tensor(atoms.positions, requires_grad=True)
    values = symmetry_functions(pos, species, torch.from_numpy(nl.centers),
                                torch.from_numpy(nl.neighbors),
                                torch.from_numpy(nl.shifts @ atoms.cell.array), sf.table()).values
    energy = pot(values, species).sum()
    (grad,) = torch.autograd.grad(energy, pos)
    np.testing.assert_allclose(out["forces"], -grad.numpy(), atol=1e-10)


def test_save_load_round_trip_weights_only(random_potential, sheared_si_c, tmp_path):
    pot = random_potential(pca=True)
    path = pot.save(tmp_path / "potential.pt")
    raw = torch.load(path, weights_only=True)
    assert raw["elements"] == ["Si", "C"] and raw["format_version"] == 2
    back = Potential.load(path)
    atoms = sheared_si_c(3)
    a, b = pot.predict(atoms), back.predict(atoms)
    for key in ["energy", "forces", "stress", "energies"]:
        np.testing.assert_array_equal(a[key], b[key])
    with pytest.raises(InputError, match="no such potential"):
        Potential.load(tmp_path / "none.pt")


def test_unknown_element_is_a_clear_error(random_potential, sheared_si_c):
    pot = random_potential(elements=("Si",))
    with pytest.raises(InputError, match=r"element\(s\) C not in"):
        pot.predict(sheared_si_c())


DATA = Path(__file__).parent / "data"


def test_a_file_written_by_format_1_still_loads_and_predicts_the_same():
    pot = Potential.load(DATA / "potential_format1.pt")
    atoms = ase.io.read(DATA / "potential_format1_structure.xyz")
    expected = json.loads((DATA / "potential_format1_expected.json").read_text())
    out = pot.predict(atoms)
    for key, value in expected.items():  # PCA whitening amplifies rounding: 1e-10 of scale
        scale = np.abs(np.asarray(value)).max()
        np.testing.assert_allclose(out[key], value, rtol=1e-10, atol=1e-10 * scale, err_msg=key)


def test_state_dict_round_trip_and_module_structure(random_potential, sheared_si_c):
    pot = random_potential(pca=True)
    names = set(pot.state_dict())
    assert {"transforms.Si.shift", "transforms.Si.scale", "transforms.Si.pca_matrix",
            "networks.nets.Si.0.weight"} <= names
    assert not any(n.endswith((".matrix", ".offset")) for n in names)  # derived, not saved
    other = random_potential(pca=True)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    atoms = sheared_si_c(5)
    assert other.predict(atoms)["energy"] != pot.predict(atoms)["energy"]
    other.load_state_dict(pot.state_dict())
    assert other.predict(atoms)["energy"] == pot.predict(atoms)["energy"]


def test_float32_inference_agrees_with_float64(random_potential, sheared_si_c):
    pot64 = random_potential()
    pot32 = random_potential().to(torch.float32)
    assert pot32.dtype == torch.float32 and pot32.transforms["Si"].matrix.dtype == torch.float32
    atoms = sheared_si_c(6)
    a, b = pot64.predict(atoms), pot32.predict(atoms)
    assert b["forces"].dtype == np.float32
    assert b["energy"] == pytest.approx(a["energy"], rel=1e-5)
    np.testing.assert_allclose(b["forces"], a["forces"], atol=1e-4)
    np.testing.assert_allclose(b["stress"], a["stress"], atol=1e-5)


def test_stress_is_ase_voigt_of_the_full_tensor(random_potential, sheared_si_c):
    from ase.stress import full_3x3_to_voigt_6_stress

    from gdfnn.model.outputs import voigt

    full = torch.arange(9.0).reshape(3, 3)
    full = full + full.T
    np.testing.assert_array_equal(voigt(full).numpy(), full_3x3_to_voigt_6_stress(full.numpy()))

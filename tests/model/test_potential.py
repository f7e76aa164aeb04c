import warnings

import numpy as np
import pytest
import torch
from ase.build import bulk

from gdfnn import Potential, SymmetryFunctions
from gdfnn.errors import InputError
from gdfnn.model.network import AtomicEnergies
from gdfnn.model.scaling import fit_transform


def random_potential(pca: bool = False, elements=("Si", "C")) -> Potential:
    sf = SymmetryFunctions.default(list(elements), cutoff=4.0)
    torch.manual_seed(1)
    frames = [sheared_si_c(seed, carbon="C" in elements) for seed in range(3)]
    blocks = sf.compute_many(frames, progress=False)
    values = torch.cat([b.values for b in blocks])
    species = torch.cat([b.species for b in blocks])
    with warnings.catch_warnings():  # C-C functions never vary in three small cells
        warnings.simplefilter("ignore", UserWarning)
        transforms = {e: fit_transform(values[species == n][:, : sf.n_features[e]], pca=pca)
                      for n, e in enumerate(sf.elements)}
    model = AtomicEnergies(sf.elements, sf.n_features, [10, 7], "sigmoid").double()
    return Potential(sf, transforms, model)


def sheared_si_c(seed=0, carbon=True):
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    if carbon:
        atoms.symbols[[2, 5]] = "C"
    atoms.rattle(0.1, seed=seed)
    cell = atoms.cell.array.copy()
    cell[2] += [0.3, -0.2, 0.0]
    atoms.set_cell(cell, scale_atoms=True)
    return atoms


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


def test_stress_is_the_strain_derivative_with_ase_sign(random_potential, sheared_si_c):
    pot = random_potential()
    atoms = sheared_si_c(4)
    stress = pot.predict(atoms)["stress"]
    volume = atoms.get_volume()
    h = 1e-6
    voigt = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    for k, (a, b) in enumerate(voigt):
        energies = []
        for sign in (1, -1):
            strain = np.eye(3)
            strain[a, b] += sign * h / (1 if a == b else 2)
            strain[b, a] += 0 if a == b else sign * h / 2
            strained = atoms.copy()
            strained.set_cell(atoms.cell.array @ strain, scale_atoms=True)
            energies.append(pot.predict(strained)["energy"])
        assert stress[k] == pytest.approx((energies[0] - energies[1]) / (2 * h) / volume,
                                          abs=1e-8)


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

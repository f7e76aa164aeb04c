import numpy as np
import pytest
import torch
from ase import Atoms
from scipy.spatial.transform import Rotation

from gdfnn.descriptors import SymmetryFunctions, compiled
from gdfnn.errors import InputError

STRUCTURES = ["cluster", "periodic_si", "two_element_triclinic", "self_images"]


def dense_jacobian(block, n_atoms):
    """(n_atoms, D, n_atoms, 3) from the sparse pairs; pairs must be unique."""
    pairs = block.pairs.numpy()
    assert len({tuple(p) for p in pairs}) == len(pairs)
    dense = np.zeros((n_atoms, block.dG.shape[1], n_atoms, 3))
    dense[pairs[:, 0], :, pairs[:, 1], :] = block.dG.numpy()
    return dense


BACKENDS = ["torch", "numba"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", STRUCTURES)
def test_values_match_loop_reference(reference_features, structures, name, backend, mixed):
    atoms = structures[name]()
    block = mixed.compute(atoms, backend=backend)
    assert block.values.dtype == torch.float64 and block.values.shape == (len(atoms), 18)
    np.testing.assert_allclose(block.values.numpy(), reference_features(atoms, mixed),
                               rtol=1e-11, atol=1e-13)


def test_default_set_matches_reference_on_vacancy_cell(rattled_si, reference_features):
    sf = SymmetryFunctions.default(["Si"], cutoff=4.0)
    atoms = rattled_si(seed=4)
    del atoms[5]
    np.testing.assert_allclose(sf.compute(atoms).values.numpy(), reference_features(atoms, sf),
                               rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", STRUCTURES)
def test_derivatives_match_central_finite_differences(structures, name, backend, mixed):
    atoms = structures[name]()
    n = len(atoms)
    analytic = dense_jacobian(mixed.compute(atoms, derivatives=True, backend=backend), n)
    h = 1e-5
    numeric = np.zeros_like(analytic)
    for j in range(n):
        for x in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[j, x] += h
            minus.positions[j, x] -= h
            numeric[:, :, j, x] = (mixed.compute(plus).values - mixed.compute(minus).values
                                   ).numpy() / (2 * h)
    scale = np.abs(analytic).max()
    assert scale > 0.01
    assert np.abs(numeric - analytic).max() < 1e-6 * scale


def test_derivatives_match_autograd(two_element_triclinic, mixed):
    from gdfnn.descriptors.kernel import symmetry_functions
    from gdfnn.neighbors import neighbor_list

    atoms = two_element_triclinic()
    nl = neighbor_list(atoms, mixed.cutoff)
    species = torch.from_numpy(mixed.species_of(atoms))
    offsets = torch.from_numpy(nl.shifts @ atoms.cell.array)
    args = (species, torch.from_numpy(nl.centers), torch.from_numpy(nl.neighbors), offsets,
            mixed.table())

    def values(pos):
        return symmetry_functions(pos, *args).values

    jac = torch.autograd.functional.jacobian(values, torch.from_numpy(atoms.positions.copy()))
    analytic = dense_jacobian(mixed.compute(atoms, derivatives=True), len(atoms))
    np.testing.assert_allclose(analytic, jac.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_virial_is_the_strain_derivative(two_element_triclinic, backend, mixed):
    atoms = two_element_triclinic()
    block = mixed.compute(atoms, derivatives=True, backend=backend)
    h = 1e-6
    for a in range(3):
        for b in range(3):
            strain = np.eye(3)
            strain[a, b] += h
            plus = atoms.copy()
            plus.set_cell(atoms.cell.array @ strain, scale_atoms=True)
            strain[a, b] -= 2 * h
            minus = atoms.copy()
            minus.set_cell(atoms.cell.array @ strain, scale_atoms=True)
            numeric = (mixed.compute(plus).values - mixed.compute(minus).values).numpy() / (2 * h)
            np.testing.assert_allclose(block.virial[:, :, a, b].numpy(), numeric, atol=2e-7)


def test_invariances(two_element_triclinic, mixed):
    atoms = two_element_triclinic()
    reference = mixed.compute(atoms).values.numpy()

    rotated = atoms.copy()
    rot = Rotation.from_euler("zyx", [0.3, -1.1, 2.0]).as_matrix()
    rotated.set_cell(atoms.cell.array @ rot.T)
    rotated.positions = atoms.positions @ rot.T
    np.testing.assert_allclose(mixed.compute(rotated).values.numpy(), reference, atol=1e-11)

    moved = atoms.copy()
    moved.positions += [3.3, -7.1, 0.4]
    np.testing.assert_allclose(mixed.compute(moved).values.numpy(), reference, atol=1e-11)
    moved.wrap()
    np.testing.assert_allclose(mixed.compute(moved).values.numpy(), reference, atol=1e-11)

    order = np.random.default_rng(0).permutation(len(atoms))
    permuted = atoms[order]
    np.testing.assert_allclose(mixed.compute(permuted).values.numpy(), reference[order],
                               atol=1e-11)
    block = mixed.compute(permuted, derivatives=True)
    np.testing.assert_allclose(dense_jacobian(block, len(atoms)),
                               dense_jacobian(mixed.compute(atoms, derivatives=True),
                                              len(atoms))[order][:, :, order], atol=1e-11)


def test_smooth_at_the_cutoff(mixed):
    rc = mixed.cutoff
    previous = None
    for gap in [1e-2, 1e-3, 1e-4]:
        dimer = Atoms("Si2", positions=[[0, 0, 0], [rc - gap, 0, 0]])
        block = mixed.compute(dimer, derivatives=True)
        size = (block.values.abs().max().item(), block.dG.abs().max().item())
        assert size[0] < 10 * gap**2 and size[1] < 10 * gap
        if previous:
            assert size[0] < previous[0] and size[1] < previous[1]
        previous = size
    far = mixed.compute(Atoms("Si2", positions=[[0, 0, 0], [rc + 1e-9, 0, 0]]), derivatives=True)
    assert far.values.abs().max() == 0 and far.dG.abs().max() == 0


@pytest.mark.parametrize("set_name", ["default", "mixed"])
def test_compiled_kernel_equals_torch_kernel(cluster, mixed_set, rattled_si, self_image_cell,
                                             two_element_triclinic, set_name):
    sf = SymmetryFunctions.default(["Si", "C"], cutoff=5.0) if set_name == "default" \
        else mixed_set()
    lonely = Atoms("SiCSi", positions=[[0, 0, 0], [1.9, 0, 0], [20, 0, 0]])  # 1, 1, 0 neighbours
    frames = [two_element_triclinic(), cluster(), self_image_cell(), rattled_si(9, repeat=2),
              lonely]
    for dtype, tol in [(torch.float64, 1e-12), (torch.float32, 2e-4)]:
        ours = sf.compute_many(frames, derivatives=True, dtype=dtype, backend="numba")
        ref = sf.compute_many(frames, derivatives=True, dtype=dtype, backend="torch")
        for a, b in zip(ours, ref, strict=True):
            assert torch.equal(a.pairs, b.pairs) and a.values.dtype == dtype
            for name in ["values", "dG", "virial"]:
                x, y = getattr(a, name), getattr(b, name)
                assert (x - y).abs().max() <= tol * max(1.0, y.abs().max().item()), name


@pytest.mark.parametrize("backend", BACKENDS)
def test_collinear_triplets_stay_finite(reference_features, backend, mixed):
    """On a straight chain cos = +-1 up to rounding; (1 + lambda cos)^zeta with zeta = 3.5 must
    not see a base of -1e-16 (NaN)."""
    chain = Atoms("Si3", positions=[[0, 0, 0], [1.7, 0, 0], [3.4, 0, 0]], cell=[5.1, 12, 12],
                  pbc=[True, False, False])
    chain.rotate(37, (1, 2, 3), rotate_cell=True)  # irrational directions: cos rounds both ways
    block = mixed.compute(chain, derivatives=True, backend=backend)
    for name in ["values", "dG", "virial"]:
        assert torch.isfinite(getattr(block, name)).all(), name
    np.testing.assert_allclose(block.values.numpy(), reference_features(chain, mixed), atol=1e-12)


def test_compiled_exp_and_cutoff_polynomials_are_accurate():
    x = np.linspace(-700.0, 700.0, 20001)
    ours = np.array([compiled._exp(v) for v in x])
    assert np.max(np.abs(ours / np.exp(x) - 1.0)) < 5e-14
    near = np.linspace(-40.0, 0.0, 4001)
    assert np.max(np.abs(np.array([compiled._exp(v) for v in near]) / np.exp(near) - 1)) < 3e-15
    r = np.linspace(0.0, 7.0, 7001)
    fc, dfc = np.array([compiled._cutoff(v, 6.0) for v in r]).T
    inside = r < 6.0
    np.testing.assert_allclose(fc, np.where(inside, 0.5 * (np.cos(np.pi * r / 6) + 1), 0), atol=1e-15)
    np.testing.assert_allclose(dfc, np.where(inside, -0.5 * np.pi / 6 * np.sin(np.pi * r / 6), 0),
                               atol=1e-15)


def test_batch_equals_one_by_one(cluster, rattled_si, self_image_cell, two_element_triclinic, mixed):
    frames = [two_element_triclinic(), cluster(), self_image_cell(), rattled_si(9)]
    together = mixed.compute_many(frames, derivatives=True, progress=False)
    for atoms, block in zip(frames, together, strict=True):
        single = mixed.compute(atoms, derivatives=True)
        for name in ["values", "pairs", "dG", "virial"]:
            np.testing.assert_allclose(getattr(block, name).numpy(),
                                       getattr(single, name).numpy(), atol=1e-13)


def test_float32_close_to_float64(two_element_triclinic, mixed):
    atoms = two_element_triclinic()
    b64 = mixed.compute(atoms, derivatives=True)
    b32 = mixed.compute(atoms, derivatives=True, dtype=torch.float32)
    assert b32.values.dtype == torch.float32
    np.testing.assert_allclose(b32.values.numpy(), b64.values.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b32.dG.numpy(), b64.dG.numpy(), atol=1e-4)


def test_unknown_element_is_an_error(mixed):
    with pytest.raises(InputError, match="element.s. O not in the descriptor's elements"):
        mixed.compute(Atoms("SiO", positions=[[0, 0, 0], [1.5, 0, 0]]))


def test_g2_matches_dscribe_acsf(two_element_triclinic):
    dscribe = pytest.importorskip("dscribe.descriptors", reason="dscribe (test extra) missing")
    params = [(0.003214, 0.0), (0.35, 1.5), (1.428426, 2.5)]
    from gdfnn.descriptors import SymmetryFunction

    funcs = [SymmetryFunction(2, (t,), 5.0, eta, rs=rs) for t in ["C", "Si"] for eta, rs in params]
    sf = SymmetryFunctions(["C", "Si"], {"C": funcs, "Si": funcs})
    acsf = dscribe.ACSF(species=["C", "Si"], r_cut=5.0, g2_params=[list(p) for p in params],
                        periodic=True)
    atoms = two_element_triclinic()
    theirs = acsf.create(atoms)
    # dscribe lays out, per neighbour species (sorted by Z: C, Si), [G1, G2 x n]: drop G1.
    per_species = 1 + len(params)
    keep = [s * per_species + 1 + k for s in range(2) for k in range(len(params))]
    np.testing.assert_allclose(sf.compute(atoms).values.numpy(), theirs[:, keep], rtol=1e-10)

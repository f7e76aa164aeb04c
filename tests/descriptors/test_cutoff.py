"""n2p2's cutoff family: each type against its formula and finite differences, smooth at the
cutoff, flat inside the inner cutoff; the compiled kernel's scalar form equals the torch
form; symmetry functions with every type (and shifted angular terms) against the loop
reference and their derivatives against finite differences, in both kernels."""

import numpy as np
import pytest
import torch

from gdfnn.descriptors import SymmetryFunction, SymmetryFunctions, compiled
from gdfnn.descriptors.cutoff import CUTOFF_TYPES, cutoff

RC = 5.0
TYPES = list(CUTOFF_TYPES)
BACKENDS = ["torch", "numba"]


@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("kind", TYPES)
def test_value_matches_the_formula_and_derivative_matches_finite_differences(
        cutoff_formula, kind, alpha):
    r = torch.linspace(0.05, 6.0, 400, dtype=torch.float64)
    f, df = cutoff(r, RC, kind, alpha)
    expected = [cutoff_formula(float(x), RC, kind, alpha) for x in r]
    np.testing.assert_allclose(f.numpy(), expected, rtol=1e-12, atol=1e-13)
    h = 1e-6
    fd = (cutoff(r + h, RC, kind, alpha)[0] - cutoff(r - h, RC, kind, alpha)[0]) / (2 * h)
    near_a_kink = ((r - RC).abs() < 2 * h) | ((r - alpha * RC).abs() < 2 * h)
    np.testing.assert_allclose(df[~near_a_kink].numpy(), fd[~near_a_kink].numpy(), atol=1e-7)
    r.requires_grad_(True)
    value = cutoff(r, RC, kind, alpha)[0]
    if value.requires_grad:  # the hard cutoff is constant: no graph at all
        (grad,) = torch.autograd.grad(value.sum(), r)
        np.testing.assert_allclose(grad.detach().numpy(), df.numpy(), atol=1e-12)


@pytest.mark.parametrize("kind", [k for k in TYPES if k != 0])
def test_smooth_at_the_cutoff_and_one_inside_the_inner_cutoff(kind):
    gap = torch.tensor([1e-3, 1e-4], dtype=torch.float64)
    f, df = cutoff(RC - gap, RC, kind, 0.4)
    assert (f.abs() < 1e-6).all() and (df.abs() < 2e-2).all()  # f ~ gap^3 or faster, df ~ gap^2
    assert cutoff(torch.tensor([RC, RC + 1.0], dtype=torch.float64), RC, kind, 0.4)[0].eq(0).all()
    inner = torch.tensor([0.1, 1.0, 1.99], dtype=torch.float64)
    f_in, df_in = cutoff(inner, RC, kind, 0.4)
    if kind in (2, 3):  # tanh types ignore alpha: they fall from r = 0 on
        assert (f_in < 1).all() and (df_in < 0).all()
        assert cutoff(torch.zeros(1, dtype=torch.float64), RC, 3)[0].item() == pytest.approx(1.0)
    else:
        assert f_in.eq(1).all() and df_in.eq(0).all()


def test_hard_cutoff_is_one_inside_zero_outside():
    f, df = cutoff(torch.tensor([0.5, 4.999, 5.0, 7.0], dtype=torch.float64), RC, 0, 0.0)
    assert f.tolist() == [1.0, 1.0, 0.0, 0.0] and df.eq(0).all()


@pytest.mark.parametrize("kind", TYPES)
def test_compiled_scalar_form_equals_torch(kind):
    r = np.linspace(0.01, 5.5, 301)
    for alpha in (0.0, 0.25):
        f, df = cutoff(torch.from_numpy(r), RC, kind, alpha)
        fc, dfc = np.empty_like(r), np.empty_like(r)
        compiled._cutoffs(r, RC, kind, alpha, fc, dfc)
        np.testing.assert_allclose(fc, f.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dfc, df.numpy(), rtol=1e-11, atol=1e-11)


def shifted_set(kind: int, alpha: float) -> SymmetryFunctions:
    """G2, and G4/G5 with a shift, on Si/C, with the given cutoff type."""
    funcs = [SymmetryFunction(2, (t,), 4.2, 0.5, rs=1.5) for t in ("Si", "C")]
    funcs += [SymmetryFunction(k, pair, 4.2, 0.3, rs=rs, zeta=z, lam=lam)
              for k, pair, rs, z, lam in [(4, ("Si", "C"), 1.2, 2.0, 1.0), (5, ("Si", "Si"), 0.8,
                                                                              1.0, -1.0),
                                          (4, ("C", "C"), 0.0, 3.5, -1.0)]]
    return SymmetryFunctions(["Si", "C"], {"Si": funcs, "C": funcs}, kind, alpha)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("kind", "alpha"), [(0, 0.0), (1, 0.3), (2, 0.0), (3, 0.5), (4, 0.2),
                                             (5, 0.0), (6, 0.1), (7, 0.0), (8, 0.4)])
def test_features_and_derivatives_with_every_cutoff_type(structures, reference_features, kind,
                                                         alpha, backend):
    sf = shifted_set(kind, alpha)
    atoms = structures["two_element_triclinic"]()
    block = sf.compute(atoms, derivatives=True, backend=backend)
    np.testing.assert_allclose(block.values.numpy(), reference_features(atoms, sf), rtol=1e-11,
                               atol=1e-13)
    if kind == 0:
        return  # the hard cutoff jumps at r_c: finite differences would straddle jumps
    h = 1e-5
    pairs = {tuple(p): k for k, p in enumerate(block.pairs.tolist())}
    for atom in (0, 5):
        for axis in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[atom, axis] += h
            minus.positions[atom, axis] -= h
            fd = (sf.compute(plus, backend=backend).values
                  - sf.compute(minus, backend=backend).values).numpy() / (2 * h)
            for centre in range(len(atoms)):
                k = pairs.get((centre, atom))
                analytic = np.zeros(sf.width) if k is None else block.dG[k, :, axis].numpy()
                np.testing.assert_allclose(analytic, fd[centre], atol=1e-6 * (1 + np.abs(
                    fd[centre]).max()))

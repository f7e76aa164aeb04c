"""Equation of state and elastic constants from energies and stresses: array arithmetic only.

The third-order Birch-Murnaghan equation of state (Birch, Phys. Rev. 71, 809 (1947)),

    E(V) = E0 + 9 V0 B0 / 16 {[(V0/V)^(2/3) - 1]^3 B0' + [(V0/V)^(2/3) - 1]^2 [6 - 4 (V0/V)^(2/3)]},

is fitted by least squares to ``(V, E)`` points; the elastic tensor is the least-squares
slope of stress against strain, ``sigma_i = sigma0_i + sum_j C_ij eps_j``, in Voigt notation
(ASE's order xx yy zz yz xz xy, engineering shear strains, ASE's stress sign: positive under
tension, so that C is positive definite for a stable crystal).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from gdfnn.errors import GdfnnError


@dataclass(frozen=True)
class EquationOfState:
    """A fitted Birch-Murnaghan equation of state: ``v0`` Å^3 and ``e0`` eV (of the cell the
    points were given for), ``b0`` eV/Å^3, ``b0_prime`` (dimensionless), and the largest
    misfit of the points, eV."""

    v0: float
    e0: float
    b0: float
    b0_prime: float
    max_residual: float

    def energy(self, volume: np.ndarray) -> np.ndarray:
        """E(V) of the fit, eV."""
        return birch_murnaghan(np.asarray(volume, dtype=float), self.e0, self.v0, self.b0,
                               self.b0_prime)


def birch_murnaghan(volume: np.ndarray, e0: float, v0: float, b0: float, b0_prime: float
                    ) -> np.ndarray:
    """The third-order Birch-Murnaghan energy at ``volume`` (Å^3), eV (B0 in eV/Å^3)."""
    x = (v0 / volume) ** (2.0 / 3.0) - 1.0
    return e0 + 9.0 * v0 * b0 / 16.0 * (x**3 * b0_prime + x**2 * (6.0 - 4.0 * (x + 1.0)))


def fit_birch_murnaghan(volumes: np.ndarray, energies: np.ndarray) -> EquationOfState:
    """The equation of state through ``(volumes (K,), energies (K,))``, K >= 5, started from
    a parabola in V; raises :class:`GdfnnError` when the points have no minimum inside their
    range (then the crystal is not near its equilibrium volume)."""
    v, e = np.asarray(volumes, dtype=float), np.asarray(energies, dtype=float)
    if len(v) < 5:
        raise GdfnnError(f"an equation of state needs at least 5 points, got {len(v)}")
    a, b, c = np.polyfit(v, e, 2)
    v_min = -b / (2 * a) if a > 0 else np.nan
    if not v.min() < v_min < v.max():
        raise GdfnnError(f"E(V) has no minimum between {v.min():.4g} and {v.max():.4g} Å^3: "
                         "the crystal is far from its equilibrium volume")
    start = (float(np.polyval([a, b, c], v_min)), float(v_min), float(2 * a * v_min), 4.0)
    with warnings.catch_warnings():  # an uncertain fit shows in max_residual instead
        warnings.simplefilter("ignore", OptimizeWarning)
        params, _ = curve_fit(birch_murnaghan, v, e, p0=start, maxfev=10000)
    residual = float(np.abs(birch_murnaghan(v, *params) - e).max())
    return EquationOfState(v0=float(params[1]), e0=float(params[0]), b0=float(params[2]),
                           b0_prime=float(params[3]), max_residual=residual)


def voigt_strain(strain: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` symmetric strain tensors as ``(..., 6)`` Voigt vectors with engineering
    shear components (2 eps_yz, 2 eps_xz, 2 eps_xy)."""
    s = np.asarray(strain, dtype=float)
    return np.stack([s[..., 0, 0], s[..., 1, 1], s[..., 2, 2], 2 * s[..., 1, 2],
                     2 * s[..., 0, 2], 2 * s[..., 0, 1]], axis=-1)


def strain_tensor(voigt: np.ndarray) -> np.ndarray:
    """``(6,)`` Voigt strain (engineering shear) as the symmetric ``(3, 3)`` tensor."""
    e = np.asarray(voigt, dtype=float)
    return np.array([[e[0], e[5] / 2, e[4] / 2],
                     [e[5] / 2, e[1], e[3] / 2],
                     [e[4] / 2, e[3] / 2, e[2]]])


def fit_elastic_tensor(strains: np.ndarray, stresses: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``(C (6, 6), sigma0 (6,))``: the least-squares fit ``sigma = sigma0 + C eps`` of
    ``stresses (K, 6)`` against Voigt ``strains (K, 6)`` (units of C and sigma0: those of the
    stresses); the strains must span all six directions."""
    e, s = np.asarray(strains, dtype=float), np.asarray(stresses, dtype=float)
    design = np.hstack([e, np.ones((len(e), 1))])
    if np.linalg.matrix_rank(design) < 7:
        raise GdfnnError("the strains do not span the six Voigt directions: C is not "
                         "determined")
    solution, *_ = np.linalg.lstsq(design, s, rcond=None)
    return solution[:6].T, solution[6]


def cubic_constants(c: np.ndarray) -> dict[str, float]:
    """C11, C12, C44 of a cubic crystal: the averages of the symmetry-equivalent entries of
    ``c (6, 6)``, and the bulk modulus (C11 + 2 C12) / 3."""
    c11 = float(np.mean(np.diag(c)[:3]))
    c12 = float(np.mean([c[0, 1], c[0, 2], c[1, 2], c[1, 0], c[2, 0], c[2, 1]]))
    c44 = float(np.mean(np.diag(c)[3:]))
    return {"C11": c11, "C12": c12, "C44": c44, "bulk_modulus_elastic": (c11 + 2 * c12) / 3}


def hexagonal_constants(c: np.ndarray) -> dict[str, float]:
    """C11, C12, C13, C33, C44 of a hexagonal crystal (c along z), averaged over the
    symmetry-equivalent entries of ``c (6, 6)``, and its Voigt bulk modulus."""
    out = {"C11": float((c[0, 0] + c[1, 1]) / 2), "C12": float((c[0, 1] + c[1, 0]) / 2),
           "C13": float(np.mean([c[0, 2], c[1, 2], c[2, 0], c[2, 1]])),
           "C33": float(c[2, 2]), "C44": float((c[3, 3] + c[4, 4]) / 2)}
    out["bulk_modulus_elastic"] = voigt_bulk_modulus(c)
    return out


def voigt_bulk_modulus(c: np.ndarray) -> float:
    """The Voigt average bulk modulus of ``c (6, 6)``: (C11 + C22 + C33 + 2 (C12 + C13 +
    C23)) / 9."""
    return float((np.trace(c[:3, :3]) + 2 * (c[0, 1] + c[0, 2] + c[1, 2])) / 9)

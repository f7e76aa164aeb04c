"""Compiled CPU kernel (numba) for symmetry functions and their per-entry derivatives.

Same mathematics and outputs as :mod:`gdfnn.descriptors.kernel` (which stays the reference,
the GPU path and the fallback when numba is missing); the tests compare the two. One thread
handles one centre atom at a time (``prange``), so no two threads write the same row.

Speed comes from factorising the angular terms: for each triplet the Gaussian-cutoff products
B_m depend only on (eta, kind, Rc) combinations m and the angular factors A_q only on
(zeta, lambda) combinations q; each function is then one product A_q B_m. Per entry, the
radial factors exp(-eta r^2) fc(r) are computed once, not once per triplet. The gradient of a
term with respect to the entry vectors a = D_ij and b = D_ik is written as

    dT/da = Pa a + K b,     dT/db = Pb b + K a,

with scalar coefficients Pa, Pb, K: from dcos/da = (b/|b| - cos a/|a|)/|a| and
dR_jk/da = -(b - a)/R_jk (and the same with a and b swapped), every direction is a or b.
"""

from __future__ import annotations

import math

import numpy as np

try:
    import numba
except ImportError:  # the torch kernel is used instead
    numba = None


def available() -> bool:
    return numba is not None


def _ipow(x, n):
    result = 1.0
    for _ in range(n):
        result *= x
    return result


def _cutoff(r, rc):
    if r >= rc:
        return 0.0, 0.0
    x = math.pi * r / rc
    return 0.5 * (math.cos(x) + 1.0), -0.5 * math.pi / rc * math.sin(x)


def _entries(start, d, vec, sn, species, rad, ang_m, values, dge, derivatives):
    """Radial functions and per-entry factors exp(-eta r^2) fc(r) of each combination m."""
    n_atoms = species.shape[0]
    n_m_max = ang_m.shape[1]
    ef = np.zeros((d.shape[0], n_m_max), dtype=d.dtype)
    def_ = np.zeros((d.shape[0], n_m_max), dtype=d.dtype)
    for i in numba.prange(n_atoms):
        c = species[i]
        for e in range(start[i], start[i + 1]):
            r = d[e]
            for s in range(rad.shape[1]):
                t1 = int(rad[c, s, 0])
                if t1 < 0:
                    break
                if t1 != sn[e]:
                    continue
                eta, rs, rc, col = rad[c, s, 1], rad[c, s, 2], rad[c, s, 3], int(rad[c, s, 4])
                fc, dfc = _cutoff(r, rc)
                if fc == 0.0:
                    continue
                g = math.exp(-eta * (r - rs) ** 2)
                values[i, col] += g * fc
                if derivatives:
                    coef = g * (dfc - 2.0 * eta * (r - rs) * fc) / r
                    for x in range(3):
                        dge[e, col, x] += coef * vec[e, x]
            for m in range(n_m_max):
                eta, rc = ang_m[c, m, 0], ang_m[c, m, 2]
                if rc <= 0.0:
                    break
                fc, dfc = _cutoff(r, rc)
                g = math.exp(-eta * r * r)
                ef[e, m] = g * fc
                def_[e, m] = g * (dfc - 2.0 * eta * r * fc)
    return ef, def_


def _triplets(start, d, vec, sn, species, ang_m, ang_q, funcs, ef, def_, values, dge, derivatives):
    n_atoms = species.shape[0]
    n_m_max, n_q_max = ang_m.shape[1], ang_q.shape[1]
    for i in numba.prange(n_atoms):
        c = species[i]
        bm = np.zeros(n_m_max)
        dba = np.zeros(n_m_max)
        dbb = np.zeros(n_m_max)
        dbc = np.zeros(n_m_max)
        aq = np.zeros(n_q_max)
        daq = np.zeros(n_q_max)
        # derivatives with respect to D_e1 summed over all partners e2, written once per e1
        acc = np.zeros((dge.shape[1] if derivatives else 0, 3), dtype=dge.dtype)
        for e1 in range(start[i], start[i + 1]):
            ra = d[e1]
            if derivatives:
                acc[:] = 0.0
            for e2 in range(e1 + 1, start[i + 1]):
                rb = d[e2]
                cx = vec[e2, 0] - vec[e1, 0]
                cy = vec[e2, 1] - vec[e1, 1]
                cz = vec[e2, 2] - vec[e1, 2]
                rjk = math.sqrt(cx * cx + cy * cy + cz * cz)
                dot = vec[e1, 0] * vec[e2, 0] + vec[e1, 1] * vec[e2, 1] + vec[e1, 2] * vec[e2, 2]
                cos = dot / (ra * rb)
                any_term = False
                last_rc, fc, dfc = -1.0, 0.0, 0.0
                for m in range(n_m_max):
                    eta, kappa, rc = ang_m[c, m, 0], ang_m[c, m, 1], ang_m[c, m, 2]
                    if rc <= 0.0:
                        break
                    ab = ef[e1, m] * ef[e2, m]
                    if kappa > 0.0 and ab != 0.0:
                        if rc != last_rc:  # one cos/sin per distinct cutoff, not per function
                            fc, dfc = _cutoff(rjk, rc)
                            last_rc = rc
                        if fc == 0.0:
                            ab = 0.0
                        else:
                            g = math.exp(-eta * rjk * rjk)
                            ejk = g * fc
                            dejk = g * (dfc - 2.0 * eta * rjk * fc)
                    else:
                        ejk, dejk = 1.0, 0.0
                    if ab == 0.0:
                        bm[m] = 0.0
                        dba[m] = 0.0
                        dbb[m] = 0.0
                        dbc[m] = 0.0
                        continue
                    bm[m] = ab * ejk
                    dba[m] = def_[e1, m] * ef[e2, m] * ejk
                    dbb[m] = ef[e1, m] * def_[e2, m] * ejk
                    dbc[m] = ab * dejk
                    any_term = any_term or bm[m] != 0.0 or dbc[m] != 0.0
                if not any_term:
                    continue
                for q in range(n_q_max):
                    zeta, lam, norm, izeta = ang_q[c, q, 0], ang_q[c, q, 1], ang_q[c, q, 2], int(
                        ang_q[c, q, 3])
                    if norm <= 0.0:
                        break
                    base = 1.0 + lam * cos
                    if izeta >= 1:
                        low = _ipow(base, izeta - 1)
                        aq[q] = norm * low * base
                    else:
                        low = base ** (zeta - 1.0)
                        aq[q] = norm * low * base
                    daq[q] = norm * zeta * lam * low
                s1, s2 = sn[e1], sn[e2]
                inv_ra, inv_rb, inv_ab = 1.0 / ra, 1.0 / rb, 1.0 / (ra * rb)
                inv_jk = 1.0 / rjk
                for s in range(funcs.shape[1]):
                    t1, t2 = funcs[c, s, 0], funcs[c, s, 1]
                    if t1 < 0:
                        break
                    if not ((t1 == s1 and t2 == s2) or (t1 == s2 and t2 == s1)):
                        continue
                    m, q, col = funcs[c, s, 2], funcs[c, s, 3], funcs[c, s, 4]
                    a_, b_ = aq[q], bm[m]
                    values[i, col] += a_ * b_
                    if derivatives:
                        db_ = daq[q] * b_
                        cjk = a_ * dbc[m] * inv_jk
                        pa = (a_ * dba[m] - db_ * cos * inv_ra) * inv_ra + cjk
                        pb = (a_ * dbb[m] - db_ * cos * inv_rb) * inv_rb + cjk
                        k = db_ * inv_ab - cjk
                        for x in range(3):
                            acc[col, x] += pa * vec[e1, x] + k * vec[e2, x]
                            dge[e2, col, x] += pb * vec[e2, x] + k * vec[e1, x]
            if derivatives:
                for col in range(acc.shape[0]):
                    for x in range(3):
                        dge[e1, col, x] += acc[col, x]


def _accumulate(start, inverse, self_slot, vec, dge, dG, virial):
    """dG[pair(e)] += dge[e]; dG[self(i)] -= sum_e dge[e]; virial_i = sum_e dge[e] (x) D_e."""
    n_atoms = start.shape[0] - 1
    n_features = dge.shape[1]
    for i in numba.prange(n_atoms):
        s = self_slot[i]
        for e in range(start[i], start[i + 1]):
            p = inverse[e]
            for f in range(n_features):
                for x in range(3):
                    g = dge[e, f, x]
                    dG[p, f, x] += g
                    dG[s, f, x] -= g
                    for y in range(3):
                        virial[i, f, x, y] += g * vec[e, y]


if numba is not None:
    _accumulate = numba.njit(parallel=True, cache=True)(_accumulate)
    _ipow = numba.njit(inline="always", cache=True)(_ipow)
    _cutoff = numba.njit(inline="always", cache=True)(_cutoff)
    _entries = numba.njit(parallel=True, cache=True)(_entries)
    _triplets = numba.njit(parallel=True, cache=True)(_triplets)


def compiled_tables(table) -> dict[str, np.ndarray]:
    """Numpy parameter arrays for the compiled kernel from a float64 CPU FunctionTable.

    rad (n_species, F2, 5): t1, eta, rs, rc, col (t1 = -1 ends the list);
    ang_m (n_species, M, 3): eta, kappa, rc of each distinct Gaussian-cutoff factor;
    ang_q (n_species, Q, 4): zeta, lambda, 2^(1-zeta), integer zeta or -1;
    funcs (n_species, F3, 5): t1, t2, m, q, col (int64).
    """
    r, a = ({k: v.cpu().numpy() for k, v in part.items()} for part in (table.radial, table.angular))
    n_sp = r["eta"].shape[0]
    rad = np.stack([r["t1"], r["eta"], r["rs"], r["rc"], r["col"]], axis=-1).astype(float)
    m_keys = [sorted({(a["eta"][c, s], a["kappa"][c, s], a["rc"][c, s])
                      for s in range(a["eta"].shape[1]) if a["t1"][c, s] >= 0}) for c in range(n_sp)]
    q_keys = [sorted({(a["zeta"][c, s], a["lam"][c, s])
                      for s in range(a["eta"].shape[1]) if a["t1"][c, s] >= 0}) for c in range(n_sp)]
    ang_m = np.zeros((n_sp, max(1, *map(len, m_keys)), 3))
    ang_q = np.zeros((n_sp, max(1, *map(len, q_keys)), 4))
    funcs = np.full((n_sp, max(1, a["eta"].shape[1]), 5), -1, dtype=np.int64)
    for c in range(n_sp):
        for m, key in enumerate(m_keys[c]):
            ang_m[c, m] = key
        for q, (zeta, lam) in enumerate(q_keys[c]):
            ang_q[c, q] = (zeta, lam, 2.0 ** (1.0 - zeta), zeta if float(zeta).is_integer() else -1)
        for s in range(a["eta"].shape[1]):
            if a["t1"][c, s] < 0:
                continue
            m = m_keys[c].index((a["eta"][c, s], a["kappa"][c, s], a["rc"][c, s]))
            q = q_keys[c].index((a["zeta"][c, s], a["lam"][c, s]))
            funcs[c, s] = (a["t1"][c, s], a["t2"][c, s], m, q, a["col"][c, s])
    # pad slots of the radial table keep t1 = -1, which ends the loop
    return {"rad": rad, "ang_m": ang_m, "ang_q": ang_q, "funcs": funcs}


def _entry_start(centers, n_atoms):
    start = np.zeros(n_atoms + 1, dtype=np.int64)
    np.cumsum(np.bincount(centers, minlength=n_atoms), out=start[1:])
    return start


def assemble(centers, neighbors, vec, dge, n_atoms):
    """Pairs ``(n_pairs, 2)``, dG ``(n_pairs, D, 3)`` and virial ``(n_atoms, D, 3, 3)`` from
    per-entry derivatives (same result as :func:`gdfnn.descriptors.kernel.assemble_jacobian`)."""
    keys = np.concatenate([centers * n_atoms + neighbors, np.arange(n_atoms) * (n_atoms + 1)])
    unique, inverse = np.unique(keys, return_inverse=True)
    n_entries = centers.shape[0]
    dG = np.zeros((unique.shape[0], dge.shape[1], 3), dtype=dge.dtype)
    virial = np.zeros((n_atoms, dge.shape[1], 3, 3), dtype=dge.dtype)
    _accumulate(_entry_start(centers, n_atoms), inverse[:n_entries], inverse[n_entries:], vec, dge,
                dG, virial)
    return np.stack([unique // n_atoms, unique % n_atoms], axis=1), dG, virial


def entry_features(tables, species, centers, neighbors, vec, n_features, derivatives):
    """Values ``(n_atoms, D)`` and per-entry derivatives ``(n_entries, D, 3)`` (or None)."""
    n_atoms = species.shape[0]
    start = _entry_start(centers, n_atoms)
    d = np.sqrt((vec * vec).sum(axis=1))
    sn = species[neighbors]
    width = n_features + 1
    values = np.zeros((n_atoms, width), dtype=vec.dtype)
    dge = np.zeros((vec.shape[0] if derivatives else 0, width, 3), dtype=vec.dtype)
    ef, def_ = _entries(start, d, vec, sn, species, tables["rad"], tables["ang_m"], values, dge,
                        derivatives)
    if tables["funcs"][:, 0, 0].max() >= 0:
        _triplets(start, d, vec, sn, species, tables["ang_m"], tables["ang_q"], tables["funcs"],
                  ef, def_, values, dge, derivatives)
    return values[:, :-1], (dge[:, :-1] if derivatives else None)

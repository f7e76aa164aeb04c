"""Compiled CPU kernel (numba) for symmetry functions and their exact derivatives.

Same mathematics and outputs as :mod:`gdfnn.descriptors.kernel` (the reference and the GPU
path); the tests compare the two.

One thread handles one centre atom i at a time (``prange``) and does all of its work: radial
terms, angular triplets, and the accumulation of its rows of dG/dR and of its virial, so the
per-entry derivatives live in a small scratch array in cache and no two threads write the
same row. The centre's entries are copied into structure-of-arrays form, ordered by neighbour
species.

Speed comes from letting LLVM vectorise (AVX2/AVX-512) every inner loop over partner entries.
What that takes, each found by measurement (a loop that is not vectorised runs 5-10x slower):

- no libm calls in the loops: exp is evaluated as 2^k exp(r), x = k ln2 + r, with a
  degree-13 Taylor polynomial and 2^k built from its bits; the cosine cutoff by Taylor series
  of t = pi r / Rc - pi/2 in [-pi/2, pi/2] (both within a few ulp);
- ``error_model="numpy"``: numba's default raises on division by zero, a branch per divide;
- indices LLVM can prove non-negative (loops from 0, or unsigned bounds), else numba's
  negative-index wrap-around blocks vectorisation;
- ``fastmath`` reassociation for the sums (no nan/inf assumptions);
- loops that store into one or two arrays only, and an angular contraction made of sums only:
  each triplet is visited in both orders (e1, e2) and (e2, e1), and the visit from e1 adds
  only the derivative with respect to entry e1 (written once per e1), so no partner row is
  updated inside a loop. This doubles the arithmetic, which vectorised code repays many
  times; the value of each triplet is counted with weight 1/2.

The angular terms are factorised: for each triplet the Gaussian-cutoff products B_m depend
only on the (eta, kappa, Rc) combination m and the angular factors A_q only on the
(zeta, lambda) combination q; each function is one product A_q B_m. With a = D_e1 and
b = D_e2, the derivative of a term with respect to a is

    dT/da = Pa a + K b,   Pa = A dB/da_r / |a| - dA B cos / |a|^2 + A dB/dR_jk / R_jk,
                          K = dA B / (|a| |b|) - A dB/dR_jk / R_jk,

from dcos/da = (b/|b| - cos a/|a|)/|a| and dR_jk/da = -(b - a)/R_jk.
"""

from __future__ import annotations

import logging
import math
import os

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

log = logging.getLogger("gdfnn")

_FASTMATH = {"reassoc", "contract", "nsz"}  # lets LLVM vectorise the sums; no nan/inf shortcuts

_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
_HALF_PI = 0.5 * math.pi
_TANH_NORM = 1.0 / math.tanh(1.0) ** 3


@intrinsic
def _bits_as_float(typingctx, bits):
    """Reinterpret the 64 bits of an int64 as a float64 (vectorises, unlike ldexp)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


def _exp(x):
    """exp(x) for float64 x, clamped to [-708, 709] (a few ulp)."""
    x = min(max(x, -708.0), 709.0)
    k = math.floor(x * _LOG2E + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _bits_as_float((np.int64(k) + 1023) << 52)


def _cutoff(r, rc):
    """fc = 0.5 (1 + cos(pi r / rc)) and dfc/dr for r < rc; both 0 beyond."""
    t = (math.pi / rc) * min(r, rc) - _HALF_PI  # cos(pi r / rc) = -sin t, sin(pi r / rc) = cos t
    t2 = t * t
    s = 1.0 / 51090942171709440000.0
    s = s * t2 - 1.0 / 121645100408832000.0
    s = s * t2 + 1.0 / 355687428096000.0
    s = s * t2 - 1.0 / 1307674368000.0
    s = s * t2 + 1.0 / 6227020800.0
    s = s * t2 - 1.0 / 39916800.0
    s = s * t2 + 1.0 / 362880.0
    s = s * t2 - 1.0 / 5040.0
    s = s * t2 + 1.0 / 120.0
    s = s * t2 - 1.0 / 6.0
    s = (s * t2 + 1.0) * t
    c = 1.0 / 2432902008176640000.0
    c = c * t2 - 1.0 / 6402373705728000.0
    c = c * t2 + 1.0 / 20922789888000.0
    c = c * t2 - 1.0 / 87178291200.0
    c = c * t2 + 1.0 / 479001600.0
    c = c * t2 - 1.0 / 3628800.0
    c = c * t2 + 1.0 / 40320.0
    c = c * t2 - 1.0 / 720.0
    c = c * t2 + 1.0 / 24.0
    c = c * t2 - 0.5
    c = c * t2 + 1.0
    inside = 1.0 if r < rc else 0.0
    return inside * 0.5 * (1.0 - s), inside * (-0.5 * math.pi / rc) * c


def _cutoff_general(r, rc, kind, alpha):
    """fc and dfc/dr of n2p2's cutoff family (gdfnn.descriptors.cutoff has the formulas)."""
    if r >= rc:
        return 0.0, 0.0
    if kind == 2 or kind == 3:  # tanhu, tanh: no inner cutoff
        norm = _TANH_NORM if kind == 3 else 1.0
        t = math.tanh(1.0 - r / rc)
        return norm * t * t * t, -3.0 * norm * t * t * (1.0 - t * t) / rc
    inner = alpha * rc
    if r < inner:
        return 1.0, 0.0
    iw = 1.0 / (rc - inner)
    x = (r - inner) * iw
    if kind == 0:
        return 1.0, 0.0
    if kind == 1:
        return 0.5 * (math.cos(math.pi * x) + 1.0), -0.5 * math.pi * math.sin(math.pi * x) * iw
    if kind == 4:
        one_minus = 1.0 - x * x
        f = math.exp(1.0 - 1.0 / one_minus)
        return f, -2.0 * x / (one_minus * one_minus) * f * iw
    if kind == 5:
        return (2.0 * x - 3.0) * x * x + 1.0, 6.0 * x * (x - 1.0) * iw
    y = x - 1.0
    if kind == 6:
        return ((15.0 - 6.0 * x) * x - 10.0) * x**3 + 1.0, -30.0 * x * x * y * y * iw
    if kind == 7:
        return (x * (x * (20.0 * x - 70.0) + 84.0) - 35.0) * x**4 + 1.0, 140.0 * (x * y) ** 3 * iw
    return ((x * (x * ((315.0 - 70.0 * x) * x - 540.0) + 420.0) - 126.0) * x**5 + 1.0,
            -630.0 * (x * y) ** 4 * iw)


def _cutoffs(r, rc, kind, alpha, fc, dfc):
    """fc and dfc/dr of every entry of ``r`` into ``fc``, ``dfc``; the type test sits outside
    the loop, which keeps the cosine loop vectorised (measured: 8-10 % of a 63-atom cell)."""
    if kind == 1 and alpha == 0.0:
        for e in range(r.shape[0]):
            fc[e], dfc[e] = _cutoff(r[e], rc)
    else:
        for e in range(r.shape[0]):
            fc[e], dfc[e] = _cutoff_general(r[e], rc, kind, alpha)


def _centre_entries(i, start, vec, sn, n_species):
    """The entries of centre i ordered by neighbour species: global indices, species block
    starts, components and lengths (float64, contiguous)."""
    e0, n = start[i], start[i + 1] - start[i]
    block = np.zeros(n_species + 1, dtype=np.int64)
    for e in range(e0, e0 + n):
        block[sn[e] + 1] += 1
    for s in range(n_species):
        block[s + 1] += block[s]
    fill = block[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for e in range(e0, e0 + n):
        order[fill[sn[e]]] = e
        fill[sn[e]] += 1
    ax, ay, az, r = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    for k in range(n):
        e = order[k]
        ax[k], ay[k], az[k] = vec[e, 0], vec[e, 1], vec[e, 2]
        r[k] = math.sqrt(ax[k] * ax[k] + ay[k] * ay[k] + az[k] * az[k])
    return order, block, ax, ay, az, r


def _radial(c, block, ax, ay, az, r, rad, vals, dgl, derivatives, ckind, calpha):
    """Radial functions of one centre: adds to ``vals (D,)`` and ``dgl (D, 3, n)``. The
    cutoff of every entry is computed once per distinct rc (functions share it)."""
    fcs, dfcs = np.empty(r.shape[0]), np.empty(r.shape[0])
    last_rc = -1.0
    for s in range(rad.shape[1]):
        t1 = int(rad[c, s, 0])
        if t1 < 0:
            break
        eta, rs, rc, col = rad[c, s, 1], rad[c, s, 2], rad[c, s, 3], int(rad[c, s, 4])
        if rc != last_rc:
            _cutoffs(r, rc, ckind, calpha, fcs, dfcs)
            last_rc = rc
        total = 0.0
        for e in range(np.uint64(block[t1]), np.uint64(block[t1 + 1])):
            fc, dfc = fcs[e], dfcs[e]
            x = r[e] - rs
            g = _exp(-eta * x * x)
            total += g * fc
            if derivatives:
                coef = g * (dfc - 2.0 * eta * x * fc) / r[e]
                dgl[col, 0, e] += coef * ax[e]
                dgl[col, 1, e] += coef * ay[e]
                dgl[col, 2, e] += coef * az[e]
        vals[col] += total


def _entry_factors(c, r, ang_m, n_m, ckind, calpha):
    """Per entry and combination m: exp(-eta (r - rs)^2) fc(r) and its r-derivative / r."""
    n = r.shape[0]
    ef, dfr = np.empty((n_m, n)), np.empty((n_m, n))
    fcs, dfcs = np.empty(n), np.empty(n)
    last_rc = -1.0
    for m in range(n_m):  # ordered by rc: the cutoffs are computed once per distinct rc
        eta, rc, rs = ang_m[c, m, 0], ang_m[c, m, 2], ang_m[c, m, 3]
        if rc != last_rc:
            _cutoffs(r, rc, ckind, calpha, fcs, dfcs)
            last_rc = rc
        for e in range(n):
            fc, dfc = fcs[e], dfcs[e]
            x = r[e] - rs
            g = _exp(-eta * x * x)
            ef[m, e] = g * fc
            dfr[m, e] = g * (dfc - 2.0 * eta * x * fc) / r[e]
    return ef, dfr


def _angular(c, block, ax, ay, az, r, ang_m, ang_q, pfuncs, n_m, n_q, vals, dgl, derivatives,
             ckind, calpha):
    """Angular functions of one centre: adds to ``vals (D,)`` and ``dgl (D, 3, n)``."""
    n = r.shape[0]
    n_species = block.shape[0] - 1
    ef, dfr = _entry_factors(c, r, ang_m, n_m, ckind, calpha)
    invr = 1.0 / r
    rjk, cosv, fcj, dfcj, ejk, dejk = (np.empty(n), np.empty(n), np.empty(n), np.empty(n),
                                       np.empty(n), np.empty(n))
    bm, ua, uc = np.empty((n_m, n)), np.empty((n_m, n)), np.empty((n_m, n))
    aq, daq = np.empty((n_q, n)), np.empty((n_q, n))
    s1 = 0
    for e1 in range(n):
        while e1 >= block[s1 + 1]:
            s1 += 1
        x1, y1, z1, i1 = ax[e1], ay[e1], az[e1], invr[e1]
        for e in range(n):
            dx, dy, dz = ax[e] - x1, ay[e] - y1, az[e] - z1
            rjk[e] = math.sqrt(dx * dx + dy * dy + dz * dz)
        rjk[e1] = 1.0  # the pair (e1, e1) is no triplet; its terms are zeroed below
        for e in range(n):
            cosv[e] = min(max((x1 * ax[e] + y1 * ay[e] + z1 * az[e]) * i1 * invr[e], -1.0), 1.0)
        last_rc = -1.0
        for m in range(n_m):
            eta, kappa, rc, rs = ang_m[c, m, 0], ang_m[c, m, 1], ang_m[c, m, 2], ang_m[c, m, 3]
            f1, d1 = ef[m, e1], dfr[m, e1]
            if kappa > 0.0:
                if rc != last_rc:
                    _cutoffs(rjk, rc, ckind, calpha, fcj, dfcj)
                    last_rc = rc
                if derivatives:
                    for e in range(n):
                        x = rjk[e] - rs
                        g = _exp(-eta * x * x)
                        ejk[e] = g * fcj[e]
                        dejk[e] = g * (dfcj[e] - 2.0 * eta * x * fcj[e]) / rjk[e]
                else:
                    for e in range(n):
                        x = rjk[e] - rs
                        ejk[e] = _exp(-eta * x * x) * fcj[e]
            else:
                ejk[:] = 1.0
                dejk[:] = 0.0
            b, fm = bm[m], ef[m]
            for e in range(n):
                b[e] = f1 * fm[e] * ejk[e]
            b[e1] = 0.0
            if derivatives:
                u, w = uc[m], ua[m]
                for e in range(n):
                    u[e] = f1 * fm[e] * dejk[e]
                for e in range(n):
                    w[e] = d1 * fm[e] * ejk[e] + u[e]
                u[e1] = 0.0
                w[e1] = 0.0
        for q in range(n_q):
            zeta, lam, norm, izeta = ang_q[c, q, 0], ang_q[c, q, 1], ang_q[c, q, 2], int(
                ang_q[c, q, 3])
            low, a = daq[q], aq[q]
            if izeta >= 1:
                low[:] = norm
                for _ in range(izeta - 1):
                    for e in range(n):
                        low[e] *= 1.0 + lam * cosv[e]
            else:
                for e in range(n):
                    low[e] = norm * (1.0 + lam * cosv[e]) ** (zeta - 1.0)
            for e in range(n):
                a[e] = low[e] * (1.0 + lam * cosv[e])
            for e in range(n):
                low[e] *= zeta * lam
        for s2 in range(n_species):
            b0, b1 = np.uint64(block[s2]), np.uint64(block[s2 + 1])
            if b0 >= b1:
                continue
            for f in range(pfuncs.shape[3]):
                m, q, col = pfuncs[c, s1, s2, f, 0], pfuncs[c, s1, s2, f, 1], pfuncs[c, s1, s2, f, 2]
                if m < 0:
                    break
                a, da, b = aq[q], daq[q], bm[m]
                total = 0.0
                if not derivatives:
                    for e in range(b0, b1):
                        total += a[e] * b[e]
                    vals[col] += 0.5 * total
                    continue
                w, u = ua[m], uc[m]
                spa, skx, sky, skz = 0.0, 0.0, 0.0, 0.0
                c1 = -i1 * i1
                for e in range(b0, b1):
                    a_, b_ = a[e], b[e]
                    total += a_ * b_
                    dab = da[e] * b_
                    spa += a_ * w[e] + dab * cosv[e] * c1
                    k = dab * invr[e] * i1 - a_ * u[e]
                    skx += k * ax[e]
                    sky += k * ay[e]
                    skz += k * az[e]
                vals[col] += 0.5 * total
                dgl[col, 0, e1] += spa * x1 + skx
                dgl[col, 1, e1] += spa * y1 + sky
                dgl[col, 2, e1] += spa * z1 + skz


def _features(start, vec, sn, species, slot, self_slot, rad, ang_m, ang_q, pfuncs,
              values, dG, virial, derivatives, ckind, calpha):
    """Fill ``values``, and with ``derivatives`` ``dG`` (zeroed) and ``virial``, one centre per
    task; ``slot``/``self_slot``: the dG row of each entry and of each self pair."""
    n_atoms = species.shape[0]
    n_species = pfuncs.shape[1]
    width = values.shape[1]
    for i in numba.prange(n_atoms):
        c = species[i]
        n_m, n_q = 0, 0
        while n_m < ang_m.shape[1] and ang_m[c, n_m, 2] > 0.0:
            n_m += 1
        while n_q < ang_q.shape[1] and ang_q[c, n_q, 2] > 0.0:
            n_q += 1
        order, block, ax, ay, az, r = _centre_entries(i, start, vec, sn, n_species)
        n = r.shape[0]
        vals = np.zeros(width)
        dgl = np.zeros((width, 3, n if derivatives else 0))
        _radial(c, block, ax, ay, az, r, rad, vals, dgl, derivatives, ckind, calpha)
        if n_q > 0 and n > 1:
            _angular(c, block, ax, ay, az, r, ang_m, ang_q, pfuncs, n_m, n_q, vals, dgl,
                     derivatives, ckind, calpha)
        for col in range(width):
            values[i, col] = vals[col]
        if not derivatives:
            continue
        own = self_slot[i]
        for k in range(n):
            p = slot[order[k]]
            for col in range(width):
                for x in range(3):
                    dG[p, col, x] += dgl[col, x, k]
        for col in range(width):
            for x in range(3):
                g = dgl[col, x]
                total, wx, wy, wz = 0.0, 0.0, 0.0, 0.0
                for k in range(n):
                    total += g[k]
                    wx += g[k] * ax[k]
                    wy += g[k] * ay[k]
                    wz += g[k] * az[k]
                dG[own, col, x] -= total
                virial[i, col, x, 0] = wx
                virial[i, col, x, 1] = wy
                virial[i, col, x, 2] = wz


_jit = numba.njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
_exp = numba.njit(inline="always", cache=True, fastmath=_FASTMATH, error_model="numpy")(_exp)
_cutoff = numba.njit(inline="always", cache=True, fastmath=_FASTMATH,
                     error_model="numpy")(_cutoff)
_cutoff_general = numba.njit(cache=True, error_model="numpy")(_cutoff_general)
_cutoffs = numba.njit(inline="always", cache=True, fastmath=_FASTMATH,
                      error_model="numpy")(_cutoffs)
_centre_entries, _radial, _entry_factors, _angular = (
    _jit(f) for f in (_centre_entries, _radial, _entry_factors, _angular))
_features = numba.njit(parallel=True, cache=True, fastmath=_FASTMATH,
                       error_model="numpy")(_features)


def compiled_tables(table) -> dict[str, np.ndarray]:
    """Numpy parameter arrays for the compiled kernel from a float64 CPU FunctionTable.

    rad (n_species, F2, 5): t1, eta, rs, rc, col (t1 = -1 ends the list);
    ang_m (n_species, M, 4): eta, kappa, rc, rs of each distinct Gaussian-cutoff factor,
    ordered by rc (rc = 0 ends the list);
    ang_q (n_species, Q, 4): zeta, lambda, 2^(1-zeta), integer zeta or -1 (norm 0 ends);
    pfuncs (n_species, n_species, n_species, F3, 3): for centre c and neighbour species s1,
    s2, the (m, q, col) of each angular function of that pair (m = -1 ends the list).
    """
    r, a = ({k: v.cpu().numpy() for k, v in part.items()} for part in (table.radial, table.angular))
    n_sp = r["eta"].shape[0]
    rad = np.stack([r["t1"], r["eta"], r["rs"], r["rc"], r["col"]], axis=-1).astype(float)
    slots = [[s for s in range(a["eta"].shape[1]) if a["t1"][c, s] >= 0] for c in range(n_sp)]
    m_keys = [sorted({(a["rc"][c, s], a["eta"][c, s], a["kappa"][c, s], a["rs"][c, s])
                      for s in slots[c]}) for c in range(n_sp)]
    q_keys = [sorted({(a["zeta"][c, s], a["lam"][c, s]) for s in slots[c]}) for c in range(n_sp)]
    ang_m = np.zeros((n_sp, max(1, *map(len, m_keys)), 4))
    ang_q = np.zeros((n_sp, max(1, *map(len, q_keys)), 4))
    pfuncs = np.full((n_sp, n_sp, n_sp, max(1, *map(len, slots)), 3), -1, dtype=np.int64)
    for c in range(n_sp):
        for m, (rc, eta, kappa, rs) in enumerate(m_keys[c]):
            ang_m[c, m] = (eta, kappa, rc, rs)
        for q, (zeta, lam) in enumerate(q_keys[c]):
            ang_q[c, q] = (zeta, lam, 2.0 ** (1.0 - zeta), zeta if float(zeta).is_integer() else -1)
        filled = np.zeros((n_sp, n_sp), dtype=np.int64)
        for s in slots[c]:
            m = m_keys[c].index((a["rc"][c, s], a["eta"][c, s], a["kappa"][c, s], a["rs"][c, s]))
            q = q_keys[c].index((a["zeta"][c, s], a["lam"][c, s]))
            t1, t2 = a["t1"][c, s], a["t2"][c, s]
            for s1, s2 in {(t1, t2), (t2, t1)}:
                pfuncs[c, s1, s2, filled[s1, s2]] = (m, q, a["col"][c, s])
                filled[s1, s2] += 1
    return {"rad": rad, "ang_m": ang_m, "ang_q": ang_q, "pfuncs": pfuncs,
            "cutoff": (int(table.cutoff_type), float(table.cutoff_alpha))}


def _entry_start(centers, n_atoms):
    start = np.zeros(n_atoms + 1, dtype=np.int64)
    np.cumsum(np.bincount(centers, minlength=n_atoms), out=start[1:])
    return start


def _announce_compilation() -> None:
    """Say once, at the first call in a process, when the kernel has no cached machine code
    yet: numba then compiles it (about 10 s, once per install), silently otherwise."""
    global _compilation_checked
    if _compilation_checked or _features.signatures:
        return
    _compilation_checked = True
    try:
        cached = os.path.exists(_features._cache._cache_file._index_path)
    except AttributeError:  # numba's cache internals changed: say nothing
        return
    if not cached:
        log.info("compiling the descriptor kernels (once per install, about 10 s)")


_compilation_checked = False


def features(tables, species, centers, neighbors, vec, n_features, derivatives):
    """Symmetry functions of a batch from its neighbour list (``centers`` sorted).

    Returns ``values (n_atoms, D)``, and with ``derivatives`` also ``pairs (n_pairs, 2)``
    [centre, neighbour] sorted with self pairs, ``dG (n_pairs, D, 3)`` and ``virial
    (n_atoms, D, 3, 3)`` (same definitions and result as :mod:`gdfnn.descriptors.kernel`);
    in the dtype of ``vec``, computed in float64.
    """
    n_atoms = species.shape[0]
    start = _entry_start(centers, n_atoms)
    sn = species[neighbors]
    values = np.zeros((n_atoms, n_features), dtype=vec.dtype)
    if derivatives:
        keys = np.concatenate([centers * n_atoms + neighbors, np.arange(n_atoms) * (n_atoms + 1)])
        unique, inverse = np.unique(keys, return_inverse=True)
        n_entries = centers.shape[0]
        slot, self_slot = inverse[:n_entries], inverse[n_entries:]
        pairs = np.stack([unique // n_atoms, unique % n_atoms], axis=1)
    else:
        slot = self_slot = np.zeros(0, dtype=np.int64)
        pairs = np.zeros((0, 2), dtype=np.int64)
    dG = np.zeros((pairs.shape[0], n_features, 3), dtype=vec.dtype)
    virial = np.zeros((n_atoms if derivatives else 0, n_features, 3, 3), dtype=vec.dtype)
    _announce_compilation()
    _features(start, vec, sn, species, slot, self_slot, tables["rad"], tables["ang_m"],
              tables["ang_q"], tables["pfuncs"], values, dG, virial, derivatives,
              *tables["cutoff"])
    if not derivatives:
        return values
    return values, pairs, dG, virial

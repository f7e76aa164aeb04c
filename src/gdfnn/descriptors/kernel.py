"""Vectorised torch kernel: symmetry-function values and their exact analytic Jacobian.

Works on a batch of structures concatenated into one graph (global atom indices). No Python
loop runs over atoms, pairs or triplets; triplets are processed in chunks to bound memory.
Runs on any torch device and dtype, and is differentiable by autograd (used by the tests).

Derivatives are accumulated per neighbour-list *entry* e = (i, j, image): dG_i/dD_e, the
derivative with respect to the vector D_e = r_j + S @ cell - r_i. Moving atom j moves every
entry of its images, and moving the centre i moves all its entries the other way, so

    dG_i/dr_j = sum_{e: neighbour j} dG_i/dD_e      dG_i/dr_i += -sum_{e of i} dG_i/dD_e

and the virial terms are W_i = sum_{e of i} dG_i/dD_e (x) D_e.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gdfnn.descriptors.cutoff import COSINE, cutoff

#: Triplets per chunk of the angular kernel (bounds memory at ~ chunk * functions * 100 bytes).
TRIPLET_CHUNK = 1 << 16


@dataclass
class FunctionTable:
    """Symmetry-function parameters as padded tensors indexed by (centre species, slot).

    Padding slots have neighbour type -1 (never matches) and column ``n_features`` (a sink
    column that is dropped at the end). ``cutoff_type`` and ``cutoff_alpha``: the cutoff
    function of every function (n2p2's family, see :mod:`gdfnn.descriptors.cutoff`).
    """

    n_features: int
    radial: dict[str, torch.Tensor]  # eta, rs, rc (float); t1, col (long): (n_species, F2)
    angular: dict[str, torch.Tensor]  # eta, rs, rc, zeta, lam, kappa, norm; t1, t2, col
    cutoff_type: int = COSINE
    cutoff_alpha: float = 0.0

    def to(self, dtype: torch.dtype, device: torch.device) -> FunctionTable:
        def move(table):
            return {k: v.to(device=device, dtype=dtype if v.is_floating_point() else v.dtype)
                    for k, v in table.items()}

        return FunctionTable(self.n_features, move(self.radial), move(self.angular),
                             self.cutoff_type, self.cutoff_alpha)

    def cutoff(self, r: torch.Tensor, rc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return cutoff(r, rc, self.cutoff_type, self.cutoff_alpha)


def build_triplets(centers: torch.Tensor, n_atoms: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All pairs (e1, e2), e1 < e2, of neighbour entries with the same centre.

    ``centers`` must be sorted. Returns two ``(n_triplets,)`` entry-index tensors.
    """
    device = centers.device
    n_entries = centers.numel()
    counts = torch.bincount(centers, minlength=n_atoms)
    start = torch.cumsum(counts, 0) - counts
    local = torch.arange(n_entries, device=device) - start[centers]
    n_after = counts[centers] - 1 - local
    e1 = torch.repeat_interleave(torch.arange(n_entries, device=device), n_after)
    first = torch.cumsum(n_after, 0) - n_after
    rank = torch.arange(e1.numel(), device=device) - torch.repeat_interleave(first, n_after)
    return e1, e1 + 1 + rank


def _radial(d, unit, ce, sn, centers, table, values, dge):
    p = {k: v[ce] for k, v in table.radial.items()}  # (E, F2)
    match = p["t1"] == sn[:, None]
    r = d[:, None]
    fc, dfc = table.cutoff(r, p["rc"])
    gauss = torch.exp(-p["eta"] * (r - p["rs"]) ** 2)
    width = values.shape[1]
    values.view(-1).index_add_(
        0, (centers[:, None] * width + p["col"]).reshape(-1),
        torch.where(match, gauss * fc, 0.0).reshape(-1))
    if dge is not None:
        slope = torch.where(match, gauss * (dfc - 2.0 * p["eta"] * (r - p["rs"]) * fc), 0.0)
        rows = torch.arange(d.numel(), device=d.device)[:, None] * width + p["col"]
        dge.view(-1, 3).index_add_(0, rows.reshape(-1), (slope[..., None] * unit[:, None, :])
                                   .reshape(-1, 3))


def _angular(e1, e2, vec, d, ce_entry, sn, centers, table, values, dge):
    a, b = vec[e1], vec[e2]
    c = b - a
    ra, rb = d[e1][:, None], d[e2][:, None]
    rjk = torch.linalg.vector_norm(c, dim=1)[:, None]
    # rounding can push |cos| of collinear triplets past 1; base**zeta needs base >= 0
    cos = ((a * b).sum(1)[:, None] / (ra * rb)).clamp(-1.0, 1.0)
    p = {k: v[ce_entry[e1]] for k, v in table.angular.items()}  # (T, F3)
    s1, s2 = sn[e1][:, None], sn[e2][:, None]
    match = ((p["t1"] == s1) & (p["t2"] == s2)) | ((p["t1"] == s2) & (p["t2"] == s1))
    base = 1.0 + p["lam"] * cos
    ang = p["norm"] * base ** p["zeta"]
    fa, dfa = table.cutoff(ra, p["rc"])
    fb, dfb = table.cutoff(rb, p["rc"])
    fjk, dfjk = table.cutoff(rjk, p["rc"])
    narrow = p["kappa"] > 0  # G4: R_jk enters; G5: it does not
    fjk = torch.where(narrow, fjk, 1.0)
    xa, xb, xjk = ra - p["rs"], rb - p["rs"], rjk - p["rs"]  # n2p2's shifted angular types
    gauss = torch.exp(-p["eta"] * (xa**2 + xb**2 + p["kappa"] * xjk**2))
    term = torch.where(match, ang * gauss * fa * fb * fjk, 0.0)
    width = values.shape[1]
    values.view(-1).index_add_(0, (centers[e1][:, None] * width + p["col"]).reshape(-1),
                               term.reshape(-1))
    if dge is None:
        return
    dfjk = torch.where(narrow, dfjk, 0.0)
    dang = torch.where(match, p["norm"] * p["zeta"] * p["lam"] * base ** (p["zeta"] - 1.0), 0.0)
    ang = torch.where(match, ang, 0.0)
    radial_ab = gauss * fa * fb * fjk
    d_ra = gauss * fb * fjk * (dfa - 2.0 * p["eta"] * xa * fa)
    d_rb = gauss * fa * fjk * (dfb - 2.0 * p["eta"] * xb * fb)
    d_rjk = gauss * fa * fb * (dfjk - 2.0 * p["eta"] * p["kappa"] * xjk * fjk)
    # dcos/da = (ub - cos ua) / ra, dcos/db = (ua - cos ub) / rb, dR_jk/da = -uc, dR_jk/db = uc
    ua, ub, uc = a / ra, b / rb, c / rjk
    da_b = dang * radial_ab
    grad_a = ((ang * d_ra - da_b * cos / ra)[..., None] * ua[:, None]
              + (da_b / ra)[..., None] * ub[:, None] - (ang * d_rjk)[..., None] * uc[:, None])
    grad_b = ((ang * d_rb - da_b * cos / rb)[..., None] * ub[:, None]
              + (da_b / rb)[..., None] * ua[:, None] + (ang * d_rjk)[..., None] * uc[:, None])
    flat = dge.view(-1, 3)
    flat.index_add_(0, (e1[:, None] * width + p["col"]).reshape(-1), grad_a.reshape(-1, 3))
    flat.index_add_(0, (e2[:, None] * width + p["col"]).reshape(-1), grad_b.reshape(-1, 3))


@dataclass
class KernelOutput:
    """Raw kernel result for a batch (global atom indices).

    values ``(n_atoms, D)``; pairs ``(n_pairs, 2)`` [centre, neighbour] sorted, self pairs
    included; dG ``(n_pairs, D, 3)`` = dG[centre]/dr[neighbour] (1/Å); virial
    ``(n_atoms, D, 3, 3)`` = sum over entries of dG/dD_e (x) D_e (dimensionless).
    """

    values: torch.Tensor
    pairs: torch.Tensor | None = None
    dG: torch.Tensor | None = None
    virial: torch.Tensor | None = None


def entry_features(
    positions: torch.Tensor,
    species: torch.Tensor,
    centers: torch.Tensor,
    neighbors: torch.Tensor,
    offsets: torch.Tensor,
    table: FunctionTable,
    derivatives: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Values ``(n_atoms, D)``, per-entry derivatives dG_i/dD_e ``(n_entries, D, 3)`` (or
    None) and entry vectors D_e ``(n_entries, 3)`` Å.

    Args:
        positions: ``(n_atoms, 3)`` Å.
        species: ``(n_atoms,)`` species index into the element list.
        centers, neighbors: ``(n_entries,)`` neighbour-list entries, sorted by centre.
        offsets: ``(n_entries, 3)`` Å, ``S @ cell`` of each entry's neighbour image.
        table: parameters on the same device and dtype as ``positions``.
        derivatives: also compute the per-entry derivatives.
    """
    n_atoms, width = positions.shape[0], table.n_features + 1
    vec = positions[neighbors] - positions[centers] + offsets
    d = torch.linalg.vector_norm(vec, dim=1)
    ce, sn = species[centers], species[neighbors]
    values = positions.new_zeros(n_atoms, width)
    dge = positions.new_zeros(centers.numel(), width, 3) if derivatives else None
    _radial(d, vec / d[:, None], ce, sn, centers, table, values, dge)
    if table.angular["col"].numel():
        e1_all, e2_all = build_triplets(centers, n_atoms)
        for start in range(0, e1_all.numel(), TRIPLET_CHUNK):
            chunk = slice(start, start + TRIPLET_CHUNK)
            _angular(e1_all[chunk], e2_all[chunk], vec, d, ce, sn, centers, table, values, dge)
    return values[:, :-1], (dge[:, :-1] if derivatives else None), vec


def assemble_jacobian(values: torch.Tensor, centers: torch.Tensor, neighbors: torch.Tensor,
                      vec: torch.Tensor, dge: torch.Tensor) -> KernelOutput:
    """Merge per-entry derivatives into unique (centre, neighbour) pairs, add the self pairs
    (translation invariance) and the virial terms."""
    n_atoms, n_features = values.shape
    device = values.device
    keys = torch.cat([centers * n_atoms + neighbors,
                      torch.arange(n_atoms, device=device) * (n_atoms + 1)])
    unique, inverse = torch.unique(keys, return_inverse=True)
    n_entries = centers.numel()
    dG = values.new_zeros(unique.numel(), n_features, 3)
    dG.index_add_(0, inverse[:n_entries], dge)
    per_centre = values.new_zeros(n_atoms, n_features, 3).index_add_(0, centers, dge)
    dG.index_add_(0, inverse[n_entries:], -per_centre)
    virial = values.new_zeros(n_atoms, n_features, 3, 3).index_add_(
        0, centers, dge[..., :, None] * vec[:, None, None, :])
    pairs = torch.stack([unique // n_atoms, unique % n_atoms], dim=1)
    return KernelOutput(values, pairs, dG, virial)


def symmetry_functions(
    positions: torch.Tensor,
    species: torch.Tensor,
    centers: torch.Tensor,
    neighbors: torch.Tensor,
    offsets: torch.Tensor,
    table: FunctionTable,
    derivatives: bool = False,
) -> KernelOutput:
    """Symmetry functions of a (batched) structure by the torch kernel (differentiable by
    autograd); arguments as :func:`entry_features`."""
    values, dge, vec = entry_features(positions, species, centers, neighbors, offsets, table,
                                      derivatives)
    if not derivatives:
        return KernelOutput(values)
    return assemble_jacobian(values, centers, neighbors, vec, dge)

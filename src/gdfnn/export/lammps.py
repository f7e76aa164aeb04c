"""LAMMPS: the input lines that use an exported potential (units metal: Å, eV), and the
potential file of gdfnn's own ``pair_style gdfnn`` plugin (source in ``gdfnn/plugin/``)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from gdfnn.descriptors import SymmetryFunction, SymmetryFunctions
from gdfnn.descriptors.params import RADIAL
from gdfnn.errors import InputError
from gdfnn.fileio import atomic_write
from gdfnn.gdf.clusters import cluster_reference
from gdfnn.gdf.coverage import (
    DEFAULT_QUANTILE,
    LLPR,
    ElementCoverage,
    ErrorMap,
    coverage_metadata,
)
from gdfnn.model.potential import Potential
from gdfnn.model.rigidity import read_rigidity_metadata, rigidity_metadata
from gdfnn.model.views import ElementModel, build_potential, element_model, training_range
from gdfnn.units import energy_factor, length_factor


def simple_nn_lines(path: str, elements: list[str]) -> str:
    """``pair_style nn`` (SIMPLE-NN's LAMMPS module, compiled into LAMMPS by the user)."""
    return (f"pair_style nn\npair_coeff * * {path} {' '.join(elements)}"
            "   # one element per LAMMPS atom type, in type order")


def hdnnp_lines(directory: str, elements: list[str], cutoff: float,
                length_unit: float | str = 1.0, energy_unit: float | str = 1.0) -> str:
    """``pair_style hdnnp`` (stock LAMMPS, ML-HDNNP package). ``cflength``/``cfenergy``
    convert LAMMPS metal units into the potential's units (LAMMPS value x factor)."""
    cflength = 1.0 / length_factor(length_unit)
    cfenergy = 1.0 / energy_factor(energy_unit)
    return (f"pair_style hdnnp {cutoff + 0.01:.2f} dir {directory} showew no showewsum 0 "
            f"resetew no maxew 1000 cflength {cflength!r} cfenergy {cfenergy!r}\n"
            f"pair_coeff * * {' '.join(elements)}   # one element per LAMMPS atom type")


#: ``pair_style gdfnn precision ...`` values: double (default), single (float32 descriptors)
PRECISIONS = ("double", "single")


def gdfnn_lines(path: str, plugin: str, elements: list[str], precision: str = "double",
                coverage: int = 0, threshold: float | None = None, exact: int = 0) -> str:
    """``pair_style gdfnn`` (the plugin built by ``gdfnn lammps build``); ``precision``
    ``single`` computes the symmetry functions and their derivatives in float32;
    ``coverage`` N > 0 checks every N steps which atoms lie below the floor of the training
    data (or below the rho ``threshold``), with exact rho for all atoms every ``exact``
    steps."""
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    style = "pair_style gdfnn" + ("" if precision == "double" else f" precision {precision}")
    if coverage:
        style += f" coverage {coverage}" + (f" threshold {threshold!r}" if threshold else "") + (
            f" exact {exact}" if exact else "")
    return (f"plugin load {plugin}\n{style}\n"
            f"pair_coeff * * {path} {' '.join(elements)}   # one element per LAMMPS atom type")


# ----- the potential file of pair_style gdfnn ---------------------------------------------------
#: Version of the text format below (2 adds the coverage reference, 3 the error bar and the
#: floor's quantile, 4 the rigidity ceiling of the verdict and error bars without knots); the
#: plugin and :func:`read_lammps_potential` read versions 1 to 4.
PLUGIN_FORMAT_VERSION = 4
PLUGIN_FORMATS = (1, 2, 3, 4)
PLUGIN_HEADER = """\
# gdfnn potential for LAMMPS pair_style gdfnn (units metal: Å, eV, eV/Å); docs/lammps.md
# f: type (2 radial, 4 narrow angular, 5 wide angular) neighbour1 neighbour2 rc/Å eta/Å^-2
#    rs/Å zeta lambda; range_min/range_max: training range of each function (extrapolation);
# layer: n_out n_in activation, then n_out rows of n_in weights and the bias; scaling and
# PCA are folded into the first layer, reference energies into the last bias;
# coverage sigma floor M K quantile: the GDF reference (M scaled training features in K
#    clusters; quantile: the share of held-out atoms below the floor), shift and scale give
#    the scaled features x = (G - shift) / scale; each cluster: its size, radius, total
#    weight and centroid, then its points as weight x_1 ... x_D;
# error_bar K W ceiling: the last-layer rigidity h~^T C^-1 h~, h~ = (last hidden layer, 1):
#    an atom above the ceiling lies outside the training data (0: rho below the floor
#    decides); its expected force error (eV/Å) through K knots "log10 rigidity, force RMSE"
#    (linear in the squared RMSE between them, flat beyond; K = 0: none), then the W x W
#    matrix C^-1.
"""


def write_lammps_potential(potential: Potential, path: str | os.PathLike) -> Path:
    """Write the ``pair_style gdfnn`` file of ``potential`` (atomically)."""
    sf = potential.descriptor
    lines = [PLUGIN_HEADER.rstrip("\n"), f"gdfnn_potential {PLUGIN_FORMAT_VERSION}",
             f"elements {len(sf.elements)} {' '.join(sf.elements)}",
             f"cutoff_type {sf.cutoff_type} {sf.cutoff_alpha!r}"]
    for element in sf.elements:
        functions = sf.functions[element]
        lines += [f"element {element}", f"functions {len(functions)}"]
        for f in functions:
            second = f.neighbors[1] if f.kind != RADIAL else "-"
            lines.append(f"f {f.kind} {f.neighbors[0]} {second} " + " ".join(
                repr(float(v)) for v in (f.cutoff, f.eta, f.rs, f.zeta, f.lam)))
        span = training_range(potential, element)
        if span is not None:
            lines += ["range_min " + " ".join(repr(float(v)) for v in span[0]),
                      "range_max " + " ".join(repr(float(v)) for v in span[1])]
        model = element_model(potential, element)
        layers = model.on_raw()
        lines.append(f"layers {len(layers)}")
        for (w, b), name in zip(layers, model.activations, strict=True):
            lines.append(f"layer {w.shape[0]} {w.shape[1]} {name}")
            lines += [" ".join(repr(float(v)) for v in (*row, bias)) for row, bias in zip(
                w.tolist(), b.tolist(), strict=True)]
        if element in potential.gdf_reference:
            lines += coverage_lines(potential, element, model)
            lines += error_bar_lines(potential, element)
    lines.append("end")
    with atomic_write(path) as out:
        out.write("\n".join(lines) + "\n")
    return Path(path)


def _numbers(values) -> str:
    return " ".join(repr(float(v)) for v in values)


def coverage_lines(potential: Potential, element: str, model: ElementModel) -> list[str]:
    """The coverage block of ``element``: the GDF reference the potential carries, clustered
    for the plugin's early-exit test (:mod:`gdfnn.gdf.clusters`), with the trained sigma,
    the coverage width and floor (:meth:`Potential.coverage_of`) and the scaling to the
    reference's features."""
    coverage = potential.coverage_of(element)
    counts = potential.gdf_reference_counts.get(element)
    clusters = cluster_reference(potential.gdf_reference[element], counts)
    lines = [f"coverage {coverage.sigma!r} {coverage.floor!r} {len(clusters.points)} "
             f"{len(clusters.centroids)} {coverage.quantile!r}",
             "shift " + _numbers(model.shift.tolist()),
             "scale " + _numbers(model.scale.tolist())]
    for k in range(len(clusters.centroids)):
        lo, hi = clusters.offsets[k], clusters.offsets[k + 1]
        lines.append(f"cluster {hi - lo} {float(clusters.radii[k])!r} "
                     f"{float(clusters.cluster_weights[k])!r} " + _numbers(clusters.centroids[k]))
        lines += [_numbers((w, *x)) for w, x in zip(clusters.weights[lo:hi],
                                                    clusters.points[lo:hi], strict=True)]
    return lines


def error_bar_lines(potential: Potential, element: str) -> list[str]:
    """The error bar block of ``element``: its ``C^-1``, the ceiling where the verdict reads
    the last-layer rigidity (else 0) and the knots of its error map on the rigidity (none
    where the map reads rho); no block where neither reads the rigidity (older
    potentials)."""
    coverage = potential.coverage_of(element)
    inverse = read_rigidity_metadata(potential.metadata).get(element)
    error = coverage.error if coverage.error is not None and coverage.error.signal == LLPR \
        else None
    by_rigidity = coverage.signal == LLPR
    if inverse is None or (error is None and not by_rigidity):
        return []
    knots = [] if error is None else list(zip(error.log10_signal, error.force_rmse,
                                              strict=True))
    return ([f"error_bar {len(knots)} {inverse.shape[0]} "
             f"{coverage.ceiling if by_rigidity else 0.0!r}"]
            + [_numbers(k) for k in knots] + [_numbers(row) for row in inverse.tolist()])


def read_lammps_potential(path: str | os.PathLike) -> Potential:
    """Read a ``pair_style gdfnn`` file back into a :class:`Potential`: scaling and PCA stay
    folded into the first layer (identity transforms), except where the file carries a
    coverage reference: then the scaling is restored (the first layer reads the scaled
    features again) and the reference, its coverage width, floor and quantile (format 2:
    the default), and the error bar (format 3) come back with it."""
    path = Path(path)
    rows = [line.split("#", 1)[0].split() for line in path.read_text().splitlines()]
    rows = [r for r in rows if r]
    try:
        if rows[0][0] != "gdfnn_potential" or int(rows[0][1]) not in PLUGIN_FORMATS:
            raise ValueError(f"not a gdfnn LAMMPS potential of format "
                             f"{' or '.join(map(str, PLUGIN_FORMATS))}")
        elements = rows[1][2:]
        cutoff_type, alpha = int(rows[2][1]), float(rows[2][2])
        k, functions, models, coverage, bars = 3, {}, {}, {}, {}
        for _ in elements:
            element, n = rows[k][1], int(rows[k + 1][1])
            functions[element] = [_function(r) for r in rows[k + 2:k + 2 + n]]
            k += 2 + n
            while rows[k][0].startswith("range_"):
                k += 1
            layers, activations = [], []
            for _ in range(int(rows[k][1])):
                n_out, n_in = int(rows[k + 1][1]), int(rows[k + 1][2])
                activations.append(rows[k + 1][3])
                table = torch.tensor([[float(v) for v in r] for r in rows[k + 2:k + 2 + n_out]],
                                     dtype=torch.float64).reshape(n_out, n_in + 1)
                layers.append((table[:, :n_in], table[:, n_in]))
                k += 1 + n_out
            k += 1
            shift, scale = torch.zeros(n, dtype=torch.float64), torch.ones(n, dtype=torch.float64)
            if k < len(rows) and rows[k][0] == "coverage":
                k, coverage[element], shift, scale = _read_coverage(rows, k)
                w, b = layers[0]  # back to the scaled features: W' = W scale, b' = b + W shift
                layers[0] = (w * scale, b + w @ shift)
            if k < len(rows) and rows[k][0] == "error_bar":
                k, bars[element] = _read_error_bar(rows, k)
            models[element] = ElementModel(shift, scale, None, None, layers, activations)
    except (IndexError, ValueError) as exc:
        raise InputError(f"{path}: not a gdfnn LAMMPS potential ({exc})") from None
    sf = SymmetryFunctions(elements, functions, cutoff_type, alpha)
    pot = build_potential(sf, models, {"source": str(path)})
    if coverage:
        pot.metadata["coverage"] = coverage_metadata(
            {e: ElementCoverage(c["sigma"], c["floor"], quantile=c["quantile"],
                                **bars[e][2] if e in bars else {},
                                error=bars[e][0] if e in bars else None)
             for e, c in coverage.items()})
        if bars:
            pot.metadata["rigidity"] = rigidity_metadata({e: b[1] for e, b in bars.items()})
        pot.gdf_reference = {e: c["points"] for e, c in coverage.items()}
        pot.gdf_reference_counts = {e: c["weights"] for e, c in coverage.items()
                                    if not torch.all(c["weights"] == 1)}
    return pot


def _read_coverage(rows: list[list[str]], k: int) -> tuple[int, dict, torch.Tensor,
                                                           torch.Tensor]:
    """The coverage block at row ``k``: (next row, reference, shift, scale)."""
    sigma, floor, m, n_clusters = (float(rows[k][1]), float(rows[k][2]), int(rows[k][3]),
                                   int(rows[k][4]))
    quantile = float(rows[k][5]) if len(rows[k]) > 5 else DEFAULT_QUANTILE
    shift = torch.tensor([float(v) for v in rows[k + 1][1:]], dtype=torch.float64)
    scale = torch.tensor([float(v) for v in rows[k + 2][1:]], dtype=torch.float64)
    k += 3
    table = []
    for _ in range(n_clusters):
        size = int(rows[k][1])
        table += rows[k + 1:k + 1 + size]
        k += 1 + size
    values = torch.tensor([[float(v) for v in r] for r in table], dtype=torch.float64)
    if values.shape != (m, shift.numel() + 1):
        raise ValueError(f"coverage reference of shape {tuple(values.shape)}, expected "
                         f"{(m, shift.numel() + 1)}")
    return k, {"sigma": sigma, "floor": floor, "quantile": quantile,
               "points": values[:, 1:].contiguous(), "weights": values[:, 0].contiguous()
               }, shift, scale


def _read_error_bar(rows: list[list[str]], k: int
                    ) -> tuple[int, tuple[ErrorMap | None, torch.Tensor, dict]]:
    """The error bar block at row ``k``: (next row, (error map or None, C^-1, the verdict:
    ``ceiling`` and ``signal`` where it reads the rigidity))."""
    n_knots, width = int(rows[k][1]), int(rows[k][2])
    ceiling = float(rows[k][3]) if len(rows[k]) > 3 else 0.0
    knots = [(float(x), float(y)) for x, y in rows[k + 1:k + 1 + n_knots]]
    k += 1 + n_knots
    inverse = torch.tensor([[float(v) for v in r] for r in rows[k:k + width]],
                           dtype=torch.float64)
    if len(knots) != n_knots or inverse.shape != (width, width):
        raise ValueError("error bar cut short")
    error = ErrorMap(tuple(x for x, _ in knots), tuple(y for _, y in knots), LLPR) \
        if knots else None
    return k + width, (error, inverse,
                       {"ceiling": ceiling, "signal": LLPR} if ceiling > 0 else {})


def _function(row: list[str]) -> SymmetryFunction:
    kind = int(row[1])
    rc, eta, rs, zeta, lam = (float(v) for v in row[4:9])
    neighbors = (row[2],) if kind == RADIAL else (row[2], row[3])
    return SymmetryFunction(kind, neighbors, rc, eta, rs=rs, zeta=zeta, lam=lam)

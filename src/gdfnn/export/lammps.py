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
from gdfnn.model.potential import Potential
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


def gdfnn_lines(path: str, plugin: str, elements: list[str], precision: str = "double") -> str:
    """``pair_style gdfnn`` (the plugin built by ``gdfnn lammps build``); ``precision``
    ``single`` computes the symmetry functions and their derivatives in float32."""
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    style = "pair_style gdfnn" + ("" if precision == "double" else f" precision {precision}")
    return (f"plugin load {plugin}\n{style}\n"
            f"pair_coeff * * {path} {' '.join(elements)}   # one element per LAMMPS atom type")


# ----- the potential file of pair_style gdfnn ---------------------------------------------------
#: Version of the text format below; the plugin refuses other versions.
PLUGIN_FORMAT_VERSION = 1
PLUGIN_HEADER = """\
# gdfnn potential for LAMMPS pair_style gdfnn (units metal: Å, eV, eV/Å); docs/lammps.md
# f: type (2 radial, 4 narrow angular, 5 wide angular) neighbour1 neighbour2 rc/Å eta/Å^-2
#    rs/Å zeta lambda; range_min/range_max: training range of each function (extrapolation);
# layer: n_out n_in activation, then n_out rows of n_in weights and the bias; scaling and
# PCA are folded into the first layer, reference energies into the last bias.
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
    lines.append("end")
    with atomic_write(path) as out:
        out.write("\n".join(lines) + "\n")
    return Path(path)


def read_lammps_potential(path: str | os.PathLike) -> Potential:
    """Read a ``pair_style gdfnn`` file back into a :class:`Potential` (identity feature
    transforms: scaling and PCA stay folded into the first layer)."""
    path = Path(path)
    rows = [line.split("#", 1)[0].split() for line in path.read_text().splitlines()]
    rows = [r for r in rows if r]
    try:
        if rows[0] != ["gdfnn_potential", str(PLUGIN_FORMAT_VERSION)]:
            raise ValueError(f"not a gdfnn LAMMPS potential of format {PLUGIN_FORMAT_VERSION}")
        elements = rows[1][2:]
        cutoff_type, alpha = int(rows[2][1]), float(rows[2][2])
        k, functions, layers, activations = 3, {}, {}, {}
        for _ in elements:
            element, n = rows[k][1], int(rows[k + 1][1])
            functions[element] = [_function(r) for r in rows[k + 2:k + 2 + n]]
            k += 2 + n
            while rows[k][0].startswith("range_"):
                k += 1
            layers[element], activations[element] = [], []
            for _ in range(int(rows[k][1])):
                n_out, n_in = int(rows[k + 1][1]), int(rows[k + 1][2])
                activations[element].append(rows[k + 1][3])
                table = torch.tensor([[float(v) for v in r] for r in rows[k + 2:k + 2 + n_out]],
                                     dtype=torch.float64).reshape(n_out, n_in + 1)
                layers[element].append((table[:, :n_in], table[:, n_in]))
                k += 1 + n_out
            k += 1
    except (IndexError, ValueError) as exc:
        raise InputError(f"{path}: not a gdfnn LAMMPS potential ({exc})") from None
    sf = SymmetryFunctions(elements, functions, cutoff_type, alpha)
    identity = {e: (torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64))
                for e, d in sf.n_features.items()}
    return build_potential(sf, {e: ElementModel(*identity[e], None, None, layers[e],
                                                activations[e]) for e in elements},
                           {"source": str(path)})


def _function(row: list[str]) -> SymmetryFunction:
    kind = int(row[1])
    rc, eta, rs, zeta, lam = (float(v) for v in row[4:9])
    neighbors = (row[2],) if kind == RADIAL else (row[2], row[3])
    return SymmetryFunction(kind, neighbors, rc, eta, rs=rs, zeta=zeta, lam=lam)

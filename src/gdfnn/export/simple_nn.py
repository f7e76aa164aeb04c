"""SIMPLE-NN ``potential_saved``: the text file LAMMPS ``pair_style nn`` reads.

Layout (per element, after one ``ELEM_LIST`` line)::

    POT <element> <largest cutoff, Å>
    SYM <n functions>
    <type> <Rc> <eta> <Rs or zeta> <0 or lambda> <neighbour element(s)>   (one per function)
    scale1 <shift of each function>          G_scaled = (G - scale1) / scale2
    scale2 <scale of each function>
    NET <n hidden layers (+1 with PCA)> <width of each layer...> 1
    LAYER <k> <linear|sigmoid|tanh|swish>
    w<i> <weights into node i>   b<i> <bias of node i>   (for every node of the layer)

PCA whitening is written as a first, linear layer of width D, as SIMPLE-NN does.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from gdfnn.descriptors import SymmetryFunction, SymmetryFunctions
from gdfnn.descriptors.params import RADIAL
from gdfnn.errors import InputError
from gdfnn.fileio import atomic_write
from gdfnn.model.potential import Potential
from gdfnn.model.views import ElementModel, build_potential, element_model

ACTIVATION_NAMES = {"sigmoid": "sigmoid", "tanh": "tanh", "silu": "swish"}


def _numbers(values) -> str:
    return " ".join(repr(float(v)) for v in values)


def write_simple_nn_potential(potential: Potential, path: str | os.PathLike) -> Path:
    """Write ``potential`` as a SIMPLE-NN ``potential_saved`` file (atomically)."""
    models = {e: element_model(potential, e) for e in potential.elements}
    hidden = sorted({a for m in models.values() for a in m.activations[:-1]})
    if not set(hidden) <= set(ACTIVATION_NAMES) or len(hidden) > 1:
        raise InputError(f"pair_style nn takes one hidden activation, one of "
                         f"{', '.join(ACTIVATION_NAMES)}; this potential has {', '.join(hidden)}")
    potential.descriptor.require_simple_nn_cutoff()
    if any(f.kind != RADIAL and f.rs != 0.0 for fs in potential.descriptor.functions.values()
           for f in fs):
        raise InputError("pair_style nn has no shifted angular functions (n2p2's rs)")
    lines = ["ELEM_LIST " + " ".join(potential.elements)]
    for element in potential.elements:
        funcs = potential.descriptor.functions[element]
        m = models[element]
        lines.append(f"POT {element} {max(f.cutoff for f in funcs)!r}")
        lines.append(f"SYM {len(funcs)}")
        for f in funcs:
            p2, p3 = (f.rs, 0.0) if f.kind == RADIAL else (f.zeta, f.lam)
            lines.append(f"{f.kind} {_numbers((f.cutoff, f.eta, p2, p3))} {' '.join(f.neighbors)}")
        lines.append("scale1 " + _numbers(m.shift.tolist()))
        lines.append("scale2 " + _numbers(m.scale.tolist()))
        layers = list(m.layers)
        activations = [ACTIVATION_NAMES.get(a, a) for a in m.activations]
        pca = m.pca_layer()  # SIMPLE-NN writes PCA as a first, linear layer of width D
        if pca is not None:
            layers.insert(0, pca)
            activations.insert(0, "linear")
        widths = [w.shape[0] for w, _ in layers]
        lines.append(f"NET {len(layers) - 1} " + " ".join(map(str, widths)))
        for k, ((w, b), act) in enumerate(zip(layers, activations, strict=True)):
            lines.append(f"LAYER {k} {act}")
            for i in range(w.shape[0]):
                lines.append(f"w{i} " + _numbers(w[i].tolist()))
                lines.append(f"b{i} {float(b[i])!r}")
        lines.append("")
    with atomic_write(path) as out:
        out.write("\n".join(lines) + "\n")
    return Path(path)


def _tokens(path: Path) -> list[list[str]]:
    rows = []
    for raw in path.read_text().splitlines():
        fields = raw.split("#", 1)[0].split()
        if fields:
            rows.append(fields)
    return rows


def read_simple_nn_potential(path: str | os.PathLike) -> Potential:
    """Read a SIMPLE-NN ``potential_saved`` file into a :class:`Potential`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such potential file")
    rows = _tokens(path)
    try:
        elements, per_element = _parse(rows)
    except (IndexError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: not a SIMPLE-NN potential_saved file ({exc})") from None
    functions = {e: d["functions"] for e, d in per_element.items()}
    sf = SymmetryFunctions(elements, functions)
    activations = {a for d in per_element.values() for a in d["activations"][:-1]
                   if a != "linear"}
    names = {v: k for k, v in ACTIVATION_NAMES.items()}
    if len(activations) > 1 or not activations <= set(names):
        raise InputError(f"{path}: hidden activations {sorted(activations)} are not one of "
                         f"{sorted(names)}")
    activation = names[activations.pop()] if activations else "tanh"
    hidden = per_element[elements[0]]["hidden"]
    models = {}
    for element, d in per_element.items():
        if d["hidden"] != hidden:
            raise InputError(f"{path}: element networks differ in shape; gdfnn needs one shape")
        models[element] = ElementModel(d["scale1"], d["scale2"], d.get("pca_mean"),
                                       d.get("pca_matrix"), d["layers"],
                                       [activation] * len(hidden) + ["linear"])
    return build_potential(sf, models, {"source": str(path)})


def _parse(rows: list[list[str]]) -> tuple[list[str], dict]:
    if rows[0][0] != "ELEM_LIST":
        raise ValueError("first line is not ELEM_LIST")
    elements = rows[0][1:]
    out, k = {}, 1
    while k < len(rows):
        if rows[k][0] != "POT":
            raise ValueError(f"expected POT, got {rows[k][0]}")
        element = rows[k][1]
        n_sym = int(rows[k + 1][1])
        funcs = []
        for fields in rows[k + 2:k + 2 + n_sym]:
            kind = int(fields[0])
            rc, eta, p2, p3 = (float(x) for x in fields[1:5])
            if kind == RADIAL:
                funcs.append(SymmetryFunction(kind, (fields[5],), rc, eta, rs=p2))
            else:
                funcs.append(SymmetryFunction(kind, (fields[5], fields[6]), rc, eta, zeta=p2,
                                              lam=p3))
        k += 2 + n_sym
        scale1 = torch.tensor([float(x) for x in rows[k][1:]], dtype=torch.float64)
        scale2 = torch.tensor([float(x) for x in rows[k + 1][1:]], dtype=torch.float64)
        widths = [int(x) for x in rows[k + 2][2:]]
        k += 3
        layers, activations, n_in = [], [], n_sym
        for width in widths:
            activations.append(rows[k][2])
            w = torch.tensor([[float(x) for x in rows[k + 1 + 2 * i][1:]] for i in range(width)],
                             dtype=torch.float64).reshape(width, n_in)
            b = torch.tensor([float(rows[k + 2 + 2 * i][1]) for i in range(width)],
                             dtype=torch.float64)
            layers.append((w, b))
            k += 1 + 2 * width
            n_in = width
        entry = {"functions": funcs, "scale1": scale1, "scale2": scale2}
        if activations[0] == "linear" and widths[0] == n_sym and len(layers) > 2:
            w, b = layers.pop(0)  # the PCA layer: y = x W^T + b = (x - mean) @ M
            activations.pop(0)
            entry["pca_matrix"] = w.T.contiguous()
            entry["pca_mean"] = -torch.linalg.solve(w, b)
        entry.update(layers=layers, activations=activations,
                     hidden=[w.shape[0] for w, _ in layers[:-1]])
        out[element] = entry
    return elements, out

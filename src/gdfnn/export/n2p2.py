"""n2p2 potentials (LAMMPS ``pair_style hdnnp``): ``input.nn``, ``scaling.data`` and one
``weights.NNN.data`` per element (NNN = atomic number).

n2p2 conventions used here (from its documentation and source):
- symmetry functions: type 2 = G2, type 3 = G4 (narrow), type 9 = G5 (wide), with n2p2's
  angular shift rs; ``cutoff_type T [alpha]`` (every type 0-8, see descriptors.cutoff);
  n2p2 sorts each element's functions by (type, rc, eta, rs, zeta, lambda, e1, e2)
  with elements indexed by atomic number: the network inputs and ``scaling.data`` follow
  that order, not the order of ``input.nn``;
- scaling (see :func:`scaling_mode`): ``scale_symmetry_functions``, ``center_symmetry_functions``,
  both together, or ``scale_symmetry_functions_sigma``, with ``scale_min_short`` (default 0)
  and ``scale_max_short`` (default 1);
- activations, one letter per layer (``global_activation_short``): ``l`` linear, ``t`` tanh,
  ``s`` logistic, ``p`` softplus, ``r`` relu, ``g`` exp(-x^2/2), ``c`` cos, ``S`` 1 - logistic,
  ``e`` exp(-x), ``h`` x^2;
- ``atom_energy``: per-atom reference energies, part of the total energy;
- ``mean_energy``, ``conv_energy``, ``conv_length`` (written by nnp-norm; all three switch
  normalisation on): the networks work in internal units; the physical energy is
  E_internal / conv_energy + N mean_energy (the symmetry functions are dimensionless and the
  same in both);
- n2p2 is unit-agnostic: ``length_unit``/``energy_unit`` say what the files are in.

Export writes our min-max/mean-std scaling exactly as n2p2 scaling (Smin = -1, Smax = 1,
Gmin/Gmax = shift -/+ scale) and folds PCA whitening into the first layer's weights.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
from ase.data import atomic_numbers

from gdfnn.descriptors import SymmetryFunctions
from gdfnn.descriptors.params import KIND_TO_N2P2, RADIAL, format_n2p2_symfunction
from gdfnn.errors import InputError
from gdfnn.fileio import atomic_write
from gdfnn.model.potential import Potential
from gdfnn.model.views import ElementModel, build_potential, element_model
from gdfnn.units import energy_factor, length_factor

log = logging.getLogger("gdfnn")

#: n2p2's one-letter activation codes and gdfnn's names for them.
ACTIVATION_CODES = {"l": "linear", "t": "tanh", "s": "sigmoid", "p": "softplus", "r": "relu",
                    "g": "gaussian", "c": "cos", "S": "revlogistic", "e": "exp", "h": "harmonic"}
#: input.nn keywords that change the model and that gdfnn does not implement.
UNSUPPORTED_KEYWORDS = {
    "normalize_nodes": "normalised node propagation",
    "element_nodes_short": "per-element network shapes",
    "element_activation_short": "per-element activations",
    "symfunction_electrostatic": "4G-HDNNP electrostatics",
    "global_nodes_electrostatic": "4G-HDNNP electrostatics",
}
#: n2p2's scaling keywords: scale and center alone or together, or sigma scaling.
SCALE, CENTER, SIGMA = ("scale_symmetry_functions", "center_symmetry_functions",
                        "scale_symmetry_functions_sigma")
#: The keywords of the normalisation n2p2's nnp-norm writes (all three switch it on).
NORMALISATION = ("mean_energy", "conv_energy", "conv_length")


def n2p2_elements(elements: list[str]) -> list[str]:
    """n2p2's element order: by atomic number."""
    return sorted(elements, key=lambda e: atomic_numbers[e])


def n2p2_order(sf: SymmetryFunctions, element: str) -> list[int]:
    """Indices of ``element``'s functions in the order n2p2 sorts them."""
    index = {e: n for n, e in enumerate(n2p2_elements(sf.elements))}

    def key(k: int):
        f = sf.functions[element][k]
        types = sorted(index[e] for e in f.neighbors)
        tail = (f.zeta, f.lam, *types) if f.kind != RADIAL else (*types,)
        return (KIND_TO_N2P2[f.kind], f.cutoff, f.eta, f.rs, *tail)

    return sorted(range(len(sf.functions[element])), key=key)


# ----- reading ------------------------------------------------------------------------------
def _settings(path: Path) -> tuple[dict[str, list[str]], list[str]]:
    """The keywords of an n2p2 ``input.nn`` (keyword -> its values; ``atom_energy`` pairs
    gathered) and its ``symfunction_short`` lines."""
    settings: dict[str, list[str]] = {}
    functions = []
    for raw in path.read_text().splitlines():
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        if fields[0] == "symfunction_short":
            functions.append(" ".join(fields))
        elif fields[0] == "atom_energy":
            settings.setdefault("atom_energy", []).extend(fields[1:3])
        else:
            settings[fields[0]] = fields[1:]
    return settings, functions


def _read_scaling(path: Path, elements: list[str]) -> dict[str, np.ndarray]:
    rows = np.loadtxt(path, comments="#", ndmin=2)
    return {e: rows[rows[:, 0] == n + 1][:, 2:6] for n, e in enumerate(elements)}


def _read_weights(path: Path, widths: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    layers = [(torch.zeros(widths[k + 1], widths[k], dtype=torch.float64),
               torch.zeros(widths[k + 1], dtype=torch.float64)) for k in range(len(widths) - 1)]
    for raw in path.read_text().splitlines():
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        value = float(fields[0])
        if fields[1] == "a":  # weight: layer_from neuron_from layer_to neuron_to
            l_from, n_from, _, n_to = (int(x) for x in fields[3:7])
            layers[l_from][0][n_to - 1, n_from - 1] = value
        elif fields[1] == "b":  # bias: layer neuron
            layer, neuron = int(fields[3]), int(fields[4])
            layers[layer - 1][1][neuron - 1] = value
    return layers


def scaling_mode(settings: dict) -> str:
    """n2p2's scaling, decided as n2p2 does: ``scale`` (Smin + (Smax - Smin)(G - Gmin)/(Gmax -
    Gmin)), ``center`` (G - <G>), ``scale_center`` (both keywords: Smin + (Smax - Smin)(G -
    <G>)/(Gmax - Gmin)), ``sigma`` (Smin + (Smax - Smin)(G - <G>)/sigma) or ``none``."""
    scale, center = SCALE in settings, CENTER in settings
    if scale or center:
        return "scale_center" if scale and center else ("scale" if scale else "center")
    return "sigma" if SIGMA in settings else "none"


def _scaling(settings: dict, stats: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(shift, scale) ``(D,)`` of n2p2's scaling as ``x* = (G - shift) / scale``."""
    gmin, gmax, mean, sigma = (torch.tensor(stats[:, k], dtype=torch.float64) for k in range(4))
    smin = float(settings.get("scale_min_short", ["0"])[0])
    smax = float(settings.get("scale_max_short", ["1"])[0])
    mode = scaling_mode(settings)
    if mode == "none":
        return torch.zeros_like(gmin), torch.ones_like(gmin)
    if mode == "center":
        return mean, torch.ones_like(mean)
    spread = sigma if mode == "sigma" else gmax - gmin
    spread = torch.where(spread > 0, spread, 1.0)  # constant functions: leave unscaled
    scale = spread / (smax - smin)
    centre = gmin if mode == "scale" else mean
    # x = smin + (G - centre) / scale = (G - shift) / scale with shift = centre - smin scale
    return centre - smin * scale, scale


def read_n2p2_potential(directory: str | os.PathLike, *, length_unit: float | str = 1.0,
                        energy_unit: float | str = 1.0, epoch: int | None = None) -> Potential:
    """Import an n2p2 potential directory; ``length_unit``/``energy_unit`` are the units it
    was trained in (e.g. ``"bohr"``, ``"hartree"``). Predictions are in eV and Å.

    The weights are ``weights.NNN.data``; in an ``nnp-train`` folder, which holds
    ``weights.NNN.EEEEEE.out`` per written epoch instead, those of ``epoch`` (default: the
    last epoch written for every element)."""
    directory = Path(directory)
    input_nn = directory / "input.nn"
    if not input_nn.is_file():
        raise InputError(f"{directory}: no input.nn")
    settings, lines = supported_settings(input_nn)
    sf = _descriptor(input_nn, settings, lines, length_factor(length_unit))
    elements, to_ev = sf.elements, energy_factor(energy_unit)
    hidden, hidden_activations = network_shape(input_nn, settings)
    try:
        energy_scale, energy_shift = _normalisation(settings)
    except (KeyError, ValueError, IndexError) as exc:
        raise InputError(f"{input_nn}: missing or malformed keyword ({exc})") from None
    activations = [*hidden_activations, "linear"]
    reference = dict(zip(settings.get("atom_energy", [])[::2],
                         (float(x) for x in settings.get("atom_energy", [])[1::2]), strict=True))
    stats = _read_scaling(directory / "scaling.data", elements)
    files = weights_files(directory, elements, epoch)
    models = {}
    for element in elements:
        layers = _read_weights(files[element], [sf.n_features[element], *hidden, 1])
        # atomic energy in eV: (E_net * scale + shift + atom_energy) * to_ev, folded into the
        # output layer
        w, b = layers[-1]
        layers[-1] = (w * energy_scale * to_ev,
                      (b * energy_scale + energy_shift + reference.get(element, 0.0)) * to_ev)
        models[element] = ElementModel(*_scaling(settings, stats[element]), None, None, layers,
                                       activations)
    return build_potential(sf, models, {"source": str(directory),
                                        "weights": [f.name for f in files.values()]})


def supported_settings(input_nn: Path) -> tuple[dict[str, list[str]], list[str]]:
    """:func:`_settings` of an ``input.nn`` whose model gdfnn implements (one line
    naming the keyword otherwise)."""
    settings, lines = _settings(input_nn)
    for key, what in UNSUPPORTED_KEYWORDS.items():
        if key in settings:
            raise InputError(f"{input_nn}: '{key}' ({what}) is not supported by gdfnn")
    if settings.get("nnp_generation", ["2"])[0] != "2":
        raise InputError(f"{input_nn}: nnp_generation {settings['nnp_generation'][0]} is not "
                         "supported (gdfnn reads second-generation, short-range HDNNPs)")
    return settings, lines


def network_shape(input_nn: Path, settings: dict[str, list[str]]
                  ) -> tuple[list[int], list[str]]:
    """``(hidden widths, activation names, one per hidden layer)`` of an ``input.nn`` (the
    output layer is linear)."""
    try:
        codes = settings["global_activation_short"]
        hidden = [int(x) for x in settings["global_nodes_short"]]
    except (KeyError, ValueError) as exc:
        raise InputError(f"{input_nn}: missing or malformed keyword ({exc})") from None
    codes = codes[:len(hidden)]  # n2p2 reads one per hidden layer; the output is linear
    unknown = sorted(set(codes) - set(ACTIVATION_CODES))
    if len(codes) != len(hidden) or unknown:
        raise InputError(f"{input_nn}: global_activation_short: expected one of "
                         f"{' '.join(ACTIVATION_CODES)} per hidden layer ({len(hidden)}), got "
                         f"{' '.join(settings['global_activation_short'])}")
    return hidden, [ACTIVATION_CODES[c] for c in codes]


def read_n2p2_descriptor(input_nn: str | os.PathLike, length_unit: float | str = 1.0
                         ) -> SymmetryFunctions:
    """The symmetry functions of an n2p2 ``input.nn`` (its ``elements``, ``cutoff_type`` and
    ``symfunction_short`` lines, in n2p2's order), every length-bearing parameter (rc, rs,
    eta) converted from ``length_unit`` (n2p2 files carry none) to Å."""
    input_nn = Path(input_nn)
    if not input_nn.is_file():
        raise InputError(f"{input_nn}: no such n2p2 input.nn")
    settings, lines = _settings(input_nn)
    return _descriptor(input_nn, settings, lines, length_factor(length_unit))


def _descriptor(input_nn: Path, settings: dict, lines: list[str], to_angstrom: float
                ) -> SymmetryFunctions:
    try:
        elements = n2p2_elements(settings["elements"])
        cutoff = settings.get("cutoff_type", ["1"])
        cutoff_type, alpha = int(cutoff[0]), float(cutoff[1]) if len(cutoff) > 1 else 0.0
    except (KeyError, ValueError, IndexError) as exc:
        raise InputError(f"{input_nn}: missing or malformed keyword ({exc})") from None
    if not lines:
        raise InputError(f"{input_nn}: no symfunction_short lines")
    try:
        sf = SymmetryFunctions.from_n2p2_lines(elements, lines, str(input_nn), to_angstrom,
                                               cutoff_type, alpha)
    except ValueError as exc:
        raise InputError(f"{input_nn}: {exc}") from None
    return SymmetryFunctions(elements, {e: [sf.functions[e][k] for k in n2p2_order(sf, e)]
                                        for e in elements}, cutoff_type, alpha)


def weights_files(directory: Path, elements: list[str], epoch: int | None = None
                  ) -> dict[str, Path]:
    """Per element, the weights file to read (see :func:`read_n2p2_potential`)."""
    numbers = {e: f"{atomic_numbers[e]:03d}" for e in elements}
    if epoch is None and all((directory / f"weights.{n}.data").is_file()
                             for n in numbers.values()):
        return {e: directory / f"weights.{n}.data" for e, n in numbers.items()}
    written = [{int(p.name.split(".")[2]) for p in directory.glob(f"weights.{n}.*.out")}
               for n in numbers.values()]
    epochs = sorted(set.intersection(*written))
    if epoch is None and epochs:
        epoch = epochs[-1]
        log.info("%s: the weights of epoch %d, the last nnp-train wrote (--n2p2-epoch to "
                 "choose)", directory, epoch)
    if epoch not in epochs:
        missing = [f"weights.{n}.data" for n in numbers.values()
                   if not (directory / f"weights.{n}.data").is_file()]
        shown = ("no weights.NNN.EEEEEE.out" if not epochs else
                 f"epochs {', '.join(map(str, epochs))}" if len(epochs) <= 6 else
                 f"{len(epochs)} epochs, {epochs[0]} to {epochs[-1]}")
        raise InputError(f"{directory}: " + (f"no weights of epoch {epoch} ({shown})"
                                             if epoch is not None else
                                             f"no {', '.join(missing)} and {shown}"))
    return {e: directory / f"weights.{n}.{epoch:06d}.out" for e, n in numbers.items()}


def _normalisation(settings: dict) -> tuple[float, float]:
    """(1 / conv_energy, mean_energy) when mean_energy, conv_energy and conv_length are all
    given (n2p2 then normalises, whatever else the file says); (1, 0) otherwise."""
    if not all(key in settings for key in NORMALISATION):
        return 1.0, 0.0
    return 1.0 / float(settings["conv_energy"][0]), float(settings["mean_energy"][0])


# ----- writing ------------------------------------------------------------------------------
def write_n2p2_potential(potential: Potential, directory: str | os.PathLike, *,
                         length_unit: float | str = 1.0, energy_unit: float | str = 1.0) -> Path:
    """Write ``input.nn``, ``scaling.data`` and ``weights.NNN.data`` into ``directory``."""
    models = {e: element_model(potential, e) for e in potential.elements}
    codes = {v: k for k, v in ACTIVATION_CODES.items()}
    activations = models[potential.elements[0]].activations
    missing = sorted(set(activations) - set(codes))
    if missing:
        raise InputError(f"n2p2 has no {', '.join(missing)} activation ({', '.join(codes)})")
    for element in potential.elements:
        for f in potential.descriptor.functions[element]:
            if f.kind not in KIND_TO_N2P2:
                raise InputError(f"{element}: type {f.kind} has no n2p2 equivalent")
    directory = Path(directory)
    to_file_len, to_file_en = length_factor(length_unit), 1.0 / energy_factor(energy_unit)
    elements = n2p2_elements(potential.elements)
    sf = potential.descriptor
    orders = {e: n2p2_order(sf, e) for e in elements}
    hidden = models[elements[0]].hidden
    lines = [f"number_of_elements {len(elements)}", "elements " + " ".join(elements),
             f"cutoff_type {sf.cutoff_type} {sf.cutoff_alpha!r}", "scale_symmetry_functions",
             "scale_min_short -1.0", "scale_max_short 1.0",
             f"global_hidden_layers_short {len(hidden)}",
             "global_nodes_short " + " ".join(map(str, hidden)),
             "global_activation_short " + " ".join(codes[a] for a in activations),
             "use_short_forces"]
    scaling = []
    for n, element in enumerate(elements):
        m = models[element]
        functions = sf.functions[element]
        for k, idx in enumerate(orders[element]):
            f = functions[idx]
            lines.append(format_n2p2_symfunction(element, f, to_file_len))
            shift, scale = float(m.shift[idx]), float(m.scale[idx])
            scaling.append(f"{n + 1:4d} {k + 1:4d} {shift - scale!r} {shift + scale!r} "
                           f"{shift!r} {scale!r}")
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_write(directory / "input.nn") as out:
        out.write("\n".join(lines) + "\n")
    with atomic_write(directory / "scaling.data") as out:
        out.write("\n".join(scaling) + "\n")
    for element in elements:
        layers = models[element].on_scaled()  # n2p2 reads x* = (G - shift) / scale
        w, b = layers[0]
        layers[0] = (w[:, orders[element]], b)
        w, b = layers[-1]
        layers[-1] = (w * to_file_en, b * to_file_en)
        _write_weights(directory / f"weights.{atomic_numbers[element]:03d}.data", layers)
    return directory


def _write_weights(path: Path, layers) -> None:
    rows, count = [], 0
    for k, (w, b) in enumerate(layers):
        for i in range(w.shape[1]):
            for j in range(w.shape[0]):
                count += 1
                rows.append(f"{float(w[j, i]):.16E} a {count:9d} {k:5d} {i + 1:5d} {k + 1:5d} "
                            f"{j + 1:5d}")
        for j in range(w.shape[0]):
            count += 1
            rows.append(f"{float(b[j]):.16E} b {count:9d} {k + 1:5d} {j + 1:5d}")
    with atomic_write(path) as out:
        out.write("\n".join(rows) + "\n")


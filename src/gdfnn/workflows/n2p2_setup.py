"""An n2p2 training folder as it is (``input.nn`` + ``input.data``) as a gdfnn training
config: ``gdfnn train DIR --length-unit bohr --energy-unit hartree``.

What is taken from ``input.nn``: the elements, cutoff type and ``symfunction_short`` lines
(``descriptor.n2p2``, lengths converted from the data's unit), ``global_nodes_short`` and
``global_activation_short`` (``model.hidden``, ``model.activation``), ``epochs``,
``test_fraction`` (``data.test_rate``; where nnp-train already wrote ``train.data`` and
``test.data`` into the folder, that split is used as it is), ``random_seed``, ``use_short_forces`` (without it
energies only: ``training.force_coeff`` 0) and the optimiser: ``updater_type 1`` trains with
gdfnn's Kalman filter (``training.optimizer: kalman``) set by the folder's ``kalman_*``,
``update_strategy``, ``selection_mode``, update fractions, ``force_weight`` and threshold
keywords (:data:`KALMAN_KEYWORDS`), its epochs n2p2's epochs; ``updater_type 0`` trains with
Adam, n2p2's epochs taken as Adam epochs (said in one line). n2p2 files carry no units: the
data's (``data.length_unit``, ``data.energy_unit``) apply to ``input.data`` and to every
length-bearing parameter of the functions. The rest (loss weights, validation split,
scaling) is gdfnn's, as ``gdfnn config --defaults`` documents.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from ase.data import chemical_symbols, covalent_radii

from gdfnn.data.n2p2 import read_n2p2
from gdfnn.errors import InputError
from gdfnn.export.n2p2 import network_shape, read_n2p2_descriptor, supported_settings

log = logging.getLogger("gdfnn")

#: The files an n2p2 training folder holds, and the split nnp-train writes into it.
INPUT_NN, INPUT_DATA = "input.nn", "input.data"
TRAIN_DATA, TEST_DATA = "train.data", "test.data"
#: n2p2's Kalman-filter keywords and the ``training.kalman`` key each sets (same meaning).
KALMAN_KEYWORDS = {
    "kalman_epsilon": "epsilon", "kalman_q0": "q0", "kalman_qtau": "qtau",
    "kalman_qmin": "qmin", "kalman_eta": "eta", "kalman_etatau": "etatau",
    "kalman_etamax": "etamax", "kalman_lambda_short": "lambda0", "kalman_nue_short": "nu",
    "short_energy_fraction": "energy_fraction", "short_force_fraction": "force_fraction",
    "force_energy_ratio": "force_energy_ratio", "force_weight": "force_weight",
    "short_energy_error_threshold": "energy_threshold",
    "short_force_error_threshold": "force_threshold", "rmse_threshold_trials": "threshold_trials"}


def is_n2p2_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder with ``input.nn`` and ``input.data``."""
    path = Path(path)
    return path.is_dir() and (path / INPUT_NN).is_file() and (path / INPUT_DATA).is_file()


#: The shortest distance of a structure over the sum of its two atoms' covalent radii, outside
#: which the length unit is likely wrong (bonded neighbours sit near 1; n2p2's Cu2S example, Å,
#: read as Bohr gives 0.48, its H2O example, Bohr, read as Å 1.96).
PLAUSIBLE_SHORTEST = (0.6, 1.6)


def length_unit_warning(data: Path, length_unit: str | float, structures: int = 10
                        ) -> str | None:
    """One line where the first ``structures`` of the n2p2 file ``data``, read in
    ``length_unit``, have a shortest interatomic distance implausible for their elements
    (:data:`PLAUSIBLE_SHORTEST`), naming the distance; else None."""
    worst = None
    for frame in read_n2p2(data, length_unit=length_unit, limit=structures):
        atoms = frame.atoms
        if len(atoms) < 2:
            continue
        distances = atoms.get_all_distances(mic=any(atoms.pbc))
        np.fill_diagonal(distances, np.inf)
        i, j = np.unravel_index(np.argmin(distances), distances.shape)
        bond = covalent_radii[atoms.numbers[i]] + covalent_radii[atoms.numbers[j]]
        ratio = distances[i, j] / bond
        if worst is None or abs(np.log(ratio)) > abs(np.log(worst[0])):
            worst = (ratio, distances[i, j], bond, atoms.numbers[i], atoms.numbers[j])
    if worst is None or PLAUSIBLE_SHORTEST[0] <= worst[0] <= PLAUSIBLE_SHORTEST[1]:
        return None
    ratio, shortest, bond, a, b = worst
    return (f"{data}: read in {length_unit}, the shortest {chemical_symbols[a]}-"
            f"{chemical_symbols[b]} distance is {shortest:.2f} Å, {ratio:.2f}x their covalent "
            f"radii ({bond:.2f} Å): is the file in another length unit (--length-unit)?")


def n2p2_config_values(directory: str | Path, length_unit: str | float = "angstrom",
                       energy_unit: str | float = "ev") -> dict:
    """The config values (a dict for :func:`gdfnn.config.config_from_dict`) of the n2p2
    training folder ``directory`` (see the module); output into ``directory/gdfnn``."""
    directory = Path(directory).resolve()
    input_nn = directory / INPUT_NN
    settings, _ = supported_settings(input_nn)
    hidden, activations = network_shape(input_nn, settings)
    if len(set(activations)) != 1:
        raise InputError(f"{input_nn}: global_activation_short "
                         f"{' '.join(settings['global_activation_short'])}: gdfnn trains one "
                         "activation for every hidden layer")
    training = _training(input_nn, settings)
    data = {"length_unit": length_unit, "energy_unit": energy_unit}
    if (directory / TRAIN_DATA).is_file() and (directory / TEST_DATA).is_file():
        data.update(train=[str(directory / TRAIN_DATA)], test=[str(directory / TEST_DATA)],
                    test_rate=0.0)  # nnp-train's own split, as it was
    else:
        data["train"] = [str(directory / INPUT_DATA)]
        if "test_fraction" in settings:
            data["test_rate"] = float(settings["test_fraction"][0])
    functions = read_n2p2_descriptor(input_nn, length_unit)
    descriptor = {"n2p2": str(input_nn), "cutoff": functions.cutoff,
                  "cutoff_type": functions.cutoff_type, "cutoff_alpha": functions.cutoff_alpha}
    return {"data": data, "descriptor": descriptor,
            "model": {"hidden": hidden, "activation": activations[0]},
            "training": training, "output": {"directory": str(directory / "gdfnn")}}


def _training(input_nn: Path, settings: dict[str, list[str]]) -> dict:
    """The ``training`` values of an ``input.nn`` (see the module)."""
    training: dict = {}
    if "epochs" in settings:
        training["epochs"] = int(settings["epochs"][0])
    if "random_seed" in settings:
        training["seed"] = int(settings["random_seed"][0])
    if "use_short_forces" not in settings:
        training["force_coeff"] = 0.0
    updater = settings.get("updater_type", ["0"])[0]
    if updater == "1":
        training["optimizer"] = "kalman"
        training["kalman"] = _kalman(input_nn, settings)
    elif updater == "0":
        log.info("%s: updater_type 0 (gradient descent) trains with gdfnn's Adam; its epochs "
                 "(%s) are taken as Adam epochs", input_nn, training.get("epochs", "default"))
    else:
        raise InputError(f"{input_nn}: updater_type {updater} is not supported (0 gradient "
                         "descent, trained with Adam, or 1 Kalman filter)")
    return training


def _kalman(input_nn: Path, settings: dict[str, list[str]]) -> dict:
    """``training.kalman`` of an ``input.nn`` with ``updater_type 1``."""
    def code(key: str, default: str, meanings: dict[str, str]) -> str:
        value = settings.get(key, [default])[0]
        if value not in meanings:
            raise InputError(f"{input_nn}: {key} {value} is not supported by gdfnn's Kalman "
                             f"filter (supported: "
                             f"{', '.join(f'{k} {v}' for k, v in meanings.items())})")
        return meanings[value]

    try:
        kalman = {name: float(settings[key][0]) for key, name in KALMAN_KEYWORDS.items()
                  if key in settings}
    except ValueError as exc:
        raise InputError(f"{input_nn}: malformed Kalman filter keyword ({exc})") from None
    if "threshold_trials" in kalman:
        kalman["threshold_trials"] = int(kalman["threshold_trials"])
    if "force_energy_ratio" in kalman:  # n2p2: the ratio overrides the fraction
        kalman.pop("force_fraction", None)
    kalman["type"] = code("kalman_type", "0", {"0": "standard", "1": "fading"})
    kalman["blocks"] = code("update_strategy", "0", {"0": "global", "1": "element"})
    if code("selection_mode", "2", {"0": "random", "2": "threshold"}) == "random":
        kalman.update(energy_threshold=0.0, force_threshold=0.0)
    return kalman

"""An n2p2 training folder as it is (``input.nn`` + ``input.data``) as a gdfnn training
config: ``gdfnn train DIR --length-unit bohr --energy-unit hartree``.

What is taken from ``input.nn``: the elements, cutoff type and ``symfunction_short`` lines
(``descriptor.n2p2``, lengths converted from the data's unit), ``global_nodes_short`` and
``global_activation_short`` (``model.hidden``, ``model.activation``), ``epochs``,
``test_fraction`` (``data.test_rate``) and ``random_seed``. n2p2 files carry no units: the
data's (``data.length_unit``, ``data.energy_unit``) apply to ``input.data`` and to every
length-bearing parameter of the functions. The rest (optimiser, loss weights, validation
split, scaling) is gdfnn's, as ``gdfnn config --defaults`` documents; the training of an
n2p2 user's setup is then gdfnn's, not n2p2's Kalman filter.
"""

from __future__ import annotations

from pathlib import Path

from gdfnn.errors import InputError
from gdfnn.export.n2p2 import network_shape, supported_settings

#: The files an n2p2 training folder holds.
INPUT_NN, INPUT_DATA = "input.nn", "input.data"


def is_n2p2_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder with ``input.nn`` and ``input.data``."""
    path = Path(path)
    return path.is_dir() and (path / INPUT_NN).is_file() and (path / INPUT_DATA).is_file()


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
    training = {}
    if "epochs" in settings:
        training["epochs"] = int(settings["epochs"][0])
    if "random_seed" in settings:
        training["seed"] = int(settings["random_seed"][0])
    data = {"train": [str(directory / INPUT_DATA)], "length_unit": length_unit,
            "energy_unit": energy_unit}
    if "test_fraction" in settings:
        data["test_rate"] = float(settings["test_fraction"][0])
    return {"data": data, "descriptor": {"n2p2": str(input_nn)},
            "model": {"hidden": hidden, "activation": activations[0]},
            "training": training, "output": {"directory": str(directory / "gdfnn")}}

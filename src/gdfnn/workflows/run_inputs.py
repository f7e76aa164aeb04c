"""What a training run was started with, so that a resumed or reused run is the same run.

``run_inputs.json`` in the output folder, written when a run starts: the resolved config
without what only says where things are or how a run looks (data paths, feature store, GDF
cache, output folder, progress bars, plots, checkpoint interval, GEMM chunks, threads), and
the SHA-256 of the data each of ``data.train`` and ``data.test`` reads
(:func:`gdfnn.data.sources.entries_digest`). ``gdfnn train --resume`` refuses a checkpoint
whose inputs changed, naming what changed; the experiments reuse a finished run only on
equal inputs.
"""

from __future__ import annotations

import json
from pathlib import Path

from gdfnn.config import Config
from gdfnn.data.sources import entries_digest
from gdfnn.fileio import atomic_write

RUN_INPUTS = "run_inputs.json"
#: Settings that do not change what a run computes.
NOT_INPUTS = ("data.train", "data.test", "descriptor.store", "gdf.cache", "gdf.chunk",
              "output.directory", "output.progress", "output.plots", "output.checkpoint_every",
              "training.threads")
#: Settings a resumed run may change: it may train longer, stop earlier or later, elsewhere.
RESUMABLE = ("training.epochs", "training.patience", "training.device")
#: The names of the data digests among the inputs.
DATA = {"data:train": "the training data (data.train's files)",
        "data:test": "the test data (data.test's files)"}


def run_inputs(config: Config) -> dict[str, object]:
    """The inputs of a run of ``config``, flat: ``section.key`` -> value, and ``data:train``,
    ``data:test`` -> digest."""
    values = {f"{section}.{key}": value
              for section, keys in config.model_dump(mode="json").items()
              for key, value in keys.items() if f"{section}.{key}" not in NOT_INPUTS}
    values["data:train"] = entries_digest(config.data.train)
    values["data:test"] = entries_digest(config.data.test)
    return values


def changes(old: dict, new: dict, allowed: tuple[str, ...] = ()) -> list[str]:
    """What differs between two :func:`run_inputs`, in words (keys in ``allowed`` do not
    count)."""
    found = []
    for key in sorted(set(old) | set(new)):
        if key in allowed or old.get(key) == new.get(key):
            continue
        found.append(DATA.get(key) or f"{key} {old.get(key)!r} -> {new.get(key)!r}")
    return found


def read(folder: Path) -> dict | None:
    path = folder / RUN_INPUTS
    return json.loads(path.read_text()) if path.is_file() else None


def write(folder: Path, inputs: dict) -> None:
    with atomic_write(folder / RUN_INPUTS) as out:
        json.dump(inputs, out, indent=1, sort_keys=True)

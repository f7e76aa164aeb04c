"""Training inside the experiments, once: a potential whose training finished on the same
inputs is reused and an interrupted one continues from its checkpoint, so a killed
experiment resumes and potentials trained elsewhere (a GPU machine) or by another
experiment on the same data serve the analysis here."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from gdfnn.config import Config
from gdfnn.model.potential import Potential
from gdfnn.training.trainer import CHECKPOINT
from gdfnn.workflows.train import METRICS_FILE, POTENTIAL_FILE, train

log = logging.getLogger("gdfnn")
#: Written into the output directory when a training starts: the fingerprint of its inputs.
FINGERPRINT_FILE = "inputs.sha256"


def fingerprint(config: Config) -> str:
    """SHA-256 of the resolved config and the bytes of every training and test file it
    names. Where files are and where results go do not count (data paths, feature store,
    GDF cache, output directory), nor does the progress bar: a finished run copied to
    another folder is still recognised."""
    settings = config.model_dump(mode="json")
    for section, key in (("data", "train"), ("data", "test"), ("descriptor", "store"),
                         ("gdf", "cache"), ("output", "directory"), ("output", "progress")):
        settings[section].pop(key)
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for name in (*config.data.train, *config.data.test):
        path = Path(name)
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def train_once(config: Config) -> Potential:
    """Train as ``config`` says, unless ``output.directory`` holds a run on the same inputs
    (its :func:`fingerprint` in ``inputs.sha256``, written when the training starts): a
    finished one (``metrics.json`` written) is loaded, an unfinished one (killed, or out of
    time on a batch system) continues from its last ``checkpoint.pt``, bit-identically."""
    out = Path(config.output.directory)
    stamp = fingerprint(config)
    marker = out / FINGERPRINT_FILE
    if marker.is_file() and marker.read_text().strip() == stamp:
        if (out / POTENTIAL_FILE).is_file() and (out / METRICS_FILE).is_file():
            log.info("%s: finished on the same inputs, reused", out)
            return Potential.load(out / POTENTIAL_FILE)
        if (out / CHECKPOINT).is_file():
            log.info("%s: unfinished on the same inputs, resumed from its checkpoint", out)
            return train(config, resume=True)
    for name in (METRICS_FILE, CHECKPOINT):  # another run's: never to be taken for this one's
        (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text(stamp + "\n")
    return train(config)

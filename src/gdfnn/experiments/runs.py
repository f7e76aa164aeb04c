"""Training inside the experiments, once: a potential whose training finished on the same
inputs is reused and an interrupted one continues from its checkpoint, so a killed
experiment resumes and potentials trained elsewhere (a GPU machine) or by another
experiment on the same data serve the analysis here."""

from __future__ import annotations

import logging
from pathlib import Path

from gdfnn.config import Config
from gdfnn.model.potential import Potential
from gdfnn.training.trainer import CHECKPOINT
from gdfnn.workflows import run_inputs
from gdfnn.workflows.train import METRICS_FILE, POTENTIAL_FILE, train

log = logging.getLogger("gdfnn")


def train_once(config: Config) -> Potential:
    """Train as ``config`` says, unless ``output.directory`` holds a run on the same inputs
    (:func:`gdfnn.workflows.run_inputs.run_inputs`, kept in ``run_inputs.json``; where the
    files lie does not count): a finished one (``metrics.json`` written) is loaded, an
    unfinished one (killed, or out of time on a batch system) continues from its last
    ``checkpoint.pt``, bit-identically. Otherwise the training starts anew (and replaces
    another run's results in that folder)."""
    out = Path(config.output.directory)
    if run_inputs.read(out) == run_inputs.run_inputs(config):
        if (out / POTENTIAL_FILE).is_file() and (out / METRICS_FILE).is_file():
            log.info("%s: finished on the same inputs, reused", out)
            return Potential.load(out / POTENTIAL_FILE)
        if (out / CHECKPOINT).is_file():
            log.info("%s: unfinished on the same inputs, resumed from its checkpoint", out)
            return train(config, resume=True)
    return train(config)

"""data.use_stress resolved on the training frames: 'auto' trains on stress only when every
frame has it, true on the frames that have it (the rest masked), false never."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.build import bulk

from gdfnn import Potential
from gdfnn.analysis.metrics import STRESS
from gdfnn.data.structure import Structure
from gdfnn.errors import InputError
from gdfnn.workflows.prepare import resolve_stress
from gdfnn.workflows.train import train
from tests.model.test_potential import strain_derivative


def frames(n_with: int, n_without: int, *, slab: bool = False) -> list[Structure]:
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    if slab:
        atoms.pbc = (True, True, False)
    return ([Structure(atoms, energy=0.0, stress=np.zeros(6)) for _ in range(n_with)]
            + [Structure(atoms, energy=0.0) for _ in range(n_without)])


def test_auto_trains_on_stress_only_when_every_frame_has_it(caplog):
    assert resolve_stress("auto", frames(3, 0))
    with caplog.at_level(logging.INFO, logger="gdfnn"):
        assert not resolve_stress("auto", frames(2, 1))
    assert "2 of 3 training frames have it" in caplog.text
    assert not resolve_stress("auto", frames(3, 0, slab=True))  # no 3-D cell: no stress
    assert resolve_stress(True, frames(2, 1))  # the frame without it is masked
    assert not resolve_stress(False, frames(3, 0))


def test_true_without_any_stress_is_one_line():
    with pytest.raises(InputError, match="no training frame has stress"):
        resolve_stress(True, frames(0, 2))


def test_a_stress_trained_run_reports_stress_errors_in_gpa_and_its_equation_of_state(
        toy_config):
    config = toy_config(training={"stress_coeff": 1.0}, output={"properties": True})
    train(config)
    metrics = json.loads((Path(config.output.directory) / "metrics.json").read_text())
    assert metrics["trained_on_stress"] is True
    for name in ("train", "valid"):
        stats = metrics[name][STRESS]
        assert stats["rmse"] > 0 and stats["n"] > 0
    assert metrics["properties"]["crystal"] == "diamond"  # the training report's E(V)
    trained = Potential.load(Path(config.output.directory) / "potential.pt")
    atoms = ase.io.read(Path(config.data.train[0]), 0)
    np.testing.assert_allclose(trained.predict(atoms)["stress"],
                               strain_derivative(trained, atoms), atol=1e-8)
    curve = (Path(config.output.directory) / "learning_curve.csv").read_text().splitlines()
    assert "valid_stress_rmse_gpa" in curve[0]
    # without stress in the loss the validation stress errors are still reported
    off = toy_config(data={"train": ["toy.xyz"], "valid_rate": 0.25, "use_stress": False},
                     output={"directory": "off", "progress": False, "plots": False,
                             "properties": False})
    train(off)
    metrics = json.loads((Path(off.output.directory) / "metrics.json").read_text())
    assert metrics["trained_on_stress"] is False
    assert STRESS not in metrics["train"] and STRESS in metrics["valid"]
    assert "properties" not in metrics

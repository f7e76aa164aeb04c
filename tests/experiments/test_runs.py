from pathlib import Path

import ase.io
import pytest
import torch

from gdfnn.experiments import runs
from gdfnn.training.trainer import CHECKPOINT, LEARNING_CURVE, Trainer
from gdfnn.workflows import run_inputs


def test_a_finished_run_on_the_same_inputs_is_reused_and_new_data_retrains(
        toy_config, morse_frames, tmp_path, monkeypatch):
    calls, real_train = [], runs.train

    def counting_train(config):
        calls.append(config)
        return real_train(config)

    monkeypatch.setattr(runs, "train", counting_train)
    config = toy_config(training={"epochs": 2})
    first = runs.train_once(config)
    again = runs.train_once(config)
    assert len(calls) == 1
    for a, b in zip(first.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    ase.io.write(tmp_path / "toy.xyz", morse_frames(16, seed=5))  # same names, new data
    runs.train_once(config)
    assert len(calls) == 2
    runs.train_once(toy_config(training={"epochs": 3}))  # a changed setting
    assert len(calls) == 3


def kill_at_checkpoint(monkeypatch, epoch: int) -> None:
    """Make the trainer die (as a killed process would) right after writing the checkpoint of
    ``epoch``."""
    real_save = Trainer.save_checkpoint

    def save_then_die(self):
        real_save(self)
        if self.state.epoch == epoch:
            raise RuntimeError("killed")

    monkeypatch.setattr(Trainer, "save_checkpoint", save_then_die)


def test_a_killed_training_continues_from_its_checkpoint_bit_identically(toy_config,
                                                                         monkeypatch):
    uninterrupted = runs.train_once(toy_config(training={"epochs": 4}, output={
        "directory": "whole", "checkpoint_every": 2}))
    config = toy_config(training={"epochs": 4}, output={"checkpoint_every": 2})
    out = Path(config.output.directory)
    with monkeypatch.context() as patch:
        kill_at_checkpoint(patch, epoch=2)
        with pytest.raises(RuntimeError, match="killed"):
            runs.train_once(config)
    assert (out / run_inputs.RUN_INPUTS).is_file() and (out / CHECKPOINT).is_file()
    assert not (out / runs.METRICS_FILE).exists()
    calls, real_train = [], runs.train
    monkeypatch.setattr(runs, "train", lambda c, **kw: calls.append(kw) or real_train(c, **kw))
    resumed = runs.train_once(config)
    assert calls == [{"resume": True}]
    for a, b in zip(uninterrupted.state_dict().values(), resumed.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    assert len((out / LEARNING_CURVE).read_text().splitlines()) == 1 + 4


def test_another_runs_metrics_and_checkpoint_are_never_taken_for_this_one(toy_config,
                                                                         monkeypatch):
    runs.train_once(toy_config(training={"epochs": 2}))
    config = toy_config(training={"epochs": 4})  # other inputs, same folder
    out = Path(config.output.directory)

    def killed_before_the_first_epoch(c, **kw):
        raise RuntimeError("killed")

    with monkeypatch.context() as patch:
        patch.setattr(runs, "train", killed_before_the_first_epoch)
        with pytest.raises(RuntimeError, match="killed"):
            runs.train_once(config)
    # the folder still holds the first run, labelled as the first run's
    assert run_inputs.read(out) != run_inputs.run_inputs(config)
    calls, real_train = [], runs.train
    monkeypatch.setattr(runs, "train", lambda c, **kw: calls.append(kw) or real_train(c, **kw))
    runs.train_once(config)
    assert calls == [{}]  # trained from the start, not resumed from the old run


def test_a_finished_run_copied_to_another_folder_is_recognised(toy_config, tmp_path,
                                                                 monkeypatch):
    import shutil

    config = toy_config(training={"epochs": 2})
    runs.train_once(config)
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.copy(tmp_path / "toy.xyz", moved / "toy.xyz")
    shutil.copytree(tmp_path / "out", moved / "out")
    calls = []
    monkeypatch.setattr(runs, "train", lambda c: calls.append(c))
    again = config.model_copy(deep=True)
    again.data.train = [str(moved / "toy.xyz")]
    again.output.directory = str(moved / "out")
    runs.train_once(again)
    assert calls == []

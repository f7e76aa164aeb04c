from pathlib import Path

import ase.io
import torch

from gdfnn.experiments import runs


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


def test_a_run_killed_before_its_metrics_is_trained_again(toy_config, monkeypatch):
    config = toy_config(training={"epochs": 2})
    runs.train_once(config)
    (Path(config.output.directory) / runs.METRICS_FILE).unlink()
    calls = []
    monkeypatch.setattr(runs, "train", lambda c: calls.append(c) or runs.Potential.load(
        Path(c.output.directory) / runs.POTENTIAL_FILE))
    runs.train_once(config)
    assert len(calls) == 1


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

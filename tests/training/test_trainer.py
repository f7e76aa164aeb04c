import copy
import csv
import json
import os
import signal
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch

from gdfnn import Potential, train
from gdfnn.config import TrainingConfig
from gdfnn.errors import InputError
from gdfnn.model.network import AtomicEnergies
from gdfnn.training.loss import loss_terms, predict
from gdfnn.training.metrics import residuals
from gdfnn.training.trainer import STOP_FILE, Trainer, TrainOptions
from gdfnn.training.weighting import WeightingPolicy
from gdfnn.workflows import train as workflow


def weights_of(directory):
    return torch.load(directory / "potential.pt", weights_only=True)["state_dict"]


def test_training_a_toy_system_lowers_the_force_error(morse_frames, toy_config, tmp_path):
    config = toy_config(training={"epochs": 60, "valid_every": 10, "learning_rate": 1e-2})
    pot = train(config)
    curve = list(csv.DictReader(open(tmp_path / "out" / "learning_curve.csv")))
    assert len(curve) == 60
    losses = [float(r["train_loss"]) for r in curve]
    assert np.mean(losses[-10:]) < 0.3 * np.mean(losses[:5])
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    forces = np.concatenate([a.get_forces() for a in morse_frames(16)])
    assert metrics["train"]["force"]["rmse"] < 0.5 * np.sqrt((forces**2).mean())
    assert set(metrics["valid"]["per_group"]) == {"hot", "bulk"}
    assert set(metrics["valid"]["per_element"]) == {"Si"} and "energy_mev_atom" in metrics["valid"]
    assert "force_gdf_weighted" not in metrics["valid"]  # no GDF: no weighted column
    assert (tmp_path / "out" / "config_resolved.yaml").is_file()
    assert isinstance(pot, Potential) and pot.predict(morse_frames(1)[0])["forces"].shape == (8, 3)


class InterruptedTrainer(Trainer):
    """Sends itself SIGINT (Ctrl-C) at the end of epoch 3."""

    def train_epoch(self):
        loss = super().train_epoch()
        if self.state.epoch == 2:  # the epoch counter is advanced after this returns
            os.kill(os.getpid(), signal.SIGINT)
        return loss


@pytest.mark.parametrize(("shuffle", "stream_chunk"), [("structures", None), ("batches", None),
                                                     ("structures", 5)])
def test_ctrl_c_then_resume_continues_bit_identically(toy_config, tmp_path, monkeypatch, shuffle,
                                                      stream_chunk):
    """In memory (both shuffle modes) and streamed from the store in chunks."""
    training = {"epochs": 6, "shuffle": shuffle, "stream_chunk": stream_chunk}
    train(toy_config(training=training, output={"directory": "straight"}))
    interrupted = toy_config(training=training, output={"directory": "split"})
    monkeypatch.setattr(workflow, "Trainer", InterruptedTrainer)
    train(interrupted)
    rows = list(csv.DictReader(open(tmp_path / "split" / "learning_curve.csv")))
    assert len(rows) == 3 and (tmp_path / "split" / "potential.pt").is_file()
    monkeypatch.setattr(workflow, "Trainer", Trainer)
    train(interrupted, resume=True)
    a, b = weights_of(tmp_path / "straight"), weights_of(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows_a = list(csv.DictReader(open(tmp_path / "straight" / "learning_curve.csv")))
    rows_b = list(csv.DictReader(open(tmp_path / "split" / "learning_curve.csv")))
    assert [r["train_loss"] for r in rows_a] == [r["train_loss"] for r in rows_b]


def test_gdf_weighted_training_runs_and_reports_weighted_errors(toy_config, tmp_path):
    """The reported GDF-weighted force RMSE is sqrt(sum_j w_j |dF_j|^2 / (3 sum_j w_j)) over
    the validation atoms, with w_j their GDF weights (not all 1), checked by hand."""
    from gdfnn.data.store import ATOM_ROW
    from gdfnn.workflows import steps

    config = toy_config(gdf={"enabled": True, "sigma": 0.05, "modifier": "linear"})
    pot = train(config)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["gdf"][0]["element"] == "Si"
    # the validation atoms' weights, as training computed them
    prepared = steps.prepare_data(config, steps.RunContext(torch.device("cpu")))
    features = steps.load_features(prepared)
    transforms = steps.fit_feature_transforms(features, prepared, config.model)
    scaled = steps.scaled_features(features, transforms, prepared.descriptor.elements)
    gdf = steps.compute_gdf(scaled, config.gdf.settings(), steps.RunContext(torch.device("cpu")))
    weights = gdf["Si"].weights.numpy()
    valid = prepared.store.load(prepared.split.valid)
    w = weights[valid.arrays[ATOM_ROW].numpy()]
    assert w.std() > 0.1  # really not uniform
    structures = [prepared.structures[k] for k in prepared.split.valid]
    errors = np.concatenate([pot.predict(s.atoms)["forces"] - s.forces for s in structures])
    by_hand = np.sqrt((w[:, None] * errors**2).sum() / (3 * w.sum()))
    reported = metrics["valid"]["force_gdf_weighted"]["rmse"]
    assert reported == pytest.approx(by_hand, rel=1e-6)
    assert metrics["valid"]["force"]["rmse"] == pytest.approx(np.sqrt((errors**2).mean()),
                                                              rel=1e-6)


def test_stop_file_ends_training_cleanly(toy_config, tmp_path):
    config = toy_config(training={"epochs": 50})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / STOP_FILE).write_text("")
    train(config)
    curve = list(csv.DictReader(open(tmp_path / "out" / "learning_curve.csv")))
    assert len(curve) == 1 and (tmp_path / "out" / "potential.pt").is_file()
    assert not (tmp_path / "out" / STOP_FILE).exists()


def test_nan_in_inputs_is_caught_before_training(morse_frames, toy_config, tmp_path):
    frames = morse_frames(4)
    frames[2].calc.results["forces"][3, 0] = np.nan
    ase.io.write(tmp_path / "toy.xyz", frames)
    with pytest.raises(InputError, match="toy.xyz frame 2: forces contain NaN"):
        train(toy_config())
    assert not (tmp_path / "out" / "potential.pt").exists()


def test_streaming_from_the_store_trains_and_reports(toy_config, tmp_path):
    config = toy_config(training={"epochs": 30, "stream_chunk": 5, "learning_rate": 1e-2})
    train(config)
    curve = list(csv.DictReader(open(tmp_path / "out" / "learning_curve.csv")))
    losses = [float(r["train_loss"]) for r in curve]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3])
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["train"]["force"]["rmse"] > 0 and "hot" in metrics["train"]["per_group"]


def test_early_stopping(toy_config, tmp_path):
    config = toy_config(training={"epochs": 200, "valid_every": 1, "patience": 2,
                                  "learning_rate": 0.5, "final_learning_rate": 0.4})
    train(config)  # a learning rate far too large: validation stops improving at once
    curve = list(csv.DictReader(open(tmp_path / "out" / "learning_curve.csv")))
    assert len(curve) < 200
    losses = [float(r["valid_loss"]) for r in curve]
    best = int(np.argmin(losses))
    assert len(curve) == best + 1 + 2


def test_featurisation_is_cached_until_inputs_change(toy_config, tmp_path):
    from gdfnn.workflows.prepare import prepare

    config = toy_config()
    first = prepare(config).store.path
    stamp = first.stat().st_mtime_ns
    assert prepare(config).store.path.stat().st_mtime_ns == stamp
    config.descriptor.cutoff = 4.5
    assert prepare(config).store.path.stat().st_mtime_ns != stamp


def test_a_heavily_weighted_atom_ends_with_a_lower_force_error(toy_set, tmp_path):
    """Eq. 3 must change what is learnt: one atom with GDF weight 50, same seed otherwise."""
    data, _ = toy_set
    options = TrainOptions.from_mapping(TrainingConfig(
        epochs=60, batch_size=4, learning_rate=1e-2, final_learning_rate=1e-3,
        valid_every=1000, seed=0).model_dump())
    atom = 37

    def force_error_of_atom(weight: float) -> float:
        data.atom_weight[:] = 1.0
        data.atom_weight[atom] = weight
        torch.manual_seed(0)
        model = AtomicEnergies(["Si"], {"Si": data.x.shape[1]}, [8], "tanh").double()
        model.set_reference_energies({"Si": float((data.energy / data.atom_offset.diff()).mean())})
        Trainer(model, data, None, options, tmp_path / f"w{weight}", progress=False).run()
        return float(np.linalg.norm(residuals(model, data, 0.1).forces[atom]))

    plain, weighted = force_error_of_atom(1.0), force_error_of_atom(50.0)
    assert weighted < 0.85 * plain, (plain, weighted)  # measured: 0.077 -> 0.057 eV/Å


def test_float32_training_learns_and_returns_a_float32_potential(morse_frames, toy_config,
                                                                 tmp_path):
    config = toy_config(model={"dtype": "float32"},
                        training={"epochs": 40, "valid_every": 10, "learning_rate": 1e-2})
    pot = train(config)
    assert pot.dtype == torch.float32
    curve = list(csv.DictReader(open(tmp_path / "out" / "learning_curve.csv")))
    losses = [float(r["train_loss"]) for r in curve]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3])
    out = pot.predict(morse_frames(1)[0])
    assert out["forces"].dtype == np.float32 and np.isfinite(out["energy"])
    assert Potential.load(tmp_path / "out" / "potential.pt").dtype == torch.float32


def test_progress_bar_shows_only_what_exists(toy_set, tmp_path):
    data, model = toy_set
    options = TrainOptions.from_mapping(TrainingConfig(epochs=2, valid_every=1).model_dump())
    without = Trainer(model, data, None, options, tmp_path / "a", progress=False)
    without.run()
    assert set(without._progress_fields(0.5)) == {"loss"}  # no validation set: no valid_F
    with_valid = Trainer(model, data, data, options, tmp_path / "b", progress=False)
    with_valid.run()
    fields = with_valid._progress_fields(0.5)
    assert set(fields) == {"loss", "valid_F"} and "nan" not in fields["valid_F"]


def test_training_from_a_worker_thread(toy_config, tmp_path):
    """No SIGINT handler outside the main thread (signal.signal would raise there)."""
    import threading

    result = {}
    worker = threading.Thread(target=lambda: result.update(pot=train(toy_config())))
    worker.start()
    worker.join()
    assert isinstance(result.get("pot"), Potential)


def test_training_with_an_n2p2_cutoff_type_end_to_end(toy_config, tmp_path):
    config = toy_config(descriptor={"cutoff": 4.0, "cutoff_type": 6, "cutoff_alpha": 0.1},
                        training={"epochs": 30, "valid_every": 10, "learning_rate": 1e-2})
    pot = train(config)
    assert (pot.descriptor.cutoff_type, pot.descriptor.cutoff_alpha) == (6, 0.1)
    losses = [float(r["train_loss"]) for r in
              csv.DictReader(open(tmp_path / "out" / "learning_curve.csv"))]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3])
    from gdfnn import load_potential
    from gdfnn.export import write_n2p2_potential

    write_n2p2_potential(pot, tmp_path / "n2p2")
    assert "cutoff_type 6 0.1" in (tmp_path / "n2p2" / "input.nn").read_text()
    back = load_potential(tmp_path / "n2p2")
    atoms = ase.io.read(tmp_path / "toy.xyz", 0)
    np.testing.assert_allclose(back.predict(atoms)["forces"], pot.predict(atoms)["forces"],
                               atol=1e-10)


def test_two_stage_schedule_before_its_epoch_is_nnp_c(toy_config, tmp_path):
    plain = train(toy_config(output={"directory": "c"}))
    staged = train(toy_config(gdf={"enabled": True, "sigma": 0.05, "modifier": "linear"},
                              training={"gdf_from_epoch": 4}, output={"directory": "s"}))
    for a, b in zip(plain.networks.parameters(), staged.networks.parameters(), strict=True):
        assert torch.equal(a, b)  # all 4 epochs before gdf_from_epoch: eq. 1 exactly
    later = train(toy_config(gdf={"enabled": True, "sigma": 0.05, "modifier": "linear"},
                             training={"gdf_from_epoch": 2}, output={"directory": "l"}))
    assert not torch.equal(next(later.networks.parameters()), next(plain.networks.parameters()))


def test_energy_weighting_uses_the_mean_weight_of_each_structure(toy_set, toy_config):
    from gdfnn.data.store import FEATURES, GDF_WEIGHT, SPECIES
    from gdfnn.model.scaling import fit_transforms
    from gdfnn.training.batches import TrainingSet
    from gdfnn.workflows.prepare import prepare

    data, model = toy_set
    assert torch.equal(data.energy_weight, torch.ones_like(data.energy_weight))
    batch = data.batch(torch.arange(4))
    base = loss_terms(predict(model, batch, forces=True), batch, 0.1)["energy"]
    batch.energy_weight = torch.full_like(batch.energy_weight, 2.0)
    doubled = loss_terms(predict(model, batch, forces=True), batch, 0.1)["energy"]
    assert torch.allclose(doubled, 2 * base)
    prepared = prepare(toy_config())
    raw = prepared.store.load()
    raw.arrays[GDF_WEIGHT] = torch.arange(raw.arrays[SPECIES].numel(), dtype=torch.float64)
    sf = prepared.descriptor
    transforms = fit_transforms(raw.arrays[FEATURES], raw.arrays[SPECIES], sf.n_features,
                                sf.elements)
    weighted = TrainingSet(raw, transforms, sf.elements,
                           weighting=WeightingPolicy(forces=True, energies=True))
    expected = [raw.arrays[GDF_WEIGHT][8 * s:8 * s + 8].mean() for s in range(16)]
    assert torch.allclose(weighted.energy_weight, torch.stack(expected))


def test_force_coefficient_scaled_by_the_effective_sample_size(toy_config, monkeypatch):
    seen = {}

    class Capture(Trainer):
        def __init__(self, model, train_set, valid, options, *args, **kwargs):
            seen["mu"] = options.force_coeff
            super().__init__(model, train_set, valid, options, *args, **kwargs)

    monkeypatch.setattr(workflow, "Trainer", Capture)
    config = toy_config(gdf={"enabled": True, "sigma": 0.05, "modifier": "linear",
                             "force_coeff_scaling": "ess"})
    train(config)
    metrics = json.loads((Path(config.output.directory) / "metrics.json").read_text())
    ess = metrics["gdf"][0]["effective_sample_size"]
    assert 0 < ess < 1 and seen["mu"] == pytest.approx(0.1 * ess)


def energy_stage_options(**changes) -> TrainOptions:
    values = dict(epochs=30, batch_size=4, learning_rate=1e-2, final_learning_rate=1e-3,
                  valid_every=5, seed=0, energy_stage_epochs=20,
                  energy_stage_learning_rate=3e-3, energy_stage_force_scale=0.01)
    return TrainOptions.from_mapping(TrainingConfig(**{**values, **changes}).model_dump())


def test_energy_stage_lowers_the_energy_error_from_the_main_stages_best(toy_set, tmp_path):
    """MACE's second stage: after the main stage, from its best weights, at a constant
    learning rate with forces weighted down, the kept (averaged) model has the lower energy
    error; the curve shows the stage's epochs at its learning rate."""
    data, model = toy_set
    main = Trainer(copy.deepcopy(model), data, data,
                   energy_stage_options(energy_stage_epochs=0), tmp_path / "main",
                   progress=False)
    main.run()
    staged = Trainer(copy.deepcopy(model), data, data, energy_stage_options(),
                     tmp_path / "staged", progress=False)
    state = staged.run()
    assert state.energy_stage_from == 30 and state.epoch == 50 and state.main_best_epoch == 30
    assert len(state.history) == 50
    assert [r["learning_rate"] for r in state.history[30:]] == [3e-3] * 20
    before, after = (residuals(t.model, data, 0.1) for t in (main, staged))
    e_before = np.sqrt((before.energy_per_atom**2).mean())
    e_after = np.sqrt((after.energy_per_atom**2).mean())
    assert e_after < 0.7 * e_before, (e_before, e_after)
    assert 30 < state.best_epoch <= 50
    # the weights kept are those validated: the moving average's at the best epoch
    best_row = next(r for r in state.history if r["epoch"] == state.best_epoch)
    assert residuals(staged.model, data, staged.force_coeff).loss == pytest.approx(
        best_row["valid_loss"], rel=1e-12)
    average = {k: v.clone() for k, v in staged.ema_model.state_dict().items()}
    staged._update_ema()
    for (name, p), now in zip(staged.model.named_parameters(),
                              staged.ema_model.parameters(), strict=True):
        assert torch.allclose(now, average[name] + 0.01 * (p - average[name]), atol=1e-15)


def test_energy_stage_follows_early_stopping(toy_set, tmp_path):
    data, model = toy_set
    trainer = Trainer(model, data, data, energy_stage_options(
        epochs=200, valid_every=1, patience=2, learning_rate=0.5, final_learning_rate=0.4,
        energy_stage_epochs=4), tmp_path, progress=False)
    state = trainer.run()
    assert state.energy_stage_from < 200
    assert state.epoch == state.energy_stage_from + 4 or state.stale_validations == 2
    assert state.main_best_epoch == state.energy_stage_from - 2


class StoppingTrainer(Trainer):
    """Writes its STOP file during epoch ``stop_at`` (the run stops after it)."""

    stop_at = 0

    def train_epoch(self):
        loss = super().train_epoch()
        if self.state.epoch == self.stop_at - 1:  # advanced after this returns
            (self.output / STOP_FILE).write_text("")
        return loss


@pytest.mark.parametrize("stop_at", [30, 41])  # at the stage boundary, inside the stage
def test_energy_stage_resumes_bit_identically(toy_set, tmp_path, monkeypatch, stop_at):
    data, model = toy_set
    straight = Trainer(copy.deepcopy(model), data, data, energy_stage_options(),
                       tmp_path / "straight", progress=False)
    straight.run()
    monkeypatch.setattr(StoppingTrainer, "stop_at", stop_at)
    StoppingTrainer(copy.deepcopy(model), data, data, energy_stage_options(),
                    tmp_path / "split", progress=False).run()
    resumed = Trainer(copy.deepcopy(model), data, data, energy_stage_options(),
                      tmp_path / "split", progress=False)
    resumed.resume()
    assert resumed.state.epoch == stop_at
    resumed.run()
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert ([r["train_loss"] for r in straight.state.history]
            == [r["train_loss"] for r in resumed.state.history])

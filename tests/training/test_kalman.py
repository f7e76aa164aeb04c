"""The Kalman-filter optimiser: on a linear model it is recursive least squares, whose result
has a closed form; through ``gdfnn train`` it fits, resumes bit-identically and refuses what it
does not do in one line."""

import csv
import json
import os
import signal

import numpy as np
import pytest
import torch

from gdfnn import train
from gdfnn.config import KalmanConfig
from gdfnn.errors import ConfigError
from gdfnn.model.network import AtomicEnergies
from gdfnn.training.kalman import KalmanFilter, KalmanSettings, parameter_blocks
from gdfnn.training.trainer import Trainer
from gdfnn.workflows import train as workflow


def kalman_settings(**changes) -> KalmanSettings:
    """The filter's settings: the config's defaults with ``changes``."""
    return KalmanSettings(**KalmanConfig(**changes).model_dump())


def _linear_run(kind: str, observations: int = 1, **settings):
    """A linear model fed 40 observations, ``observations`` an update: (weights after, weights
    before, the inputs with a 1 for the bias (40, 5), targets (40,))."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1).double()
    start = torch.cat([model.weight.detach().flatten(), model.bias.detach()])
    inputs = torch.randn(40, 4, dtype=torch.float64)
    targets = inputs @ torch.tensor([0.5, -1.0, 2.0, 0.3], dtype=torch.float64) + 0.7 + \
        0.1 * torch.randn(40, dtype=torch.float64)
    kalman = KalmanFilter(list(model.parameters()), [[0, 1]], kalman_settings(
        type=kind, q0=0.0, qmin=0.0, etatau=0.0, **settings), updates_per_epoch=40)
    for first in range(0, 40, observations):
        x, y = inputs[first:first + observations], targets[first:first + observations]
        predictions = model(x)[:, 0]
        jacobian = [torch.stack(g) for g in zip(*(torch.autograd.grad(
            p, list(model.parameters()), retain_graph=True) for p in predictions), strict=True)]
        kalman.update((y - predictions).detach(), jacobian)
    after = torch.cat([model.weight.detach().flatten(), model.bias.detach()])
    phi = torch.cat([inputs, torch.ones(40, 1, dtype=torch.float64)], 1)
    return after, start, phi, targets


@pytest.mark.parametrize("observations", [1, 4])
def test_the_standard_filter_on_a_linear_model_is_regularised_least_squares(observations):
    """P0 = I/epsilon, R = 1/eta, no process noise: after every observation the weights are
    argmin eta sum_i (y_i - phi_i.w)^2 + epsilon |w - w0|^2, whether the observations come
    one an update or four together."""
    after, start, phi, y = _linear_run("standard", observations, epsilon=0.5, eta=3.0,
                                       etamax=3.0)
    eps, eta = 0.5, 3.0
    closed = torch.linalg.solve(eps * torch.eye(5, dtype=torch.float64) + eta * phi.T @ phi,
                                eps * start + eta * phi.T @ y)
    assert torch.allclose(after, closed, rtol=0, atol=1e-10)
    assert not torch.allclose(after, start, atol=1e-3)


def test_the_fading_memory_filter_on_a_linear_model_is_least_squares_with_forgetting():
    """lambda fixed (nu = 1): observation i of n weighs lambda^(n-i), the prior lambda^n."""
    lam = 0.9
    after, start, phi, y = _linear_run("fading", epsilon=0.5, lambda0=lam, nu=1.0)
    n = len(y)
    decay = lam ** torch.arange(n - 1, -1, -1, dtype=torch.float64)
    prior = 0.5 * lam**n
    closed = torch.linalg.solve(prior * torch.eye(5, dtype=torch.float64) +
                                phi.T @ (decay[:, None] * phi), prior * start + phi.T @ (decay * y))
    assert torch.allclose(after, closed, rtol=0, atol=1e-8)


def test_schedules_anneal_per_update_a_decade_an_epoch_and_the_state_round_trips():
    model = torch.nn.Linear(2, 1).double()
    kalman = KalmanFilter(list(model.parameters()), [[0], [1]], kalman_settings(), 10)
    x = torch.ones(1, 2, dtype=torch.float64)
    for _ in range(10):
        prediction = model(x)[0, 0]
        kalman.update(torch.ones(1), [j[None] for j in torch.autograd.grad(
            prediction, list(model.parameters()))])
    assert kalman.q == pytest.approx(0.01 * np.exp(-2.302))  # one decade after an epoch
    assert kalman.eta == pytest.approx(0.01 * np.exp(2.302))
    assert kalman.param_groups[0]["lr"] == kalman.eta
    again = KalmanFilter(list(model.parameters()), [[0], [1]], kalman_settings(), 10)
    again.load_state_dict(kalman.state_dict())
    assert again.q == kalman.q and all(torch.equal(a, b) for a, b in zip(again.P, kalman.P,
                                                                          strict=True))
    with pytest.raises(ValueError, match="other blocks"):
        KalmanFilter(list(model.parameters()), [[0, 1]], kalman_settings(), 10).load_state_dict(
            kalman.state_dict())


@pytest.mark.parametrize(("how", "sizes"), [
    ("global", [2 * (3 * 5 + 5 + 5 * 1 + 1)]),
    ("element", [3 * 5 + 5 + 5 * 1 + 1] * 2),
    ("layer", [3 * 5 + 5, 5 * 1 + 1] * 2)])
def test_blocks_of_p_are_as_configured(how, sizes):
    model = AtomicEnergies(["H", "O"], {"H": 3, "O": 3}, [5], "tanh").double()
    params, blocks = parameter_blocks(model, how)
    kalman = KalmanFilter(params, blocks, kalman_settings(), 1)
    assert [P.shape[0] for P in kalman.P] == sizes
    assert kalman.covariance_bytes == 8 * sum(n * n for n in sizes)


KALMAN = {"optimizer": "kalman", "epochs": 6, "valid_every": 2,
          "kalman": {"blocks": "layer", "observations": 2}}
NO_STRESS = {"use_stress": False}


def test_kalman_training_fits_the_toy_system(toy_config, morse_frames, tmp_path):
    train(toy_config(training=KALMAN, data=NO_STRESS))
    rows = list(csv.DictReader(open(tmp_path / "out" / "learning_curve.csv")))
    assert len(rows) == 6
    losses = [float(r["train_loss"]) for r in rows]
    assert losses[-1] < 0.2 * losses[0], losses
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    forces = np.concatenate([a.get_forces() for a in morse_frames(16)])
    assert metrics["train"]["force"]["rmse"] < 0.2 * np.sqrt((forces**2).mean())
    assert metrics["valid"]["force"]["rmse"] < 0.2 * np.sqrt((forces**2).mean())


class _Interrupted(Trainer):
    def train_epoch(self):
        loss = super().train_epoch()
        if self.state.epoch == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return loss


def test_kalman_training_resumes_bit_identically(toy_config, tmp_path, monkeypatch):
    """P, q, eta and the update count are part of the checkpoint."""
    train(toy_config(training=KALMAN, data=NO_STRESS, output={"directory": "straight"}))
    split = toy_config(training=KALMAN, data=NO_STRESS, output={"directory": "split"})
    monkeypatch.setattr(workflow, "Trainer", _Interrupted)
    train(split)
    assert len(list(csv.DictReader(open(tmp_path / "split" / "learning_curve.csv")))) == 3
    monkeypatch.setattr(workflow, "Trainer", Trainer)
    train(split, resume=True)
    a, b = (torch.load(tmp_path / d / "potential.pt", weights_only=True)["state_dict"]
            for d in ("straight", "split"))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(("training", "message"), [
    ({}, "does not train with stress"),
    ({"stream_chunk": 5}, "does not train with a training set streamed"),
    ({"energy_stage_epochs": 3}, "optimizer kalman has no energy_stage_epochs")])
def test_what_the_filter_does_not_do_is_one_line(toy_config, training, message):
    data = {} if not training else NO_STRESS
    with pytest.raises(ConfigError, match=message):
        train(toy_config(training={**KALMAN, **training}, data=data))


def test_updates_an_epoch_follow_the_fractions(toy_set):
    """n2p2's plan: energy_fraction of the structures, then force_energy_ratio times as many
    force updates, or force_fraction of the force components where given; none without
    forces in the loss."""
    from gdfnn.training.kalman_epoch import KalmanEpochs

    data, _ = toy_set
    components = 3 * int(data.atom_offset[-1])
    plan = KalmanEpochs(data, kalman_settings(energy_fraction=0.5), forces=True)
    assert (plan.n_energy, plan.n_force) == (8, 24)
    plan = KalmanEpochs(data, kalman_settings(force_fraction=0.25), forces=True)
    assert (plan.n_energy, plan.n_force) == (16, round(0.25 * components))
    plan = KalmanEpochs(data, kalman_settings(observations=5), forces=True)
    assert plan.updates_per_epoch == 4 + 10  # 16 and 48 candidates, 5 an update
    assert KalmanEpochs(data, kalman_settings(), forces=False).n_force == 0


def test_gdf_weights_scale_the_errors_of_the_kalman_updates(toy_config, tmp_path):
    """With GDF weighting the same run (seed, plan, candidates) ends at other weights: the
    weights enter the updates (as factors of the error); and it trains as well."""
    train(toy_config(training=KALMAN, data=NO_STRESS, output={"directory": "plain"}))
    train(toy_config(training=KALMAN, data=NO_STRESS, output={"directory": "gdf"},
                     gdf={"enabled": True, "sigma": 0.05, "modifier": "linear"}))
    a, b = (torch.load(tmp_path / d / "potential.pt", weights_only=True)["state_dict"]
            for d in ("plain", "gdf"))
    assert not all(torch.equal(a[k], b[k]) for k in a)
    metrics = json.loads((tmp_path / "gdf" / "metrics.json").read_text())
    assert metrics["valid"]["force_gdf_weighted"]["rmse"] > 0


def test_normalised_units_are_the_spreads_of_the_training_labels(toy_set):
    """n2p2's normalize_data_set: an energy error (and its Jacobian) in units of the standard
    deviation of the energies per atom, a force error in that of the force components."""
    from gdfnn.training.kalman_epoch import KalmanEpochs

    data, _ = toy_set
    plan = KalmanEpochs(data, kalman_settings(normalize=True), forces=True)
    per_atom = (data.energy / data.atom_offset.diff()).numpy()
    assert plan.units["energy"] == pytest.approx(np.std(per_atom, ddof=1), rel=1e-12)
    assert plan.units["force"] == pytest.approx(np.std(data.forces.numpy(), ddof=1), rel=1e-12)
    assert KalmanEpochs(data, kalman_settings(), forces=True).units == {  # the default: eV, eV/Å
        "energy": 1.0, "force": 1.0}

"""The GPU paths against the CPU ones: featurisation (torch kernel on CUDA vs numba), the
potential's energy, forces and stress, the GDF, the calculator, and training with and
without GDF weights. Skipped where no CUDA device is present (CI); run on a GPU machine."""

import json

import numpy as np
import pytest
import torch

from gdfnn import NNPCalculator, train
from gdfnn.gdf.density import density
from gdfnn.training.trainer import Trainer
from gdfnn.workflows import train as workflow
from tests.training.test_trainer import InterruptedTrainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_features_and_derivatives_on_cuda_equal_the_numba_kernel(mixed, two_element_triclinic):
    atoms = two_element_triclinic()
    cpu = mixed.compute(atoms, derivatives=True, backend="numba")
    gpu = mixed.compute(atoms, derivatives=True, device="cuda")
    assert gpu.values.device.type == "cuda"
    for name in ("values", "pairs", "dG", "virial"):
        a, b = getattr(cpu, name), getattr(gpu, name).cpu()
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_potential_on_cuda_predicts_what_it_predicts_on_the_cpu(random_potential,
                                                                 sheared_si_c):
    pot = random_potential()
    atoms = sheared_si_c(5)
    cpu = pot.predict(atoms)
    gpu = pot.to("cuda").predict(atoms)
    for key in ("energy", "forces", "stress", "energies"):
        np.testing.assert_allclose(gpu[key], cpu[key], rtol=1e-10, atol=1e-12, err_msg=key)
    atoms.calc = NNPCalculator(pot)
    np.testing.assert_allclose(atoms.get_forces(), cpu["forces"], rtol=1e-10, atol=1e-12)


def test_gdf_on_cuda_equals_the_cpu():
    x = torch.randn(700, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    cpu = density(x, 0.3)
    gpu = density(x.cuda(), 0.3)
    assert gpu.device.type == "cuda"
    np.testing.assert_allclose(gpu.cpu().numpy(), cpu.numpy(), rtol=1e-10)


@pytest.mark.parametrize("gdf", [False, True])
def test_training_on_cuda_follows_the_cpu_run(toy_config, tmp_path, gdf):
    runs = {}
    for device in ("cpu", "cuda"):
        train(toy_config(training={"device": device, "epochs": 6},
                               gdf={"enabled": gdf, "sigma": 0.5},
                               output={"directory": device}))
        runs[device] = json.loads((tmp_path / device / "metrics.json").read_text())
    for split in ("train", "valid"):
        cpu, gpu = runs["cpu"][split], runs["cuda"][split]
        for key in ("force", "energy_mev_atom"):
            # same seed, same data, float64: only the order of GPU reductions differs
            assert gpu[key]["rmse"] == pytest.approx(cpu[key]["rmse"], rel=1e-6), (split, key)


def test_a_training_checkpointed_on_cuda_resumes_on_the_cpu(toy_config, tmp_path, monkeypatch):
    straight = toy_config(training={"device": "cpu", "epochs": 6}, output={"directory": "cpu"})
    train(straight)
    on_gpu = toy_config(training={"device": "cuda", "epochs": 6}, output={"directory": "moved"})
    monkeypatch.setattr(workflow, "Trainer", InterruptedTrainer)
    train(on_gpu)  # stops after epoch 3 with a checkpoint of CUDA tensors
    monkeypatch.setattr(workflow, "Trainer", Trainer)
    train(toy_config(training={"device": "cpu", "epochs": 6}, output={"directory": "moved"}),
          resume=True)
    cpu, moved = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("cpu", "moved"))
    assert moved["train"]["force"]["rmse"] == pytest.approx(cpu["train"]["force"]["rmse"], rel=1e-6)

"""gdfnn uncertainty: per-atom signals against the force error, and their scores."""

import csv
import json

import ase.io
import numpy as np
import pytest
import torch
from scipy.stats import rankdata

from gdfnn.cli import main
from gdfnn.data import read_structures
from gdfnn.errors import InputError
from gdfnn.workflows.uncertainty import atom_signals, calibration, score, uncertainty


def test_score_of_a_perfect_a_reversed_and_a_partial_signal():
    error = np.arange(100.0)
    perfect, reversed_ = score(error, 2 * error + 1), score(error, -error)
    assert perfect["spearman"] == pytest.approx(1) and perfect["recall"] == 1.0
    assert reversed_["spearman"] == pytest.approx(-1) and reversed_["recall"] == 0.0
    signal = error.copy()
    signal[[97, 98]] = -1  # two of the worst five are missed
    partial = score(error, signal)
    assert partial["recall"] == pytest.approx(3 / 5)
    r_s, r_e = rankdata(signal), rankdata(error)
    assert partial["spearman"] == pytest.approx(np.corrcoef(r_s, r_e)[0, 1])


def _with_reference(pot, frames, sigma=0.3):
    blocks = pot.descriptor.compute_many([s.atoms for s in frames], progress=False)
    pot.gdf_reference = {"Si": pot.transforms["Si"].scaled(torch.cat([b.values for b in blocks]))}
    pot.metadata["gdf"] = {"sigma": {"Si": sigma}}
    return pot


@pytest.fixture
def labelled(morse_frames, tmp_path):
    ase.io.write(tmp_path / "d.xyz", morse_frames(6))
    return read_structures(tmp_path / "d.xyz")


def test_signals_equal_a_direct_computation(random_potential, labelled):
    pot = _with_reference(random_potential(elements=("Si",)), labelled[:3])
    others = [random_potential(elements=("Si",)) for _ in range(2)]
    for k, other in enumerate(others):  # other "seeds": perturbed weights
        torch.manual_seed(10 + k)
        with torch.no_grad():
            for p in other.networks.parameters():
                p.add_(0.1 * torch.randn_like(p))
    data = atom_signals(pot, labelled, others)
    preds = [[m.predict(s.atoms)["forces"] for s in labelled] for m in [pot, *others]]
    forces = np.stack([np.concatenate(p) for p in preds])  # (models, atoms, 3)
    ref = np.concatenate([s.forces for s in labelled])
    np.testing.assert_allclose(data.force_error, np.linalg.norm(forces[0] - ref, axis=1),
                               rtol=1e-10)
    mean = forces.mean(0)
    np.testing.assert_allclose(data.ensemble_std, np.sqrt(
        np.mean([np.sum((f - mean) ** 2, axis=1) for f in forces], axis=0)), rtol=1e-10)
    x = torch.cat([pot.descriptor.compute(s.atoms).values for s in labelled])
    direct = torch.exp(-torch.cdist(pot.transforms["Si"].scaled(x), pot.gdf_reference["Si"])
                       ** 2 / (2 * 0.3**2 * 26)).mean(1).numpy()
    np.testing.assert_allclose(data.rho, direct, rtol=1e-4)
    assert data.rho[:24].mean() > data.rho[24:].mean()  # the reference frames are covered
    assert list(data.group[:8]) == [labelled[0].group] * 8 and data.atom[8] == 0


def test_uncertainty_writes_its_tables_and_the_cli_prints_them(random_potential, labelled,
                                                                tmp_path, capsys):
    pot = _with_reference(random_potential(elements=("Si",)), labelled[:3])
    result = uncertainty(pot, labelled, output=tmp_path / "u")
    assert set(result["scores"]) == {"all", "group bulk", "group hot"}
    assert set(result["scores"]["all"]) == {"gdf", "outside"}
    rows = list(csv.DictReader(open(tmp_path / "u" / "uncertainty.csv")))
    assert len(rows) == 48 and rows[0]["ensemble_std_eV_per_A"] == ""
    assert json.load(open(tmp_path / "u" / "uncertainty.json"))["atoms"] == 48
    assert (tmp_path / "u" / "uncertainty.png").stat().st_size > 0
    pot.save(tmp_path / "a.pt")
    pot.save(tmp_path / "b.pt")
    assert main(["uncertainty", str(tmp_path / "a.pt"), "--data", str(tmp_path / "d.xyz"),
                 "--ensemble", str(tmp_path / "b.pt"), "--output", str(tmp_path / "cli"),
                 "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "| all | ensemble | 48 |" in out and "ensemble of 2" in out


def test_a_potential_without_reference_is_refused(random_potential, labelled):
    with pytest.raises(InputError, match="no GDF reference"):
        atom_signals(random_potential(elements=("Si",)), labelled)


def test_calibration_compares_predicted_and_observed_rms_per_bin_of_the_prediction():
    predicted = np.repeat([0.1, 0.2], 50)
    observed = np.concatenate([np.full(50, 0.1), np.full(50, 0.25)])
    order = np.random.default_rng(0).permutation(100)  # bins follow the prediction, not order
    c = calibration(predicted[order], observed[order], bins=2)
    assert c["atoms"] == [50, 50]
    assert np.allclose(c["predicted_rms"], [0.1, 0.2]) and np.allclose(c["observed_rms"],
                                                                         [0.1, 0.25])
    assert c["max_deviation"] == pytest.approx(0.2)  # 0.2 / 0.25 - 1

"""Coverage set at training: width and held-out floor stored in the potential, the error map
calibrated on the validation atoms, and older files read with a warning."""

import json
import logging

import numpy as np
import pytest
import torch

from gdfnn import NNPCalculator, train
from gdfnn.gdf import coverage as gdf_coverage
from gdfnn.gdf.coverage import LEGACY, knn_width
from gdfnn.gdf.reference import DensityReference, legacy_floor
from gdfnn.model.potential import Potential
from gdfnn.workflows import coverage as workflow_coverage


@pytest.fixture
def trained(toy_config, tmp_path, monkeypatch):
    # the toy set has 32 validation atoms: bins of 10 atoms make an error map of them
    monkeypatch.setattr(gdf_coverage, "ATOMS_PER_BIN", 10)
    monkeypatch.setattr(workflow_coverage, "ATOMS_PER_BIN", 10)
    config = toy_config(output={"directory": str(tmp_path / "out")}, coverage={"neighbours": 5})
    return train(config), tmp_path / "out"


def test_training_stores_the_width_rule_the_heldout_floor_and_an_error_map(trained):
    potential, out = trained
    loaded = Potential.load(out / "potential.pt")
    c = loaded.coverage_of("Si")
    assert potential.coverage_of("Si") == c  # the file holds what train returned
    assert c.kind == "heldout" and not loaded.legacy_coverage
    assert c.sigma == pytest.approx(knn_width(loaded.gdf_reference["Si"], 5), rel=1e-12)
    assert c.sigma != loaded.gdf_sigma("Si")  # its own width, not the weighting's
    # the error map reads the last-layer rigidity (the error grows with it)
    assert c.error is not None and c.error.signal == "llpr"
    assert np.all(np.diff(c.error.force_rmse) >= 0)
    report = json.loads((out / "metrics.json").read_text())["coverage"]["Si"]
    assert report["sigma"] == c.sigma and report["floor"] == c.floor
    assert report["valid_atoms"] == 32 and 0 <= report["valid_flagged"] <= 1
    assert report["error_map_signal"] == "llpr"
    # predictions carry the expected error of every atom, from the map of its rigidity, in
    # the full coverage call and in the cheap check alike
    atoms = _toy_atoms(out)
    out_ = loaded.predict(atoms, coverage=True)
    assert np.allclose(out_["force_error"], c.error(out_["rigidity"]))
    assert np.isfinite(out_["force_error"]).all()
    assert out_["max_force_error"] == pytest.approx(out_["force_error"].max())
    # the verdict reads the rigidity against its ceiling
    assert c.signal == "llpr" and report["signal"] == "llpr" and report["ceiling"] == c.ceiling
    assert np.array_equal(out_["uncovered"], out_["rigidity"] > c.ceiling)
    check = loaded.predict(atoms, coverage="check")
    np.testing.assert_allclose(check["force_error"], out_["force_error"], rtol=1e-12)
    assert np.array_equal(check["uncovered"], out_["uncovered"])
    calc = NNPCalculator(loaded, coverage=True)
    atoms.calc = calc
    atoms.get_potential_energy()
    assert np.allclose(calc.results["force_error"], out_["force_error"])



def test_the_ceiling_is_the_quantile_of_validation_atoms_and_training_frames_held_out(
        trained):
    """An independent computation: every training frame's atoms against C refitted without
    that frame, and the validation atoms against all training frames; the ceiling leaves the
    quantile of them above it."""
    from gdfnn.data import read_structures, split_by_group
    from gdfnn.model.rigidity import RIDGE, last_hidden

    _, out = trained
    loaded = Potential.load(out / "potential.pt")
    c = loaded.coverage_of("Si")
    frames = read_structures(str(out.parent / "toy.xyz"))
    split = split_by_group(frames, 0.25, 0.0, 0)  # the toy config's split
    hidden = []
    for s in frames:
        block = loaded.descriptor.compute(s.atoms)
        hidden.append(last_hidden(loaded.networks, loaded.network_inputs(block.values,
                                                                         block.species),
                                  block.species))
    gram = sum(hidden[k].T @ hidden[k] for k in split.train)
    ridge = RIDGE * torch.trace(gram) / gram.shape[0] * torch.eye(gram.shape[0],
                                                                   dtype=gram.dtype)

    def against(h, without=None):
        held = gram if without is None else gram - hidden[without].T @ hidden[without]
        return torch.einsum("ni,ij,nj->n", h, torch.linalg.inv(held + ridge), h).numpy()

    values = np.concatenate([against(hidden[k], k) for k in split.train]
                            + [against(hidden[k]) for k in split.valid])
    assert c.ceiling == pytest.approx(np.quantile(values, 1 - c.quantile), rel=1e-6)


def test_without_validation_frames_the_ceiling_reads_training_frames_held_out(toy_config,
                                                                               tmp_path):
    config = toy_config(data={"valid_rate": 0.0}, output={"directory": str(tmp_path / "nv")},
                        coverage={"neighbours": 5})
    c = train(config).coverage_of("Si")
    assert c.signal == "llpr" and np.isfinite(c.ceiling) and c.error is None
    report = json.loads((tmp_path / "nv" / "metrics.json").read_text())["coverage"]["Si"]
    assert report["valid_atoms"] == 0 and report["ceiling"] == c.ceiling


def test_a_verdict_on_rho_is_kept_when_asked(toy_config, tmp_path):
    config = toy_config(output={"directory": str(tmp_path / "rho")},
                        coverage={"neighbours": 5, "signal": "rho"})
    potential = train(config)
    c = potential.coverage_of("Si")
    assert c.signal == "rho" and np.isfinite(c.ceiling)
    out_ = potential.predict(_toy_atoms(tmp_path / "rho"), coverage=True)
    assert np.array_equal(out_["uncovered"], out_["rho"] < c.floor)


def test_training_records_the_last_layer_rigidity_of_its_training_atoms(trained):
    """C^-1 over the training atoms (not the validation ones) of the trained networks; a
    prediction's ``rigidity`` is the quadratic form of each atom's last hidden layer, and the
    signal is scored by gdfnn uncertainty."""
    from gdfnn.data import read_structures
    from gdfnn.model.rigidity import last_hidden, read_rigidity_metadata
    from gdfnn.workflows.uncertainty import LLPR, uncertainty

    _, out = trained
    loaded = Potential.load(out / "potential.pt")
    inverse = read_rigidity_metadata(loaded.metadata)["Si"]
    assert inverse.shape == (loaded.networks.hidden[-1] + 1,) * 2
    atoms = _toy_atoms(out)
    block = loaded.descriptor.compute(atoms)
    h = last_hidden(loaded.networks, loaded.network_inputs(block.values, block.species),
                    block.species)
    expected = torch.einsum("ni,ij,nj->n", h, inverse, h).numpy()
    np.testing.assert_allclose(loaded.predict(atoms, coverage=True)["rigidity"], expected,
                               rtol=1e-10)
    assert np.all(expected > 0)
    scores = uncertainty(loaded, read_structures(str(out.parent / "toy.xyz")))["scores"]
    assert -1 <= scores["all"][LLPR]["spearman"] <= 1  # toy.xyz: the training data


def test_an_older_file_loads_with_its_old_floor_and_one_warning(trained, tmp_path, caplog):
    potential, out = trained
    data = torch.load(out / "potential.pt", weights_only=True)
    del data["metadata"]["coverage"]
    sigma = potential.gdf_sigma("Si")
    old = legacy_floor(DensityReference(potential.gdf_reference["Si"], sigma))
    data["gdf_reference_floor"] = {"Si": old}
    torch.save(data, tmp_path / "old.pt")
    with caplog.at_level(logging.WARNING, logger="gdfnn"):
        loaded = Potential.load(tmp_path / "old.pt")
    warnings = [r.getMessage() for r in caplog.records if "old kind" in r.getMessage()]
    assert len(warnings) == 1 and "old.pt" in warnings[0]
    c = loaded.coverage_of("Si")
    assert (c.kind, c.sigma, c.floor, c.error) == (LEGACY, sigma, old, None)
    out_ = loaded.predict(_toy_atoms(out), coverage=True)
    assert np.isnan(out_["force_error"]).all()


def _toy_atoms(out):
    import ase.io

    return ase.io.read(out.parent / "toy.xyz", index=0)

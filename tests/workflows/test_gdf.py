import json

import ase.io
import numpy as np
import torch

from gdfnn.cli import main
from gdfnn.data import read_structures
from gdfnn.data.split import split_by_group
from gdfnn.data.store import FEATURES, GDF_RHO, GDF_WEIGHT, SPECIES, FeatureStore
from gdfnn.gdf import density
from gdfnn.model.scaling import fit_transform


def test_gdf_command_stores_weights_and_writes_plots(labelled_si, tmp_path, capsys):
    frames = labelled_si(8, config_type="bulk") + labelled_si(4, seed=3, config_type="hot")
    for a in frames[8:]:
        a.rattle(0.3, seed=1)
    ase.io.write(tmp_path / "si.xyz", frames)
    config = tmp_path / "c.yaml"
    config.write_text("data: {train: [si.xyz], valid_rate: 0.25}\ndescriptor: {cutoff: 4.0}\n"
                      "gdf: {sigma: 0.05, modifier: linear}\noutput: {directory: out, "
                      "progress: false}\n")
    assert main(["gdf", str(config), "--split-group", "hot"]) == 0
    out = capsys.readouterr().out
    assert "Si       0.05" in out and "ESS" in out
    summary = json.loads((tmp_path / "out" / "gdf_summary.json").read_text())
    for path in summary["files"].values():
        assert (tmp_path / "out" / path.split("/")[-1]).stat().st_size > 1000
    assert (tmp_path / "out" / "config_resolved.yaml").is_file()

    store = FeatureStore(tmp_path / "out" / "features.h5")
    data = store.load()
    n_train_structures = 6 + 3
    split = split_by_group(read_structures(tmp_path / "si.xyz"), 0.25, 0.0, 0)
    assert split.train.size == n_train_structures
    atoms_train = torch.isin(data.structure_of_atom(), torch.as_tensor(split.train))
    w, rho = data.arrays[GDF_WEIGHT], data.arrays[GDF_RHO]
    assert abs(w[atoms_train].mean().item() - 1) < 1e-12
    x = data.arrays[FEATURES][data.arrays[SPECIES] == 0]
    t = fit_transform(x[atoms_train])
    expected_valid = density(t.scaled(x[~atoms_train]), 0.05, reference=t.scaled(x[atoms_train]))
    np.testing.assert_allclose(rho[~atoms_train].numpy(), expected_valid.numpy(), rtol=1e-12)
    expected_train = density(t.scaled(x[atoms_train]), 0.05)
    mean_train = (1 / expected_train).mean()
    np.testing.assert_allclose(w[atoms_train].numpy(), (1 / expected_train / mean_train).numpy(),
                               rtol=1e-10)
    np.testing.assert_allclose(w[~atoms_train].numpy(), (1 / expected_valid / mean_train).numpy(),
                               rtol=1e-10)


def test_gdf_command_approximate_mode_reports_its_checked_error(labelled_si, tmp_path, capsys):
    ase.io.write(tmp_path / "si.xyz", labelled_si(6))
    assert main(["gdf", str(tmp_path / "si.xyz"), "--approximate", "--sigma", "0.05",
                 "--output", str(tmp_path / "out")]) == 0
    summary = json.loads((tmp_path / "out" / "gdf_summary.json").read_text())
    error = summary["elements"][0]["approximate_max_rel_error"]
    assert error is not None and 0 <= error < 0.01
    capsys.readouterr()


def test_gdf_command_with_a_target_effective_sample_size(labelled_si, tmp_path, capsys):
    frames = labelled_si(8)
    for a in frames[6:]:
        a.rattle(0.3, seed=2)
    ase.io.write(tmp_path / "si.xyz", frames)
    assert main(["gdf", str(tmp_path / "si.xyz"), "--sigma", "ess", "--target-ess", "0.6",
                 "--modifier", "linear", "--output", str(tmp_path / "out")]) == 0
    (element,) = json.loads((tmp_path / "out" / "gdf_summary.json").read_text())["elements"]
    assert 0.55 < element["effective_sample_size"] <= 0.6
    assert element["sigma"] > 0
    capsys.readouterr()

"""An n2p2 training folder (input.nn + input.data, in Bohr and Hartree) trains in gdfnn with
one command, its symmetry functions converted to Å."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
import yaml

from gdfnn import load_potential
from gdfnn.cli import main
from gdfnn.data import read_structures
from gdfnn.export import write_n2p2_potential
from gdfnn.export.n2p2 import read_n2p2_descriptor


@pytest.fixture
def n2p2_folder(tmp_path, random_potential, morse_frames):
    """What an n2p2 user has: input.nn (the functions and network of a 10-7 tanh potential,
    nnp-train's keywords) and input.data (16 Morse frames), lengths in Bohr, energies in
    Hartree; no weights or scaling."""
    from gdfnn.data.n2p2 import write_n2p2

    folder = tmp_path / "h2o_like"
    source = random_potential(elements=("Si",), activation="tanh")
    write_n2p2_potential(source, folder, length_unit="bohr", energy_unit="hartree")
    for name in ("scaling.data", "weights.014.data"):
        (folder / name).unlink()
    with open(folder / "input.nn", "a") as f:
        f.write("epochs 3\ntest_fraction 0.25\nrandom_seed 4\n")
    ase.io.write(tmp_path / "frames.xyz", morse_frames(16))
    write_n2p2(folder / "input.data", read_structures(tmp_path / "frames.xyz"),
               length_unit="bohr", energy_unit="hartree")
    return folder, source


def test_an_n2p2_folder_trains_with_one_command_in_its_units(n2p2_folder, tmp_path, capsys):
    folder, source = n2p2_folder
    assert main(["train", str(folder), "--length-unit", "bohr", "--energy-unit", "hartree",
                 "--output", str(tmp_path / "out")]) == 0
    said = capsys.readouterr().out
    assert ("hidden [10, 7] tanh; 3 epochs of Adam; force_coeff 0.1; test_rate 0.25; "
            "valid_rate 0.1: that share of the training structures held out") in said
    pot = load_potential(tmp_path / "out" / "potential.pt")
    sf = read_n2p2_descriptor(folder / "input.nn", "bohr")
    assert pot.descriptor == sf and pot.descriptor.n_features == source.descriptor.n_features
    for mine, theirs in zip(sf.functions["Si"], source.descriptor.functions["Si"], strict=True):
        # back in Å: the cutoff, shifts and widths written in Bohr
        assert mine.cutoff == pytest.approx(theirs.cutoff, rel=1e-9)
        assert mine.eta == pytest.approx(theirs.eta, rel=1e-9)
    resolved = yaml.safe_load((tmp_path / "out" / "config_resolved.yaml").read_text())
    assert (resolved["data"]["length_unit"], resolved["data"]["energy_unit"]) == ("bohr",
                                                                                "hartree")
    assert resolved["training"]["seed"] == 4 and resolved["data"]["test_rate"] == 0.25
    # the cutoff really used, in Å (not the unused defaults of the default set)
    assert resolved["descriptor"]["cutoff"] == pytest.approx(sf.cutoff, rel=1e-12)
    assert resolved["descriptor"]["cutoff_type"] == sf.cutoff_type
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["test"]["structures"] == 4 and metrics["epochs"] == 3


def test_an_n2p2_kalman_setup_trains_with_the_kalman_filter_as_set(n2p2_folder, tmp_path,
                                                                   capsys):
    """updater_type 1 and the folder's kalman_* keywords: gdfnn's Kalman filter with the same
    values; short_force_fraction sets the force updates; no use_short_forces: energies only."""
    folder, _ = n2p2_folder
    text = (folder / "input.nn").read_text().replace("use_short_forces", "")
    (folder / "input.nn").write_text(text + "updater_type 1\nkalman_type 0\nkalman_eta 0.02\n"
                                     "kalman_qtau 4.6\nupdate_strategy 1\nselection_mode 2\n"
                                     "short_force_fraction 0.01\nforce_weight 10.0\n"
                                     "rmse_threshold_trials 5\n")
    assert main(["train", str(folder), "--length-unit", "bohr", "--energy-unit", "hartree",
                 "--output", str(tmp_path / "out")]) == 0
    said = capsys.readouterr().out
    assert "3 epochs of the Kalman filter (standard, element blocks); force_coeff 0" in said
    kalman = yaml.safe_load((tmp_path / "out" / "config_resolved.yaml").read_text())[
        "training"]["kalman"]
    assert (kalman["eta"], kalman["qtau"], kalman["force_fraction"], kalman["force_weight"],
            kalman["threshold_trials"]) == (0.02, 4.6, 0.01, 10.0, 5)
    (folder / "input.nn").write_text(text + "updater_type 1\nselection_mode 1\n")
    assert main(["train", str(folder), "--length-unit", "bohr", "--output",
                 str(tmp_path / "sorted")]) == 2
    assert "selection_mode 1 is not supported by gdfnn's Kalman filter (supported: 0 random, 2 " \
           "threshold)" in capsys.readouterr().err


def test_the_split_nnp_train_wrote_into_the_folder_is_used_as_it_is(n2p2_folder, tmp_path,
                                                                     capsys):
    from gdfnn.data.n2p2 import read_n2p2, write_n2p2

    folder, _ = n2p2_folder
    frames = read_n2p2(folder / "input.data", length_unit="bohr", energy_unit="hartree")
    write_n2p2(folder / "train.data", frames[:13], length_unit="bohr", energy_unit="hartree")
    write_n2p2(folder / "test.data", frames[13:], length_unit="bohr", energy_unit="hartree")
    assert main(["train", str(folder), "--length-unit", "bohr", "--energy-unit", "hartree",
                 "--output", str(tmp_path / "out"), "--epochs", "1", "--valid-rate", "0"]) == 0
    assert ("nnp-train's split (test.data tested); no validation hold-out: the last epoch is "
            "kept") in capsys.readouterr().out
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["test"]["structures"] == 3 and metrics["train"]["structures"] == 13


def test_a_folder_read_in_the_wrong_length_unit_gets_one_warning_line(n2p2_folder):
    """The Morse frames written in Bohr: read in Bohr the shortest Si-Si distance is
    plausible, read as Å it is 1.89x longer than the covalent radii say."""
    from gdfnn.workflows.n2p2_setup import length_unit_warning

    folder, _ = n2p2_folder
    assert length_unit_warning(folder / "input.data", "bohr") is None
    said = length_unit_warning(folder / "input.data", "angstrom")
    assert said.startswith(f"{folder / 'input.data'}: read in angstrom, the shortest Si-Si "
                           "distance is ") and "(--length-unit)?" in said and "\n" not in said


def test_units_on_the_command_line_are_for_n2p2_folders_only(toy_config, tmp_path, capsys):
    config = toy_config()
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    assert main(["train", str(path), "--length-unit", "bohr"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "for an n2p2 training folder" in err[0]


def test_descriptor_n2p2_without_the_datas_element_is_refused(n2p2_folder, toy_config, capsys,
                                                               tmp_path):
    folder, _ = n2p2_folder
    config = toy_config(descriptor={"n2p2": str(folder / "input.nn")})
    values = config.model_dump(mode="json")
    values["descriptor"]["elements"] = None
    from ase.build import bulk
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    cu = bulk("Cu", cubic=True)
    cu.calc = SinglePointCalculator(cu, energy=-1.0, forces=np.zeros((4, 3)))
    write(tmp_path / "cu.xyz", [cu] * 4)
    values["data"]["train"] = [str(tmp_path / "cu.xyz")]
    path = tmp_path / "cu.yaml"
    path.write_text(yaml.safe_dump(values))
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no functions for Cu" in err[0]

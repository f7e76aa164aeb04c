import argparse
import re
import subprocess
import sys

import ase.io
import numpy as np
import pytest

from gdfnn.cli import build_parser, main

#: Every command, as the parser has it.
COMMANDS = sorted(next(a for a in build_parser()._actions
                       if isinstance(a, argparse._SubParsersAction)).choices)


def test_help_lists_every_command(capsys):
    assert len(COMMANDS) >= 15
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"    {name}" in out


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: gdfnn {name}")


def test_version_and_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "gdfnn", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith("gdfnn ")


def test_config_defaults(capsys):
    assert main(["config", "--defaults"]) == 0
    assert "force_coeff: 0.1" in capsys.readouterr().out


def test_dry_run_summary(labelled_si, tmp_path, capsys):
    path = tmp_path / "si.xyz"
    ase.io.write(path, labelled_si(3))
    assert main(["featurize", "--dry-run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "frames 3, atoms 24" in out and "groups bulk 3" in out and "eV/Å" in out


def test_dry_run_bad_input_is_one_line_without_traceback(labelled_si, tmp_path, capsys):
    frames = labelled_si(3)
    frames[2].calc.results["forces"][1, 2] = np.nan
    path = tmp_path / "nan.xyz"
    ase.io.write(path, frames)
    empty = tmp_path / "empty.xyz"
    empty.write_text("")
    assert main(["featurize", "--dry-run", str(path), str(empty)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"gdfnn: error: {path} frame 2: forces contain NaN or inf (at index (1, 2))",
                   f"gdfnn: error: {empty}: file is empty"]


def test_dry_run_of_unlabelled_frames_when_asked(tmp_path, capsys):
    """Start frames carry no labels: refused by default, checked with --unlabelled (a cell
    without volume still fails), and --unlabelled alone is refused."""
    from ase.build import bulk

    path, bad = tmp_path / "start.xyz", tmp_path / "bad.xyz"
    ase.io.write(path, [bulk("Si", "diamond", a=5.43, cubic=True)] * 2)
    flat = bulk("Si", "diamond", a=5.43, cubic=True)
    flat.cell[2] = 0.0  # periodic, no volume
    ase.io.write(bad, flat)
    assert main(["featurize", "--dry-run", str(path)]) == 2
    assert "frame 0: missing energy" in capsys.readouterr().err
    assert main(["featurize", "--dry-run", "--unlabelled", str(path)]) == 0
    assert "frames 2, atoms 16" in capsys.readouterr().out
    assert main(["featurize", "--dry-run", "--unlabelled", str(bad)]) == 2
    assert "bad.xyz frame 0: periodic cell has zero volume" in capsys.readouterr().err
    assert main(["featurize", "--unlabelled", str(path)]) == 2
    assert "--unlabelled goes with --dry-run" in capsys.readouterr().err


def test_unknown_element_option(labelled_si, tmp_path, capsys):
    path = tmp_path / "si.xyz"
    ase.io.write(path, labelled_si(1))
    assert main(["featurize", "--dry-run", "--elements", "Ni", str(path)]) == 2
    assert "element(s) Si not in" in capsys.readouterr().err


def test_dry_run_real_data(capsys):
    files = ["dataset:mlearn-si/train", "dataset:mlearn-si/test", "dataset:mlearn-ni/test",
             "dataset:snap-ni/vacancy"]
    assert main(["featurize", "--dry-run", *files]) == 0
    assert len(re.findall(r"frames \d+, atoms \d+", capsys.readouterr().out)) == len(files)


def test_featurize_writes_a_store(labelled_si, tmp_path, capsys):
    from gdfnn.data.store import FeatureStore

    path = tmp_path / "si.xyz"
    ase.io.write(path, labelled_si(3))
    assert main(["featurize", str(path), "--output", str(tmp_path / "out")]) == 0
    assert "3 structures, 24 atoms, elements Si, D = 26" in capsys.readouterr().out
    assert FeatureStore(tmp_path / "out" / "features.h5").n_structures == 3


def test_train_command_errors_are_one_line(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("training: {epohcs: 3}\n")
    assert main(["train", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "did you mean 'epochs'" in err

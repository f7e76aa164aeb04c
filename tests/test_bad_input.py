"""Every bad input gets one line and exit status 2, before any expensive work, and leaves
nothing behind: no output directory, no feature store, no temporary file.

Each row: a name, the files to write into the working directory (``{name: text}``, or frames
for ``.xyz`` files), the command line, and a fragment the error line must contain (the key or
the file it names)."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest
import yaml
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

from gdfnn.cli import main


def _frames(n=3, *, energy=-43.0, forces=True, nan_force=False, symbol="Si", cell=None):
    frames = []
    for k in range(n):
        atoms = bulk(symbol, "diamond", a=5.43, cubic=True)
        atoms.rattle(0.05, seed=k)
        if cell is not None:
            atoms.set_cell(cell)
        f = np.random.default_rng(k).normal(0, 0.3, (8, 3))
        if nan_force and k == 1:
            f[2, 1] = np.nan
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=f if forces else None)
        frames.append(atoms)
    return frames


def _config(**sections):
    values = {"data": {"train": ["si.xyz"], "valid_rate": 0.0},
              "descriptor": {"cutoff": 4.0},
              "training": {"epochs": 1},
              "output": {"directory": "out", "progress": False, "plots": False}}
    for section, update in sections.items():
        values.setdefault(section, {}).update(update)
    return yaml.safe_dump(values)


GOOD = {"si.xyz": _frames()}
CASES = [
    # ----- configs
    ("unknown key", {**GOOD, "c.yaml": _config(training={"epoch": 3})},
     ["train", "c.yaml"], "did you mean 'epochs'"),
    ("unknown section", {**GOOD, "c.yaml": _config(trainer={"epochs": 3})},
     ["train", "c.yaml"], "unknown key 'trainer'"),
    ("rates leave no training data",
     {**GOOD, "c.yaml": _config(data={"train": ["si.xyz"], "valid_rate": 0.6, "test_rate": 0.4})},
     ["train", "c.yaml"], "data: valid_rate + test_rate = 1"),
    ("unknown unit name", {**GOOD, "c.yaml": _config(data={"train": ["si.xyz"],
                                                           "length_unit": "furlong"})},
     ["train", "c.yaml"], "data.length_unit: unknown length unit 'furlong'"),
    ("negative unit factor", {**GOOD, "c.yaml": _config(data={"train": ["si.xyz"],
                                                              "energy_unit": -2})},
     ["train", "c.yaml"], "data.energy_unit"),
    ("unknown optimizer", {**GOOD, "c.yaml": _config(training={"optimizer": "Adamm"})},
     ["train", "c.yaml"], "training.optimizer: torch.optim has no optimizer 'Adamm'"),
    ("sigma mapping lacks an element (elements from the data)",
     {**GOOD, "c.yaml": _config(gdf={"enabled": True, "sigma": {"C": 0.02}})},
     ["train", "c.yaml"], "gdf.sigma has no value for element(s) Si"),
    ("sigma mapping lacks a configured element",
     {**GOOD, "c.yaml": _config(gdf={"sigma": {"Si": 0.02}}, descriptor={"elements": ["Si", "O"]})},
     ["train", "c.yaml"], "gdf.sigma has no value for element(s) O"),
    ("negative sigma", {**GOOD, "c.yaml": _config(gdf={"sigma": -0.1})},
     ["train", "c.yaml"], "gdf.sigma: sigma must be positive"),
    ("unknown modifier", {**GOOD, "c.yaml": _config(gdf={"modifier": "cubic"})},
     ["train", "c.yaml"], "gdf.modifier"),
    ("automatic c of the wrong modifier", {**GOOD, "c.yaml": _config(gdf={"c": "auto"})},
     ["train", "c.yaml"], "c: 'auto' is defined for modifier sigmoid-shifted"),
    ("unknown activation", {**GOOD, "c.yaml": _config(model={"activation": "swish"})},
     ["train", "c.yaml"], "model.activation"),
    ("no training data named", {"c.yaml": _config(data={"train": []})},
     ["train", "c.yaml"], "data.train names no data"),
    ("missing config file", {}, ["train", "none.yaml"], "none.yaml: no such config file"),
    ("config is not YAML", {"c.yaml": "data: [unclosed\n"}, ["train", "c.yaml"],
     "c.yaml: not valid YAML"),
    ("config is not a mapping", {"c.yaml": "- 1\n- 2\n"}, ["train", "c.yaml"],
     "c.yaml: expected a mapping"),
    ("params file per element missing",
     {**GOOD, "c.yaml": _config(descriptor={"params": {"Si": "params_Si"}})},
     ["train", "c.yaml"], "params_Si"),
    # ----- command lines
    ("override out of range", {**GOOD, "c.yaml": _config()},
     ["train", "c.yaml", "--epochs", "-5"], "training.epochs"),
    ("unknown option", {**GOOD, "c.yaml": _config()},
     ["train", "c.yaml", "--epoch", "5"], "unrecognized arguments: --epoch"),
    ("invalid choice", {**GOOD}, ["gdf", "si.xyz", "--modifier", "cubic"], "invalid choice"),
    ("negative sigma on the command line", {**GOOD}, ["gdf", "si.xyz", "--sigma", "-1"],
     "gdf.sigma: sigma must be positive"),
    ("md with a missing potential", {**GOOD}, ["md", "p.pt", "si.xyz"],
     "p.pt: no such potential"),
    ("missing potential", {**GOOD}, ["evaluate", "p.pt", "--data", "si.xyz"],
     "p.pt: no such potential"),
    ("not a potential", {**GOOD, "p.txt": "hello\n"}, ["export", "p.txt", "--to", "n2p2",
                                                         "--output", "exp"],
     "p.txt: not a potential.pt"),
    # ----- input files
    ("missing data file", {"c.yaml": _config()}, ["train", "c.yaml"], "si.xyz"),
    ("empty data file", {"si.xyz": "", "c.yaml": _config()}, ["train", "c.yaml"], "si.xyz"),
    ("NaN force", {"si.xyz": _frames(nan_force=True), "c.yaml": _config()},
     ["train", "c.yaml"], "si.xyz frame 1: forces contain NaN or inf"),
    ("missing forces", {"si.xyz": _frames(forces=False), "c.yaml": _config()},
     ["train", "c.yaml"], "si.xyz frame 0: missing forces"),
    ("element the config does not list",
     {**GOOD, "c.yaml": _config(descriptor={"elements": ["C"]})},
     ["train", "c.yaml"], "si.xyz frame 0: element(s) Si not in"),
    ("energies in the wrong unit", {"si.xyz": _frames(energy=-43000.0), "c.yaml": _config()},
     ["train", "c.yaml"], "wrong energy units"),
    ("bad frames in featurize", {"si.xyz": _frames(nan_force=True)},
     ["featurize", "si.xyz", "--output", "out"], "si.xyz frame 1: forces contain NaN"),
    ("a hidden layer without nodes", {**GOOD, "c.yaml": _config(model={"hidden": [0]})},
     ["train", "c.yaml"], "model.hidden: every hidden layer needs at least one node"),
    ("two equal cell vectors", {"si.xyz": _frames(cell=[[5.43, 0, 0], [5.43, 0, 0],
                                                         [0, 0, 5.43]])},
     ["featurize", "--dry-run", "si.xyz"], "si.xyz frame 0: periodic cell has zero volume"),
]


@pytest.mark.parametrize(("files", "argv", "fragment"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(tmp_path, monkeypatch, capsys, files,
                                                        argv, fragment):
    monkeypatch.chdir(tmp_path)
    for name, content in files.items():
        if isinstance(content, list):
            ase.io.write(tmp_path / name, content)
        else:
            (tmp_path / name).write_text(content)
    before = {p.name for p in tmp_path.iterdir()}
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(argv))
    assert exited.value.code == 2
    captured = capsys.readouterr()
    text = captured.out + captured.err
    errors = [line for line in text.splitlines() if line.startswith("gdfnn: error:")]
    assert len(errors) == 1, text
    assert fragment in errors[0], errors[0]
    assert "Traceback" not in text
    left = {p.name for p in tmp_path.iterdir()} - before
    assert not left, f"left behind: {left}"
    assert not list(tmp_path.rglob("*.h5")) and not list(tmp_path.rglob("*.tmp"))


def test_the_table_has_at_least_twenty_rows():
    assert len(CASES) >= 20

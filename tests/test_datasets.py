"""The data and potentials shipped in the package: complete, checked, named as dataset:NAME/PART
in configs and on the command line, and one clear line when a name or a file is wrong."""

from __future__ import annotations

import shutil

import pytest

from gdfnn import datasets
from gdfnn.cli import main
from gdfnn.config import config_from_dict
from gdfnn.data import load_sources
from gdfnn.errors import InputError

#: Files of a dataset folder that the catalogue does not checksum.
UNCHECKED = {"PROVENANCE"}


@pytest.mark.parametrize("name", datasets.names())
def test_every_entry_is_complete_with_its_licence_and_provenance(name):
    d = datasets.get(name)
    assert datasets.path(name) == d.folder  # every file checked against its SHA-256
    on_disk = {p.name for p in d.folder.iterdir()}
    assert on_disk == set(d.sha256) | UNCHECKED, "a file not in the catalogue, or one missing"
    assert set(d.parts.values()) <= set(d.sha256)
    assert (d.folder / "LICENSE").read_text().startswith("BSD 3-Clause License")
    assert "\n" not in d.provenance and "commit" in d.provenance and "(20" in d.provenance
    for part in d.parts:
        assert datasets.resolve(f"dataset:{name}/{part}").is_file()


def test_a_config_names_packaged_files_and_they_are_read(tmp_path):
    config = config_from_dict({"data": {"train": ["dataset:mlearn-si/test ::5"],
                                        "test": ["dataset:mlearn-{si,ni}/test"]}},
                              base_dir=tmp_path)
    assert config.data.train == ["dataset:mlearn-si/test ::5"]  # kept as written
    assert len(load_sources(config.data.train, progress=False)) == 5
    frames = load_sources(config.data.test, progress=False)
    assert len(frames) == 25 + 31
    assert {s.atoms.get_chemical_symbols()[0] for s in frames} == {"Si", "Ni"}


def test_defaults_say_how_to_name_a_packaged_file(capsys):
    assert main(["config", "--defaults"]) == 0
    assert "dataset:mlearn-si/train" in capsys.readouterr().out


def test_the_listing_names_every_entry_with_size_and_licence(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in datasets.names():
        line = next(row for row in out.splitlines() if row.startswith(name + " "))
        assert "KiB" in line and "BSD-3-Clause" in line
    assert main(["datasets", "mlearn-n2p2-si"]) == 0
    out = capsys.readouterr().out
    assert "Bohr and Hartree" in out and "10c427a" in out and "dataset:mlearn-n2p2-si/input" in out
    assert main(["datasets", "--path", "mlearn-si/train"]) == 0
    assert capsys.readouterr().out.strip() == str(datasets.path("mlearn-si", "train"))


@pytest.mark.parametrize(("argv", "message"), [
    (["datasets", "mlearn-cu"], "unknown dataset 'mlearn-cu'; known: mlearn-si, mlearn-ni, "),
    (["datasets", "--path", "mlearn-si/valid"], "dataset 'mlearn-si' has no part 'valid'; its "
     "parts: train, test, properties"),
    (["featurize", "--dry-run", "dataset:mlearn-xx/train"], "unknown dataset 'mlearn-xx'"),
])
def test_a_wrong_name_is_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


@pytest.fixture
def copied_root(tmp_path, monkeypatch):
    """The packaged folders copied to a temporary root that the module then reads."""
    root = tmp_path / "datasets"
    shutil.copytree(datasets.ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    monkeypatch.setattr(datasets, "ROOT", root)
    return root


def test_an_altered_file_is_refused_naming_it_and_how_to_reinstall(copied_root, capsys):
    target = copied_root / "mlearn-snap-si" / "Si.snapcoeff"
    text = target.read_text()
    target.write_text(text.replace("0.", "1.", 1))
    with pytest.raises(InputError, match=r"packaged file .*Si.snapcoeff of dataset "
                       r"'mlearn-snap-si' is altered \(SHA-256 .*\); reinstall gdfnn \(pip "
                       r"install --force-reinstall --no-deps gdfnn\)"):
        datasets.path("mlearn-snap-si")
    assert main(["datasets", "--path", "mlearn-snap-si"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    target.write_text(text)
    assert datasets.path("mlearn-snap-si") == copied_root / "mlearn-snap-si"


def test_a_missing_file_is_refused_naming_it(copied_root):
    (copied_root / "mlearn-si" / "si_mlearn_test.xyz").unlink()
    assert datasets.path("mlearn-si", "train").is_file()  # the other part is still usable
    with pytest.raises(InputError, match=r"si_mlearn_test.xyz of dataset 'mlearn-si' is "
                       "missing: the installation is incomplete; reinstall gdfnn"):
        load_sources(["dataset:mlearn-si/test"], progress=False)

"""gdfnn functions: symmetry functions chosen from the pool on training data."""

from __future__ import annotations

import pytest

from gdfnn.cli import main
from gdfnn.descriptors import SymmetryFunctions
from gdfnn.descriptors.selection import candidate_pool
from gdfnn.errors import InputError
from gdfnn.workflows.functions import choose_functions
from gdfnn.workflows.train import train


def test_functions_are_chosen_written_and_trained_on(toy_config, tmp_path):
    """gdfnn functions: COUNT functions of the pool per element, written as params files
    that a training reads, listed in the order chosen."""
    config = toy_config()
    chosen = choose_functions(config, 12, tmp_path / "sf", frames=5)
    assert chosen.frames == 5 and chosen.files == {"Si": tmp_path / "sf" / "params_Si"}
    read = SymmetryFunctions.from_simple_nn(chosen.files)
    pool = candidate_pool(["Si"], 4.0)
    assert read.functions["Si"] == chosen.functions.functions["Si"]
    assert len(read.functions["Si"]) == 12 and set(read.functions["Si"]) <= set(pool)
    table = (tmp_path / "sf" / "functions.md").read_text()
    assert table.count("| G") == 12
    pot = train(toy_config(descriptor={"params": {"Si": str(chosen.files["Si"])},
                                       "cutoff": 4.0}))
    assert pot.descriptor.n_features == {"Si": 12}


def test_bad_counts_are_one_line_errors(toy_config, tmp_path, capsys):
    toy_config()  # writes toy.xyz
    with pytest.raises(SystemExit) as exit_:
        main(["functions", str(tmp_path / "toy.xyz"), "--count", "0", "--output", "x"])
    assert exit_.value.code == 2 and "must be at least 1, got '0'" in capsys.readouterr().err
    assert main(["functions", str(tmp_path / "toy.xyz"), "--count", "200", "--output",
                 str(tmp_path / "x")]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    assert last == ("gdfnn: error: asked for 200 functions per element, but the pool has "
                    "104 (the most gdfnn functions chooses)")
    assert not (tmp_path / "x").exists()


def test_the_default_set_kept_and_added_to(toy_config, tmp_path):
    from gdfnn.descriptors.params import default_functions

    chosen = choose_functions(toy_config(), 30, tmp_path / "sf", frames=5, keep_default=True)
    functions = chosen.functions.functions["Si"]
    default = default_functions(["Si"], 4.0)
    assert len(functions) == 30 and set(default) <= set(functions)
    assert len(set(functions) - set(default)) == 4
    with pytest.raises(InputError, match="fewer than the 26 of the default set"):
        choose_functions(toy_config(), 20, tmp_path / "x", frames=5, keep_default=True)

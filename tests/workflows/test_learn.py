"""gdfnn learn on a tiny Cu preset labelled by EMT (conftest's ``learn_inputs``): the rounds
and their files, what each strategy picks from the same pool, the labellers (a calculator
class, a command through a fake scheduler, one that fails on one frame, one that times out)
and bad input. Kills and resumes are in tests/test_faults.py."""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections import Counter
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.calculators.emt import EMT

from gdfnn.cli import main
from gdfnn.config import LearnConfig, config_from_dict, load_config
from gdfnn.data.structure import Structure
from gdfnn.export import load_potential
from gdfnn.workflows.learn import learn
from gdfnn.workflows.learn.choose import choose, force_deviation
from gdfnn.workflows.learn.label import label_frames
from gdfnn.workflows.selection import select

#: A labeller class for the tests (importable by the label processes through PYTHONPATH):
#: EMT that raises on the frame whose first atom sits at $FLAKY_X (Å), counting its tries in
#: $FLAKY_LOG, and a calculator with energies only.
CALCULATORS = """
import os
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT


class FlakyEMT(EMT):
    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        if abs(atoms.positions[0, 0] - float(os.environ["FLAKY_X"])) < 1e-9:
            with open(os.environ["FLAKY_LOG"], "a") as log:
                log.write("try\\n")
            raise RuntimeError("SCF did not converge")
        super().calculate(atoms, properties, system_changes)


class EnergyOnly(Calculator):
    implemented_properties = ["energy"]
"""


def run(config: Path) -> dict:
    return learn(load_config(config))


def frames(path: Path) -> list:
    return ase.io.read(path, ":")


def test_two_rounds_leave_every_step_in_its_folder_and_the_labels_are_the_labellers(
        learn_inputs, tmp_path):
    config = learn_inputs(tmp_path)
    result = run(config)
    out = config.parent / "learn"
    assert [row["round"] for row in result["rounds"]] == [0, 1, 2]
    assert result["stop"] == "2 rounds done (learn.rounds)"
    for r in (1, 2):
        folder = out / f"round_{r:03d}"
        pool = frames(folder / "candidates.extxyz")
        picks = json.loads((folder / "selection.json").read_text())["picks"]
        assert len(picks) == 2 and len(set(picks)) == 2
        for k, (chosen, done) in enumerate(zip(frames(folder / "selected.extxyz"),
                                               frames(folder / "labelled.extxyz"),
                                               strict=True)):
            assert np.array_equal(chosen.positions, pool[picks[k]].positions)
            reference = done.copy()
            reference.calc = EMT()
            assert done.get_potential_energy() == pytest.approx(
                reference.get_potential_energy(), abs=1e-9)
            # extxyz keeps 8 decimals
            assert np.allclose(done.get_forces(), reference.get_forces(), atol=1e-8)
        explored = json.loads((folder / "explore.json").read_text())["trajectories"]
        assert [t["name"] for t in explored] == ["vacancy_T2000", "bulk_T2000"]
        assert sum(t["candidates"] for t in explored) == len(pool)
        # each round trains on every frame labelled so far
        model = load_potential(folder / "model" / "potential.pt")
        trained_on = model.metadata["config"]["data"]["train"]
        assert [Path(p).parent.name for p in trained_on] == [
            f"round_{k:03d}" for k in range(r + 1)]
    labelled = [len(frames(out / f"round_{r:03d}" / "labelled.extxyz")) for r in range(3)]
    rows = list(csv.DictReader(open(out / "learn.csv")))
    assert [int(row["labelled"]) for row in rows] == list(np.cumsum(labelled))
    assert all(float(row["force_rmse_defect"]) > 0 for row in rows)
    assert (out / "learn.png").stat().st_size > 0
    assert "Stopped: 2 rounds done" in (out / "learn.md").read_text()
    # the EMT test frames carry stress: the report shows its error (GPa)
    assert all(float(row["stress_rmse_gpa"]) > 0 for row in rows)
    assert "stress_rmse_gpa" in (out / "learn.md").read_text()
    # every label through the fake scheduler ran once
    calls = Counter(p.parent for p in out.rglob("label/*/calls") for _ in p.read_text().split())
    assert sorted(calls.values()) == [1] * sum(labelled)


def test_random_and_ensemble_pick_from_the_pool_coverage_saw(learn_inputs, tmp_path):
    # trust levels this wide, as the tiny models disagree by more than DP-GEN's 0.15 eV/Å
    coverage, rand, ensemble = (learn_inputs(tmp_path, f"{s}.yaml", strategy=s, rounds=1,
                                             models=2, trust_lo=0.01, trust_hi=50.0)
                                for s in ("coverage", "random", "ensemble"))
    for config in (coverage, rand, ensemble):
        run(config)
    root = coverage.parent
    pools = [frames(root / s / "round_001" / "candidates.extxyz")
             for s in ("coverage", "random", "ensemble")]
    assert len(pools[0]) >= 2
    for pool in pools[1:]:
        assert len(pool) == len(pools[0])
        for a, b in zip(pool, pools[0], strict=True):
            assert np.array_equal(a.positions, b.positions)
    models = [load_potential(root / "ensemble" / "round_000" / d / "potential.pt")
              for d in ("model", "model_1")]
    record = json.loads((root / "ensemble" / "round_001" / "selection.json").read_text())
    assert record["deviation"] == pytest.approx(force_deviation(models, pools[2]).tolist())
    inside = [k for k, d in enumerate(record["deviation"]) if 0.01 <= d < 50.0]
    assert set(record["picks"]) <= set(inside)
    assert len(record["picks"]) == min(2, len(inside)) > 0
    assert (root / "ensemble" / "round_001" / "model_1" / "potential.pt").is_file()
    for r in ("round_000", "round_001"):  # a round's models share one feature store
        round_ = root / "ensemble" / r
        assert (round_ / "features.h5").is_file()
        assert not any((round_ / d / "features.h5").exists() for d in ("model", "model_1"))


def test_the_strategies_choose_as_they_say(learn_inputs, tmp_path):
    config = learn_inputs(tmp_path, rounds=1)
    run(config)
    out = config.parent / "learn"
    potential = load_potential(out / "round_000" / "model" / "potential.pt")
    pool = frames(config.parent / "test.xyz") + frames(
        out / "round_001" / "candidates.extxyz")
    rng = np.random.default_rng([0, 1])
    covered = choose("coverage", pool, 3, [potential], rng)
    assert covered.picks == [p.frame for p in select(potential, [Structure(a) for a in pool], 3)]
    drawn = choose("random", pool, 3, [potential], np.random.default_rng([0, 1]))
    assert drawn.picks == np.random.default_rng([0, 1]).choice(len(pool), 3,
                                                               replace=False).tolist()
    assert len(choose("random", pool, 99, [potential], rng).picks) == len(pool)
    # the deviation of one model against itself is zero: nothing inside the trust levels
    alone = choose("ensemble", pool, 3, [potential, potential], rng)
    assert alone.picks == [] and np.allclose(alone.deviation, 0)


def test_a_labeller_class_that_raises_on_one_frame_is_tried_twice_recorded_and_skipped(
        learn_inputs, tmp_path, monkeypatch):
    root = learn_inputs(tmp_path).parent
    (root / "flaky_calculators.py").write_text(CALCULATORS)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", str(root))
    bad = frames(root / "start.xyz")[2]
    monkeypatch.setenv("FLAKY_X", repr(float(bad.positions[0, 0])))
    monkeypatch.setenv("FLAKY_LOG", str(root / "tries"))
    config = learn_inputs(tmp_path, "flaky.yaml", labeller="flaky_calculators.FlakyEMT",
                          rounds=1)
    result = run(config)
    out = root / "flaky" / "round_000"
    assert json.loads((out / "failed.json").read_text())[0]["frame"] == 2
    assert "SCF did not converge" in json.loads((out / "failed.json").read_text())[0]["error"]
    assert (root / "tries").read_text().split() == ["try", "try"]
    assert len(frames(out / "labelled.extxyz")) == 5
    assert result["rounds"][0]["labelled"] == 5 and len(result["rounds"]) == 2


def test_a_label_past_its_timeout_is_killed_and_recorded(tmp_path):
    learn_ = LearnConfig(structures=["x"], label_command="sleep 30; cp {input} {output}",
                         label_timeout=0.3)
    from ase.build import bulk

    labelled, failures = label_frames([bulk("Cu", cubic=True)], tmp_path / "label", learn_)
    assert labelled == [] and failures == [{"frame": 0, "error": "timed out after 0.3 s"}]
    assert json.loads((tmp_path / "label" / "0000" / "failed.json").read_text())["attempts"] == 2


def test_a_rerun_with_more_rounds_goes_on_and_labels_nothing_twice(learn_inputs, tmp_path):
    config = learn_inputs(tmp_path, rounds=1)
    run(config)
    out = config.parent / "learn"
    before = (out / "round_001" / "selection.json").read_text()
    assert main(["learn", str(config), "--rounds", "2"]) == 0
    assert (out / "round_001" / "selection.json").read_text() == before
    assert (out / "round_002" / "round.json").is_file()
    calls = [len(p.read_text().split()) for p in out.rglob("label/*/calls")]
    assert calls == [1] * len(calls) == [1] * (6 + 2 + 2)


BAD_LEARN = [
    ({"labeller": "no.such.Calculator"}, "cannot import no.such"),
    ({"labeller": "ase.calculators.emt.NoSuch"}, "has no calculator 'NoSuch'"),
    ({"labeller": "flaky_calculators.EnergyOnly"}, "gives no forces"),
    ({"label_command": "run_dft {output}"}, "label_command needs {input}"),
    ({"structures": ["silver.xyz"]}, "element(s) Ag in no training frame"),
    ({"ensemble": "nvx"}, "learn.ensemble 'nvx'"),
    ({"start": ["no_such_start.xyz"]}, "no_such_start.xyz"),
]


@pytest.mark.parametrize(("learn_values", "message"), BAD_LEARN)
def test_bad_learn_input_is_one_line_before_any_work(learn_inputs, tmp_path, monkeypatch,
                                                     capsys, learn_values, message):
    root = learn_inputs(tmp_path).parent
    (root / "flaky_calculators.py").write_text(CALCULATORS)
    monkeypatch.syspath_prepend(str(root))
    from ase.build import bulk

    ase.io.write(root / "silver.xyz", bulk("Ag", cubic=True))
    config = learn_inputs(tmp_path, "bad.yaml", **learn_values)
    assert main(["learn", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (root / "bad").exists()


def test_a_labeller_that_writes_no_forces_stops_the_run_with_one_line(learn_inputs, tmp_path,
                                                                      capsys):
    root = learn_inputs(tmp_path).parent
    (root / "energy_only.py").write_text(
        "import sys, ase.io\nfrom ase.calculators.singlepoint import SinglePointCalculator\n"
        "a = ase.io.read(sys.argv[1])\na.calc = SinglePointCalculator(a, energy=1.0)\n"
        "ase.io.write(sys.argv[2], a, format='extxyz')\n")
    config = learn_inputs(tmp_path, "noforces.yaml", label_command=f"{sys.executable} "
                          f"{root / 'energy_only.py'} {{input}} {{output}}")
    assert main(["learn", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "wrote no forces" in err[0], err
    assert not (root / "noforces" / "round_000" / "labelled.extxyz").exists()


def test_start_frames_are_read_as_data_entries_a_slice_labels_only_its_frames(learn_inputs,
                                                                          tmp_path, caplog):
    """``learn.start: ["start.xyz ::2"]`` labels frames 0, 2 and 4 of the six, no other; the
    round's fresh training says nothing of a missing checkpoint (it is no resume)."""
    config = learn_inputs(tmp_path, "sliced.yaml", start=["start.xyz ::2"], label_budget=3)
    with caplog.at_level(logging.INFO, logger="gdfnn"):
        result = run(config)
    assert not [r for r in caplog.records if "no checkpoint" in r.getMessage()]
    out = config.parent / "sliced" / "round_000"
    labelled = frames(out / "labelled.extxyz")
    start = frames(config.parent / "start.xyz")
    assert len(labelled) == 3 and result["rounds"][0]["labelled"] == 3
    for got, want in zip(labelled, start[::2], strict=True):
        np.testing.assert_allclose(got.positions, want.positions)
    assert "label budget spent" in result["stop"]


def test_the_learn_section_is_documented_and_relative_paths_resolve(tmp_path):
    config = config_from_dict({"learn": {"structures": ["a.xyz"], "labeller": "emt"}},
                              base_dir=tmp_path)
    assert config.learn.structures == [str(tmp_path / "a.xyz")]
    assert all(field.description for field in LearnConfig.model_fields.values())


@pytest.mark.parametrize(("learn_values", "stop"), [
    ({"label_budget": 6}, "label budget spent: 6 labelled"),
    ({"target_force_rmse": 50.0}, "(learn.target_force_rmse)"),
])
def test_a_budget_or_an_error_target_stops_before_the_next_round(learn_inputs, tmp_path,
                                                                learn_values, stop):
    result = run(learn_inputs(tmp_path, **learn_values))
    assert len(result["rounds"]) == 1 and stop in result["stop"]
    assert not (tmp_path / "learn" / "round_001").exists()


def test_an_exploration_that_stays_covered_stops_the_loop(learn_inputs, tmp_path, monkeypatch):
    from gdfnn.workflows.learn import loop

    explored = loop._explore

    def covered(*args):
        pool, _ = explored(*args)
        return pool, 0

    monkeypatch.setattr(loop, "_explore", covered)
    result = run(learn_inputs(tmp_path))
    assert result["stop"] == ("exploration found no frame outside the training data (none "
                              "with more atoms outside by the coverage verdict than chance "
                              "allows)")
    assert len(result["rounds"]) == 2 and result["rounds"][1]["picked"] == 0
    assert not (tmp_path / "learn" / "round_001" / "selection.json").exists()


def test_label_workers_label_frames_at_once(tmp_path):
    """Each label waits (up to 20 s) until both have started, and marks the folder
    ``alone`` if it waited in vain: with one worker the first label would."""
    from ase.build import bulk

    (tmp_path / "emt.py").write_text(
        "import sys, ase.io\nfrom ase.calculators.emt import EMT\na = ase.io.read(sys.argv[1])"
        "\na.calc = EMT()\na.get_forces()\nase.io.write(sys.argv[2], a, format='extxyz')\n")
    wait = ("touch started; n=0; while [ $(ls ../*/started | wc -l) -lt 2 ]; do "
            "[ $n -ge 200 ] && touch alone && break; sleep 0.1; n=$((n+1)); done; "
            f"{sys.executable} {tmp_path / 'emt.py'} {{input}} {{output}}")
    learn_ = LearnConfig(structures=["x"], label_command=wait, label_workers=2,
                         label_timeout=60)
    labelled, failures = label_frames([bulk("Cu", cubic=True), bulk("Cu", cubic=True) * 2],
                                      tmp_path / "label", learn_)
    assert len(labelled) == 2 and failures == []
    assert not list((tmp_path / "label").glob("*/alone"))


def test_the_trajectories_cover_structures_temperatures_and_pressures():
    from ase.build import bulk

    from gdfnn.workflows.learn.explore import md_settings, trajectory_plan

    learn_ = LearnConfig(structures=["x"], labeller="emt", temperatures=[300, 900],
                         pressures=[0, 1.5])
    plan = trajectory_plan([("a", bulk("Cu")), ("b", bulk("Cu"))], learn_)
    assert [p[0] for p in plan] == [f"{s}_T{t}_P{p:g}" for s in "ab" for t in (300, 900)
                                    for p in (0, 1.5)]
    assert [p[4] for p in plan] == [True, False, False, False] * 2  # step 0 once a structure
    npt = md_settings(learn_, 900, 1.5, seed=1)
    assert (npt.ensemble, npt.pressure, npt.coverage_save) == ("npt-berendsen", 1.5, "floor")
    assert md_settings(learn_, 900, None, seed=1).ensemble == "langevin"


def test_npt_exploration_with_a_potential_not_trained_on_stress_is_one_line(learn_inputs,
                                                                             tmp_path):
    """Trained without stress (``data.use_stress: false``, though EMT labels carry it),
    round 0's potential would explore at learn.pressures with unfitted pressures: one line
    before exploring, unless allowed; a potential trained on stress explores."""
    import yaml

    from gdfnn.errors import ConfigError
    from gdfnn.workflows.learn.loop import _check_stress

    config = learn_inputs(tmp_path, "npt.yaml", pressures=[0.0], rounds=1)
    values = yaml.safe_load(config.read_text())
    values["data"]["use_stress"] = False
    config.write_text(yaml.safe_dump(values))
    with pytest.raises(ConfigError, match=r"learn.pressures: .*round_000/model was not "
                                          r"trained on stress.*npt_without_stress: true"):
        run(config)
    assert not (tmp_path / "npt" / "round_001" / "explore").exists()
    previous = tmp_path / "npt" / "round_000"
    allowed = load_config(config)
    allowed.learn.npt_without_stress = True
    _check_stress(allowed, previous)  # told to: no refusal
    metrics = previous / "model" / "metrics.json"
    metrics.write_text(json.dumps({**json.loads(metrics.read_text()),
                                   "trained_on_stress": True}))
    _check_stress(load_config(config), previous)

"""The experiments registry: every entry resolves to a module with run, report and table and the
presets the command line offers; the seeds loop writes one directory per seed and the mean ±
std over them; an option an experiment does not take is one clear error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from gdfnn.errors import InputError
from gdfnn.experiments.registry import EXPERIMENTS, PRESETS, Experiment, get, run_seeds


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_entry_resolves_to_a_runnable_module(name):
    experiment = get(name)
    module = experiment.module
    assert callable(getattr(module, experiment.function))
    assert callable(module.report) and callable(module.table)
    if "preset" in experiment.options:
        assert set(module.PRESETS) == set(PRESETS)


def test_an_unknown_name_or_option_is_refused():
    with pytest.raises(InputError, match="unknown experiment 'si-vacancies': si-vacancy, "):
        get("si-vacancies")
    with pytest.raises(InputError, match=r"si-mlearn does not take --reference \(it takes "
                       r"--data, --epochs\)"):
        get("si-mlearn").run("unused", seed=0, reference="sw-si")


@dataclass(frozen=True)
class Counting(Experiment):
    """An experiment whose module is made here: its result is its seed plus the option."""

    @property
    def module(self):
        def run(output, *, seed, preset):
            output.mkdir(parents=True, exist_ok=True)
            (output / "results.json").write_text("{}")
            return {"value": seed + {"tiny": 1.0, "quick": 10.0}[preset]}

        return SimpleNamespace(run=run, report=lambda r: f"value {r['value']}",
                               table=lambda r: (["row", "value"], [["a", r["value"]]]))


def test_the_seeds_loop_runs_each_seed_in_its_folder_and_writes_mean_and_std(tmp_path):
    echoed = []
    runs = run_seeds(Counting("counting", "unused", "run", "test", options=("preset",)),
                     tmp_path, seed=3, seeds=3, echo=echoed.append, preset="tiny")
    assert [r["value"] for r in runs] == [4.0, 5.0, 6.0]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["seed3", "seed4",
                                                                         "seed5"]
    assert json.loads((tmp_path / "results_seeds.json").read_text()) == {
        "a": {"value": [5.0, 1.0]}}
    assert echoed[:3] == ["value 4.0", "value 5.0", "value 6.0"]
    assert "mean ± std over seeds 3..5" in echoed[3] and "| a | 5 ± 1 |" in echoed[3]
    single = tmp_path / "single"
    run_seeds(Counting("counting", "unused", "run", "test", options=("preset",)), single,
              seed=0, seeds=1, echo=echoed.append, preset="quick")
    assert single.is_dir() and not (single / "seed0").exists()
    assert not (single / "results_seeds.json").exists()

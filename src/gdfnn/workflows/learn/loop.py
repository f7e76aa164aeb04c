"""The rounds of ``gdfnn learn``, and where each step leaves its result.

``output.directory/``
    ``round_000/``: ``label/`` (the ``learn.start`` frames labelled), ``labelled.extxyz``,
    ``model/`` (and ``model_1/``... for the ensemble strategy): the trainings, ``round.json``.
    ``round_NNN/``: ``explore/`` (one MD folder per trajectory), ``candidates.extxyz``,
    ``explore.json``; ``selection.json``, ``selected.extxyz``; ``label/``,
    ``labelled.extxyz``, ``failed.json``; ``model*/``; ``round.json`` (the round's row).
    ``learn.csv``, ``learn.md``, ``learn.png``, ``learn.json`` (rows and why it stopped).

Each step's last file says it is done; a rerun of the same config (after a kill, or with
more ``learn.rounds``) goes on at the first step without it, labelling nothing twice.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import ase
import ase.io
import numpy as np

from gdfnn.config import Config, config_from_dict, load_config
from gdfnn.data.sources import entries_digest, load_sources, resolve_entries
from gdfnn.errors import ConfigError, InputError
from gdfnn.export import load_potential
from gdfnn.fileio import atomic_write, folder_lock
from gdfnn.model.potential import Potential
from gdfnn.training.trainer import CHECKPOINT
from gdfnn.workflows import run_inputs
from gdfnn.workflows.lammps import build_plugin
from gdfnn.workflows.learn.choose import choose
from gdfnn.workflows.learn.explore import explore, start_structures
from gdfnn.workflows.learn.label import label_frames
from gdfnn.workflows.learn.report import round_row, test_frames, write_report
from gdfnn.workflows.md import ENSEMBLES
from gdfnn.workflows.train import METRICS_FILE, POTENTIAL_FILE, train

log = logging.getLogger("gdfnn")
ROUND_FILE, LABELLED_FILE = "round.json", "labelled.extxyz"
#: Settings a continued learn run may change: how far it goes and how it labels.
CONTINUABLE = ("learn.rounds", "learn.label_budget", "learn.target_force_rmse",
               "learn.label_workers", "learn.label_timeout", "training.device")


def learn(config: Config | str | os.PathLike) -> dict:
    """Run ``gdfnn learn`` as ``config`` says (see the module for the files); returns the
    rows of the rounds and why it stopped. Bad input stops before any work with one
    :class:`InputError` / :class:`ConfigError` line."""
    if not isinstance(config, Config):
        config = load_config(config)
    check(config)
    out = Path(config.output.directory)
    with folder_lock(out):
        inputs = learn_inputs(config)
        before = run_inputs.read(out)
        changed = [] if before is None else run_inputs.changes(before, inputs, CONTINUABLE)
        if changed:
            raise ConfigError(f"{out}: a learn run with other inputs is there: "
                              f"{'; '.join(changed)} (choose another output.directory)")
        starts = start_structures(config.learn.structures)
        _check_elements(starts, config)
        plugin = _plugin(config)
        run_inputs.write(out, inputs)
        return _rounds(config, out, starts, plugin)


def check(config: Config) -> None:
    """What can be checked before any work: something to learn from, an ensemble MD knows,
    validation to train to convergence on."""
    learn_ = config.learn
    if not learn_.structures:
        raise ConfigError("config: learn.structures names no structure to explore from")
    if not (config.data.train or learn_.start):
        raise ConfigError("config: gdfnn learn needs labelled frames (data.train) or frames "
                          "to label first (learn.start)")
    if learn_.labeller is None and learn_.label_command is None:
        raise ConfigError("config: learn: give labeller or label_command (one of them)")
    if learn_.ensemble not in ENSEMBLES:
        raise ConfigError(f"config: learn.ensemble {learn_.ensemble!r}: one of "
                          f"{', '.join(ENSEMBLES)}")
    if not config.training.patience or config.data.valid_rate <= 0:
        raise ConfigError("config: gdfnn learn trains every round to convergence: set "
                          "training.patience (validations without improvement before it "
                          "stops, e.g. 10) and data.valid_rate > 0")
    resolve_entries(learn_.start)  # every start entry names files (one line where not)


def _frames(config: Config, entries: list[str]) -> list[ase.Atoms]:
    """The frames ``entries`` name, read as the data layer reads ``data.train`` (slices,
    ``dataset:`` names, n2p2 files, structure lists; the data's units), without labels."""
    return [s.atoms for s in load_sources(entries, length_unit=config.data.length_unit,
                                          energy_unit=config.data.energy_unit, progress=False)]


def learn_inputs(config: Config) -> dict:
    """The run's inputs (:mod:`gdfnn.workflows.run_inputs`) and the digests of the files
    the learn section reads."""
    inputs = run_inputs.run_inputs(config)
    inputs["learn.structures"] = entries_digest(config.learn.structures)
    inputs["learn.start"] = entries_digest(config.learn.start) if config.learn.start else None
    return inputs


def _check_elements(starts: list[tuple[str, ase.Atoms]], config: Config) -> None:
    """Every element of the start structures must be among the training frames' (or the
    configured descriptor's): the potential could not describe another."""
    known = set(config.descriptor.elements or [])
    if not known:
        known = {s for a in _frames(config, [*config.data.train, *config.learn.start])
                 for s in a.get_chemical_symbols()}
    for name, atoms in starts:
        missing = sorted(set(atoms.get_chemical_symbols()) - known)
        if missing:
            raise InputError(f"learn.structures: {name}: element(s) {', '.join(missing)} in no "
                             f"training frame (data.train, learn.start): the potential could "
                             "not describe it")


def _plugin(config: Config) -> Path | None:
    return build_plugin() if config.learn.engine == "lammps" else None


def _rounds(config: Config, out: Path, starts: list[tuple[str, ase.Atoms]],
            plugin: Path | None) -> dict:
    tests = test_frames(config)
    rows, stop = [], None
    models = _round_zero(config, out)
    rows.append(_row(out / _name(0), models[0], tests, 0))
    for r in range(1, config.learn.rounds + 1):
        stop = _stop(config, rows)
        if stop:
            break
        models, row, stop = _round(config, out, r, models, starts, plugin, tests)
        rows.append(row)
        write_report(out, rows, stop)
        if stop:
            break
    else:
        stop = _stop(config, rows) or f"{config.learn.rounds} rounds done (learn.rounds)"
    write_report(out, rows, stop)
    log.info("gdfnn learn stopped: %s", stop)
    return {"rounds": rows, "stop": stop}


def _name(r: int) -> str:
    return f"round_{r:03d}"


def _stop(config: Config, rows: list[dict]) -> str | None:
    """Why the loop stops before another round (a label budget spent, an error target met),
    or None."""
    learn_, last = config.learn, rows[-1]
    if learn_.label_budget is not None and last["labelled"] >= learn_.label_budget:
        return f"label budget spent: {last['labelled']} labelled (learn.label_budget)"
    target = learn_.target_force_rmse
    if target is not None and last.get("force_rmse", np.inf) <= target:
        return (f"test force RMSE {last['force_rmse']:.4f} eV/Å <= "
                f"{target} (learn.target_force_rmse)")
    return None


def _round_zero(config: Config, out: Path) -> list[Potential]:
    folder = out / _name(0)
    if config.learn.start and not (folder / LABELLED_FILE).is_file():
        frames = _frames(config, config.learn.start)
        labelled, failures = label_frames(frames, folder / "label", config.learn)
        _write_frames(folder / LABELLED_FILE, labelled, folder / "failed.json", failures)
    return _train(config, out, 0)


def _round(config: Config, out: Path, r: int, models: list[Potential],
           starts: list[tuple[str, ase.Atoms]], plugin: Path | None, tests
           ) -> tuple[list[Potential], dict, str | None]:
    """Explore, select, label, train: the new models, the round's row, why the loop stops
    after it (or None)."""
    folder = out / _name(r)
    if (folder / ROUND_FILE).is_file():
        row = json.loads((folder / ROUND_FILE).read_text())
        if row.get("stop"):  # the round stopped the loop before training
            return models, row, row["stop"]
        return _load_models(config, folder), row, None
    seed = config.training.seed
    _check_stress(config, out / _name(r - 1))
    pool, uncovered = _explore(config, folder, models[0], starts, plugin, seed * 100 + r)
    if uncovered == 0:
        return models, *_stopped(folder, r, len(pool), uncovered, 0, 0, "exploration found "
                                 "no frame outside the training data (none with more atoms "
                                 "outside by the coverage verdict than chance allows)")
    if not (folder / LABELLED_FILE).is_file():
        chosen = _select(config, folder, pool, models, np.random.default_rng([seed, r]))
        labelled, failures = label_frames(chosen, folder / "label", config.learn)
        _write_frames(folder / LABELLED_FILE, labelled, folder / "failed.json", failures)
    picked = len(json.loads((folder / "selection.json").read_text())["picks"])
    failed = len(json.loads((folder / "failed.json").read_text()))
    if picked - failed == 0:
        return models, *_stopped(folder, r, len(pool), uncovered, picked, failed,
                                 f"{config.learn.strategy} selection found nothing to label")
    models = _train(config, out, r)
    row = _row(folder, models[0], tests, r) | {
        "candidates": len(pool), "uncovered": uncovered,
        "uncovered_fraction": round(uncovered / len(pool), 4), "picked": picked,
        "failed": failed}
    return models, _finish(folder, row), None


def _check_stress(config: Config, previous: Path) -> None:
    """NPT exploration (``learn.pressures``) needs the exploring potential (the previous
    round's first model) trained on stress, unless ``learn.npt_without_stress``: one line."""
    learn_ = config.learn
    if not learn_.pressures or learn_.npt_without_stress:
        return
    metrics = _model_folders(config, previous)[0] / METRICS_FILE
    if not json.loads(metrics.read_text()).get("trained_on_stress"):
        raise ConfigError(f"learn.pressures: {metrics.parent} was not trained on stress, so "
                          "the pressures of NPT exploration are not fitted (it needs every "
                          "labelled frame with stress and a 3-D periodic cell, or "
                          "data.use_stress: true); set learn.npt_without_stress: true to "
                          "explore anyway")


def _stopped(folder: Path, r: int, candidates: int, uncovered: int, picked: int, failed: int,
             stop: str) -> tuple[dict, str]:
    """The row of a round that stops the loop before training (written), and why."""
    row = {"round": r, "labelled": _labelled(folder.parent, r - 1), "candidates": candidates,
           "uncovered": uncovered, "picked": picked, "failed": failed, "stop": stop}
    return _finish(folder, row), stop


def _explore(config: Config, folder: Path, potential: Potential,
             starts: list[tuple[str, ase.Atoms]], plugin: Path | None, seed: int
             ) -> tuple[list[ase.Atoms], int]:
    """The round's candidate pool and how many trajectories left the training data."""
    if not (folder / "explore.json").is_file():
        frames, trajectories = explore(potential, starts, config.learn, folder / "explore",
                                       seed, plugin)
        with atomic_write(folder / "candidates.extxyz") as f:
            ase.io.write(f, frames, format="extxyz")
        with atomic_write(folder / "explore.json") as f:
            json.dump({"trajectories": [t.__dict__ for t in trajectories]}, f, indent=1)
    trajectories = json.loads((folder / "explore.json").read_text())["trajectories"]
    pool = ase.io.read(folder / "candidates.extxyz", ":") if any(
        t["candidates"] for t in trajectories) else []
    return pool, sum(t["uncovered"] for t in trajectories)


def _select(config: Config, folder: Path, pool: list[ase.Atoms], models: list[Potential],
            rng: np.random.Generator) -> list[ase.Atoms]:
    """The frames to label (``selection.json`` and ``selected.extxyz`` record them)."""
    if not (folder / "selection.json").is_file():
        learn_ = config.learn
        choice = choose(learn_.strategy, pool, learn_.pick, models, rng,
                        (learn_.trust_lo, learn_.trust_hi))
        chosen = [pool[k] for k in choice.picks]
        with atomic_write(folder / "selected.extxyz") as f:
            ase.io.write(f, chosen, format="extxyz")
        record = {"strategy": learn_.strategy, "pool": len(pool), "picks": choice.picks}
        if choice.deviation is not None:
            record["deviation"] = choice.deviation.tolist()
        with atomic_write(folder / "selection.json") as f:
            json.dump(record, f)
    picks = json.loads((folder / "selection.json").read_text())["picks"]
    return [pool[k] for k in picks]


def _write_frames(path: Path, frames: list[ase.Atoms], failed_path: Path,
                  failures: list[dict]) -> None:
    with atomic_write(failed_path) as f:
        json.dump(failures, f)
    with atomic_write(path) as f:  # last: the step's mark of done
        ase.io.write(f, frames, format="extxyz")


def _labelled(out: Path, r: int) -> int:
    """Frames labelled by gdfnn learn in rounds 0 to ``r``."""
    return sum(_count_frames(p) for p in _training_files(out, r))


def _count_frames(path: str | os.PathLike) -> int:
    """The frames of an extxyz file, from its atom-count lines alone (each frame: a count n,
    a comment line, n atom lines; nothing else is parsed)."""
    frames = 0
    with open(path) as f:
        for line in f:
            if line.strip():
                for _ in range(int(line) + 1):
                    next(f)
                frames += 1
    return frames


def _training_files(out: Path, r: int) -> list[str]:
    """The labelled frames of rounds 0 to ``r`` (files with at least one frame)."""
    return [str(p) for k in range(r + 1)
            if (p := out / _name(k) / LABELLED_FILE).is_file() and p.stat().st_size]


def _model_folders(config: Config, folder: Path) -> list[Path]:
    n = config.learn.models if config.learn.strategy == "ensemble" else 1
    return [folder / ("model" if k == 0 else f"model_{k}") for k in range(n)]


def _train(config: Config, out: Path, r: int) -> list[Potential]:
    """The round's model(s), trained to convergence on every frame labelled so far (a
    killed training continues from its checkpoint; a fresh one starts without the resume
    note, which would say that a checkpoint is missing). The models of a round share one
    feature store in the round's folder (featurised once; ``descriptor.store`` where the
    config names one); a model trained now is the one its training returned, one trained
    before is read from its folder."""
    folder = out / _name(r)
    files = _training_files(out, r)
    models = []
    for k, directory in enumerate(_model_folders(config, folder)):
        if (directory / METRICS_FILE).is_file():
            models.append(load_potential(directory / POTENTIAL_FILE))
            continue
        values = config.model_dump(mode="json")
        values.pop("learn")
        values["data"]["train"] = [*config.data.train, *files]
        values["descriptor"]["store"] = config.descriptor.store or str(folder / "features.h5")
        values["output"]["directory"] = str(directory)
        values["training"]["seed"] = config.training.seed + k
        if config.learn.warm_start and r > 0:  # each model from its own predecessor
            values["training"]["init_from"] = str(out / _name(r - 1) / directory.name /
                                                  POTENTIAL_FILE)
        models.append(train(config_from_dict(values, source=f"{directory} (gdfnn learn)"),
                            resume=(directory / CHECKPOINT).is_file()))
    return models


def _load_models(config: Config, folder: Path) -> list[Potential]:
    return [load_potential(d / POTENTIAL_FILE) for d in _model_folders(config, folder)]


def _row(folder: Path, potential: Potential, tests, r: int) -> dict:
    out = folder.parent
    return {"round": r, "labelled": _labelled(out, r), **round_row(potential, tests)}


def _finish(folder: Path, row: dict) -> dict:
    with atomic_write(folder / ROUND_FILE) as f:
        json.dump(row, f)
    return row


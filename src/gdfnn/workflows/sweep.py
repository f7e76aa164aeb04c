"""``gdfnn sweep``: many trainings over a grid of settings and seeds, one table.

The grid is the cartesian product of ``--set key=v1,v2`` values times the seeds (any config
key; ``gdf.enabled=false`` is the NNP-c row). The data are featurised once for the whole
sweep (one store per distinct descriptor), the GDF once per distinct setting (a shared
cache), and each run only trains, as an independent ``gdfnn train`` process (``jobs`` at a
time, the cores split between them). A killed sweep resumes: finished runs are skipped.

Every run is evaluated on the same test atoms with the same atom classes: the rarest 10 %
and the densest 50 % of the training density (test-atom rho against the training atoms,
thresholds at the 10th and 50th percentile of the training atoms' own rho, one sigma for
all runs), and defect atoms when the frames carry a ``defect`` array; the stress RMSE (GPa)
where the test frames have stress, and for a one-element potential the lattice constant and
bulk modulus of its ground-state crystal (what a stiff potential shows first).
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import logging
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from gdfnn.analysis import plots
from gdfnn.analysis.metrics import ENERGY, FORCE, binned, flat_metrics
from gdfnn.analysis.tables import markdown_table, mean_std
from gdfnn.calculator import NNPCalculator
from gdfnn.config import Config, load_config, with_overrides
from gdfnn.data import load_sources
from gdfnn.data.readers import write_structures
from gdfnn.data.structure import Structure
from gdfnn.errors import ConfigError, InputError
from gdfnn.fileio import atomic_write, folder_lock
from gdfnn.gdf.density import DEFAULT_SIGMA, density
from gdfnn.model.potential import Potential
from gdfnn.workflows import steps
from gdfnn.workflows.evaluate import array_mask, prediction_errors
from gdfnn.workflows.properties.run import ground_state_summary

log = logging.getLogger("gdfnn")
#: Atom classes of the sweep tables: names and the quantile of training rho that bounds them.
RARE, DENSE, DEFECT = "rarest_10", "densest_50", "defect"
RARE_QUANTILE, DENSE_QUANTILE = 0.10, 0.50


def parse_sets(sets: list[str]) -> dict[str, list]:
    """``["gdf.sigma=0.01,0.02", ...]`` -> ``{"gdf.sigma": [0.01, 0.02]}`` (YAML values)."""
    grid = {}
    for item in sets:
        key, sep, values = item.partition("=")
        if not sep or "." not in key or not values:
            raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE[,VALUE...]")
        grid[key.strip()] = [yaml.safe_load(v) for v in values.split(",")]
    return grid


def slug(setting: dict) -> str:
    """A directory name for a setting: ``gdf.sigma=0.02_gdf.modifier=linear``."""
    text = "_".join(f"{k}={v}" for k, v in setting.items()) or "base"
    return "".join(c if c.isalnum() or c in "._=-" else "-" for c in text)


def label(setting: dict) -> str:
    """A setting (values as JSON text) as tables and legends show it:
    ``gdf.enabled=true, model.hidden=[60, 60]``."""
    return ", ".join(f"{k}={v}" for k, v in setting.items()) or "base"


def overrides(setting: dict) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for key, value in setting.items():
        section, _, name = key.partition(".")
        out.setdefault(section, {})[name] = value
    return out


@dataclass
class Run:
    """One training of the sweep: its setting, seed, directory and config."""

    setting: dict
    seed: int
    directory: Path
    config: Config


def parse_row(row: str) -> dict:
    """``"gdf.sigma=auto gdf.modifier=sigmoid-shifted"`` -> one explicit setting."""
    setting = {}
    for item in row.split():
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise ConfigError(f"--row {row!r}: expected SECTION.KEY=VALUE ...")
        setting[key] = yaml.safe_load(value)
    return setting


def settings(grid: dict[str, list], rows: list[dict]) -> list[dict]:
    """The cartesian product of the grid (when given), then the explicit rows."""
    product = [dict(zip(grid, values, strict=True)) for values in itertools.product(
        *grid.values())] if grid else ([] if rows else [{}])
    return product + rows


def plan(base: Config, setting_list: list[dict], seeds: int, output: Path, threads: int
         ) -> list[Run]:
    """Every (setting, seed) with its config: shared store per descriptor, shared GDF cache,
    no progress bars, ``threads`` CPU threads."""
    runs = []
    for setting in setting_list:
        config = with_overrides(base, overrides(setting), source="--set")
        digest = hashlib.sha256(json.dumps([config.data.model_dump(mode="json"),
                                            config.descriptor.model_dump(mode="json"),
                                            config.model.dtype], sort_keys=True).encode())
        for seed in range(seeds):
            directory = output / "runs" / slug(setting) / f"seed{seed}"
            run_config = with_overrides(config, {
                "training": {"seed": seed, "threads": threads},
                "descriptor": {"store": str(output / f"features_{digest.hexdigest()[:12]}.h5")},
                "gdf": {"cache": str(output / "gdf_cache")},
                "output": {"directory": str(directory), "progress": False, "plots": False}},
                source="sweep")
            runs.append(Run(setting, seed, directory, run_config))
    return runs


def leave_out(base: Config, group: str, output: Path) -> Config:
    """The config trained without group ``group``, which becomes its test set."""
    frames = load_sources(base.data.train, length_unit=base.data.length_unit,
                          energy_unit=base.data.energy_unit, progress=False)
    kept = [s for s in frames if s.group != group]
    left = [s for s in frames if s.group == group]
    if not left:
        groups = sorted({s.group for s in frames})
        raise InputError(f"--leave-out-group {group!r}: no such group (groups: {groups})")
    folder = output / f"leave_out_{group}"
    folder.mkdir(parents=True, exist_ok=True)
    train, test = folder / "train.xyz", folder / "test.xyz"
    write_structures(train, kept)
    write_structures(test, left)
    return with_overrides(base, {"data": {"train": [str(train)], "test": [str(test)],
                                          "length_unit": "angstrom", "energy_unit": "ev"}},
                          source="--leave-out-group")


@dataclass
class TestAtoms:
    """The test frames and the atom classes every run is scored on."""

    frames: list[Structure]
    rho: np.ndarray  # (N,) GDF of each test atom against the training atoms
    subsets: dict[str, np.ndarray]  # name -> (N,) bool
    sigma: float


def test_atoms(config: Config, frames: list[Structure]) -> TestAtoms:
    """rho of the test atoms against the training atoms of ``config`` (one sigma: the
    config's number, else the default), and the classes rarest 10 % / densest 50 % by the
    training atoms' own rho quantiles (per element), and the frames' defect arrays."""
    sigma = config.gdf.sigma if isinstance(config.gdf.sigma, float) else DEFAULT_SIGMA
    ctx = steps.RunContext(torch.device("cpu"))
    prepared = steps.prepare_data(with_overrides(config, {"output": {"progress": False}}), ctx)
    features = steps.load_features(prepared)
    transforms = steps.fit_feature_transforms(features, prepared, config.model)
    sf = prepared.descriptor
    scaled = steps.scaled_features(features, transforms, sf.elements)
    blocks = sf.compute_many([s.atoms for s in frames], progress=False)
    x = torch.cat([b.values for b in blocks]).double()
    species = torch.cat([b.species for b in blocks])
    rho = np.full(len(species), np.nan)
    rare, dense = np.zeros(len(species), bool), np.zeros(len(species), bool)
    for n, element in enumerate(sf.elements):
        mine = (species == n).numpy()
        if not mine.any():
            continue
        train_x, is_train = scaled[element]
        train_rho = density(train_x[is_train], sigma).numpy()
        t = transforms[element]
        rho[mine] = density(t.scaled(x[mine][:, : t.n_features]), sigma,
                            reference=train_x[is_train]).numpy()
        low, high = np.quantile(train_rho, [RARE_QUANTILE, DENSE_QUANTILE])
        rare[mine] = rho[mine] < low
        dense[mine] = rho[mine] > high
    subsets = {RARE: rare, DENSE: dense}
    defect = array_mask(frames, DEFECT)
    if defect is not None:
        subsets[DEFECT] = defect
    return TestAtoms(frames, rho, subsets, sigma)


def score(potential: Potential, atoms: TestAtoms) -> dict:
    """Error table of ``potential`` on the test atoms with the sweep's atom classes, and its
    force errors per GDF bin (for the error-vs-rho plot)."""
    table, _, _, f_err = prediction_errors(potential, atoms.frames, atoms.subsets)
    known = np.isfinite(atoms.rho)
    edges = np.logspace(np.log10(atoms.rho[known].min()), np.log10(atoms.rho[known].max()), 11)
    edges[-1] = np.nextafter(edges[-1], np.inf)
    table["per_gdf_bin"] = binned(atoms.rho[known], f_err[known], edges)
    return table


#: sweep.csv columns of the validation split (the run's own metrics.json, best epoch)
VALID_COLUMNS = ("valid_force_rmse", "valid_energy_rmse_mev_atom")


def validation_metrics(directory: Path) -> dict[str, float]:
    """A run's validation errors (eV/Å, meV/atom) from its metrics.json; NaN when it had no
    validation split."""
    valid = json.loads((directory / "metrics.json").read_text()).get("valid")
    if not valid:
        return dict.fromkeys(VALID_COLUMNS, float("nan"))
    return dict(zip(VALID_COLUMNS, (valid[FORCE]["rmse"], valid[ENERGY]["rmse"]), strict=True))


def property_metrics(potential: Potential, directory: Path) -> dict[str, float]:
    """The sweep.csv columns of a one-element potential's ground-state crystal: lattice
    constant (Å) and bulk modulus (GPa), NaN where its equation of state fails; none for
    other potentials. Read from the run's metrics.json where training computed them, else
    computed here (runs trained with ``output.properties: false``)."""
    summary = json.loads((directory / "metrics.json").read_text()).get("properties") \
        or ground_state_summary(potential.elements, lambda: NNPCalculator(potential))
    if summary is None:
        return {}
    return {"lattice_constant": summary.get("lattice_constant", math.nan),
            "bulk_modulus_gpa": summary.get("bulk_modulus", math.nan)}


def train_run(run: Run) -> float:
    """Train one run as its own process; returns its wall time (s)."""
    run.directory.mkdir(parents=True, exist_ok=True)
    path = run.directory / "run_config.yaml"
    with atomic_write(path) as f:
        yaml.safe_dump(run.config.model_dump(mode="json"), f, sort_keys=False)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gdfnn", "train", str(path)],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InputError(f"sweep run {run.directory} failed: {last}")
    with atomic_write(run.directory / "wall_seconds.txt") as f:
        f.write(f"{seconds:.3f}\n")
    return seconds


def sweep(config: Config | str | os.PathLike, sets: list[str], *, rows: list[str] = (),
          seeds: int = 3, jobs: int = 1, output: str | os.PathLike = "sweep",
          leave_out_group: str | None = None, cores: int | None = None) -> list[dict]:
    """Run the sweep; writes ``sweep.csv``, ``sweep.md`` and plots into ``output`` (locked
    while it runs; each run trains in its own folder below it); returns the rows of
    sweep.csv."""
    with folder_lock(output):
        return _sweep(config, sets, rows=rows, seeds=seeds, jobs=jobs, output=output,
                      leave_out_group=leave_out_group, cores=cores)


def _sweep(config: Config | str | os.PathLike, sets: list[str], *, rows: list[str] = (),
          seeds: int = 3, jobs: int = 1, output: str | os.PathLike = "sweep",
          leave_out_group: str | None = None, cores: int | None = None) -> list[dict]:
    if not isinstance(config, Config):
        config = load_config(config)
    output = Path(output).resolve()
    output.mkdir(parents=True, exist_ok=True)
    if leave_out_group:
        config = leave_out(config, leave_out_group, output)
    if not config.data.test:
        raise ConfigError("a sweep scores runs on data.test: give test data (or "
                          "--leave-out-group)")
    cores = cores or os.cpu_count() or 1
    setting_list = settings(parse_sets(sets), [parse_row(r) for r in rows])
    keys = list(dict.fromkeys(k for s in setting_list for k in s))
    runs = plan(config, setting_list, seeds, output, max(1, cores // jobs))
    for store in dict.fromkeys(r.config.descriptor.store for r in runs):  # featurise once each
        first = next(r for r in runs if r.config.descriptor.store == store)
        steps.prepare_data(with_overrides(first.config, {"output": {"progress": True}}),
                           steps.RunContext(torch.device("cpu")))
    todo = [r for r in runs if not (r.directory / "potential.pt").is_file()
            or not (r.directory / "wall_seconds.txt").is_file()]
    log.info("sweep: %d runs, %d to train, %d at a time", len(runs), len(todo), jobs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for run, seconds in zip(todo, pool.map(train_run, todo), strict=True):
            log.info("sweep: %s seed %d done in %.0f s", slug(run.setting), run.seed, seconds)
    frames = load_sources(config.data.test, length_unit=config.data.length_unit,
                          energy_unit=config.data.energy_unit, progress=False)
    atoms = test_atoms(runs[0].config, frames)
    table_rows, curves = [], {}
    for run in runs:
        potential = Potential.load(run.directory / "potential.pt")
        table = score(potential, atoms)
        table_rows.append({**{k: json.dumps(run.setting.get(k)) for k in keys}, "seed": run.seed,
                     **flat_metrics(table), **validation_metrics(run.directory),
                     **property_metrics(potential, run.directory),
                     "wall_seconds": float((run.directory / "wall_seconds.txt").read_text())})
        curves.setdefault(label({k: json.dumps(v) for k, v in run.setting.items()}), []).append(
            table["per_gdf_bin"])
    if all(np.isnan(row[c]) for row in table_rows for c in VALID_COLUMNS):  # no split at all
        table_rows = [{k: v for k, v in row.items() if k not in VALID_COLUMNS}
                      for row in table_rows]
    write_outputs(output, table_rows, keys, curves)
    return table_rows


def summarise(rows: list[dict], keys: list[str]) -> list[dict]:
    """Mean and standard deviation over seeds of every metric, per setting."""
    settings: dict[tuple, list[dict]] = {}
    for row in rows:
        settings.setdefault(tuple(row[k] for k in keys), []).append(row)
    metrics = [k for k in rows[0] if k not in (*keys, "seed")]
    out = []
    for setting, members in settings.items():
        entry = {"setting": dict(zip(keys, setting, strict=True)), "seeds": len(members)}
        for m in metrics:
            entry[m] = mean_std([r[m] for r in members if m in r and not math.isnan(r[m])])
        out.append(entry)
    return out


def write_outputs(output: Path, rows: list[dict], keys: list[str], curves: dict) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_write(output / "sweep.csv") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    summary = summarise(rows, keys)
    for s in summary:  # keys a row does not set read "null": leave them out of its name
        s["setting"] = {k: v for k, v in s["setting"].items() if v != "null"}
    with atomic_write(output / "sweep.md") as f:
        f.write(markdown(summary, keys))
    plots.error_vs_gdf_bands(curves, output / "sweep_error_vs_gdf.png")
    plots.rare_vs_bulk({label(s["setting"]): (
        s.get(f"force_rmse_{RARE}"), s.get(f"force_rmse_{DENSE}")) for s in summary},
        output / "sweep_rare_vs_bulk.png")


def baseline(summary: list[dict]) -> dict | None:
    """The NNP-c row: the setting with gdf.enabled false, when the grid has one."""
    return next((s for s in summary if s["setting"].get("gdf.enabled") == "false"), None)


def markdown(summary: list[dict], keys: list[str]) -> str:
    """Mean ± std over seeds per setting; differences to the NNP-c row with their spread
    (the two standard deviations added in quadrature)."""
    metrics = [m for m in summary[0] if m not in ("setting", "seeds")]
    reference = baseline(summary)
    head = ["setting", "seeds", *metrics]
    rows = [[label(s["setting"]), str(s["seeds"])]
            + [f"{s[m][0]:.4g} ± {s[m][1]:.2g}" for m in metrics] for s in summary]
    lines = ["# Sweep: test errors, mean ± std over seeds", "",
             "Force RMSE in eV/Å (over Cartesian components), energy RMSE in meV/atom; "
             f"{RARE} / {DENSE}: test atoms whose GDF lies below the 10th / above the 50th "
             "percentile of the training atoms' own GDF.", "", markdown_table(head, rows)]
    if reference is not None:
        rows = []
        for s in summary:
            if s is reference:
                continue
            cells = [", ".join(f"{k}={v}" for k, v in s["setting"].items()), str(s["seeds"])]
            for m in metrics:
                (a, da), (b, db) = s[m], reference[m]
                rel = (a - b) / b * 100 if b else math.nan
                spread = math.hypot(da, db) / b * 100 if b else math.nan
                cells.append(f"{rel:+.1f} % ± {spread:.1f}")
            rows.append(cells)
        lines += ["", "Difference to the NNP-c row (gdf.enabled=false), relative, with spread:",
                  "", markdown_table(head, rows)]
    return "\n".join(lines) + "\n"

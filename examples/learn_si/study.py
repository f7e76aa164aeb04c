"""The study of docs/learn.md: ``gdfnn learn`` with examples/learn_si.yaml (SNAP Si as the
labeller) under three selection strategies (coverage, ensemble, random) and three seeds,
every run from the same 10 start frames, exploring the same structures, scored on the same
fixed test set (SNAP MD at 1300 K of the vacancy, interstitial, slab and perfect crystal).

    python examples/learn_si/study.py [--seeds 0 10 20] [--strategies coverage ensemble random]
        [--gdf] [--output runs/learn_study]

``--gdf`` trains every round with GDF weighting (NNP-GDF, eq. 3; runs named
``STRATEGY-gdf``). Each run is an ordinary ``gdfnn learn`` folder
(``OUTPUT/STRATEGY_sSEED``); a rerun goes on
where a killed one stopped. Then ``OUTPUT/study.md`` (the tables), ``study.json`` and
``study.png`` (rare-environment and bulk force error against labels, mean and spread over
the seeds) are written. Rare: the atoms the test frames' ``defect`` arrays mark (vacancy
neighbours, interstitial, surface layers); bulk: the perfect-crystal frames.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib
import numpy as np

from gdfnn.analysis.tables import markdown_table
from gdfnn.config import load_config
from gdfnn.workflows.learn import learn

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).parent
CONFIG = HERE.parent / "learn_si.yaml"
RARE, BULK, ALL = "force_rmse_defect", "force_rmse[bulk]", "force_rmse"


def scored(rounds: list[dict]) -> list[dict]:
    """The rounds that were trained and scored (a round that stopped the loop before
    training has no scores)."""
    return [row for row in rounds if RARE in row]


def run(strategy: str, seed: int, output: Path) -> tuple[list[dict], float]:
    """One ``gdfnn learn`` run (``strategy``, with ``-gdf``: NNP-GDF): its scored rows (a
    round that stopped the loop before training has none) and seconds."""
    config = load_config(CONFIG)
    config.learn.strategy = strategy.removesuffix("-gdf")
    config.gdf.enabled = strategy.endswith("-gdf")
    config.training.seed = seed
    config.output.directory = str(output / f"{strategy}_s{seed}")
    started = time.perf_counter()
    rows = scored(learn(config)["rounds"])
    return rows, time.perf_counter() - started


def labels_to_reach(rows: list[dict], target: float, metric: str = RARE) -> float:
    """Labels after the first round whose error is at or below ``target`` (linear between
    rounds); inf when never."""
    labels = [r["labelled"] for r in rows]
    errors = [r[metric] for r in rows]
    for k, e in enumerate(errors):
        if e <= target:
            if k == 0:
                return labels[0]
            a, b = errors[k - 1], e
            return labels[k - 1] + (labels[k] - labels[k - 1]) * (a - target) / (a - b)
    return np.inf


def converged(output: Path, strategy: str, seed: int) -> tuple[int, int]:
    """(trainings stopped by patience, trainings) of a run."""
    cap = load_config(CONFIG).training.epochs
    epochs = [json.loads(m.read_text())["epochs"]
              for m in (output / f"{strategy}_s{seed}").glob("round_*/model*/metrics.json")]
    return sum(e < cap for e in epochs), len(epochs)


def summary(results: dict, output: Path) -> str:
    strategies = list(results)
    seeds = sorted({s for v in results.values() for s in v})
    lines = ["# gdfnn learn study (examples/learn_si/study.py)", "",
             f"Seeds {seeds}; force RMSE in eV/Å on the fixed test set; rare: defect-marked "
             "atoms; mean ± standard deviation over seeds.", ""]
    head = ["strategy", "labels", "rare", "bulk", "all", "energy meV/atom", "minutes",
            "trainings stopped by patience"]
    table = []
    for s in strategies:
        finals = [results[s][k]["rows"][-1] for k in seeds]
        stat = {m: (np.mean([f[m] for f in finals]), np.std([f[m] for f in finals]))
                for m in (RARE, BULK, ALL, "energy_rmse_mev_atom")}
        stops = [converged(output, s, k) for k in seeds]
        table.append([s, int(np.mean([f["labelled"] for f in finals])),
                      *(f"{m:.4f} ± {d:.4f}" for m, d in (stat[RARE], stat[BULK], stat[ALL])),
                      f"{stat['energy_rmse_mev_atom'][0]:.1f} ± "
                      f"{stat['energy_rmse_mev_atom'][1]:.1f}",
                      f"{np.mean([results[s][k]['seconds'] for k in seeds]) / 60:.1f}",
                      f"{sum(a for a, _ in stops)}/{sum(b for _, b in stops)}"])
    lines += ["## Final round", "", markdown_table(head, table), ""]
    lines += ["## Labels coverage needs to reach the other strategies' final rare error", "",
              "Per seed: the other strategy's final rare-atom error as the target, the labels "
              "coverage selection needed to reach it (interpolated between rounds), as a "
              "fraction of the other's labels.", ""]
    rows = []
    for other in (s for s in strategies if s != "coverage"):
        if "coverage" not in results:
            break
        fractions = []
        for k in seeds:
            theirs = results[other][k]["rows"]
            target, budget = theirs[-1][RARE], theirs[-1]["labelled"]
            fractions.append(labels_to_reach(results["coverage"][k]["rows"], target) / budget)
        shown = ", ".join("never" if np.isinf(f) else f"{f:.2f}" for f in fractions)
        finite = [f for f in fractions if np.isfinite(f)]
        rows.append([other, shown, f"{np.mean(finite):.2f}" if len(finite) == len(fractions)
                     else f"{len(finite)}/{len(fractions)} seeds reach it"])
    lines += [markdown_table(["against", "fraction of its labels, per seed", "mean"], rows), ""]
    lines += ["## Curves", "", "![rare and bulk force error against labels](study.png)", ""]
    per_round = ["strategy", "round", "labels", "rare", "bulk", "all"]
    curve_rows = []
    for s in strategies:
        n = min(len(results[s][k]["rows"]) for k in seeds)
        for r in range(n):
            vals = [results[s][k]["rows"][r] for k in seeds]
            curve_rows.append([s, r, int(np.mean([v["labelled"] for v in vals])),
                               *(f"{np.mean([v[m] for v in vals]):.4f} ± "
                                 f"{np.std([v[m] for v in vals]):.4f}"
                                 for m in (RARE, BULK, ALL))])
    lines += [markdown_table(per_round, curve_rows)]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for s, by_seed in results.items():
        n = min(len(v["rows"]) for v in by_seed.values())
        for ax, metric in zip(axes, (RARE, BULK), strict=True):
            labels = np.mean([[r["labelled"] for r in v["rows"][:n]] for v in by_seed.values()], 0)
            values = np.array([[r[metric] for r in v["rows"][:n]] for v in by_seed.values()])
            ax.errorbar(labels, values.mean(0), yerr=values.std(0), marker="o", capsize=3,
                        label=s)
    for ax, title in zip(axes, ("rare (defect-marked) atoms", "perfect-crystal atoms"),
                         strict=True):
        ax.set_xlabel("frames labelled")
        ax.set_ylabel("test force RMSE (eV/Å)")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def collect(output: Path, seeds: list[int]) -> dict:
    """Every finished run of ``seeds`` in ``output`` (earlier invocations' too, e.g. the
    ``--gdf`` arms): strategy -> seed -> rows and seconds."""
    results: dict = {}
    for path in sorted(output.glob("*_s*/learn.json")):
        strategy, seed = path.parent.name.rsplit("_s", 1)
        if int(seed) in seeds and (path.parent / "seconds.json").is_file():
            results.setdefault(strategy, {})[int(seed)] = {
                "rows": scored(json.loads(path.read_text())["rounds"]),
                "seconds": json.loads((path.parent / "seconds.json").read_text())}
    order = ["coverage", "ensemble", "random"]
    return dict(sorted(results.items(), key=lambda kv: (kv[0].removesuffix("-gdf") not in order,
                                                        kv[0].endswith("-gdf"), kv[0])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # the ensemble trains seeds s..s+3: seeds 10 apart share no model
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 10, 20])
    parser.add_argument("--strategies", nargs="+", default=["coverage", "ensemble", "random"])
    parser.add_argument("--gdf", action="store_true", help="NNP-GDF trainings (eq. 3)")
    parser.add_argument("--output", type=Path, default=Path("runs/learn_study"))
    args = parser.parse_args()
    if args.gdf:
        args.strategies = [f"{s}-gdf" for s in args.strategies]
    args.output.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for strategy in args.strategies:
            rows, seconds = run(strategy, seed, args.output)
            record = args.output / f"{strategy}_s{seed}" / "seconds.json"
            if not record.is_file():  # the first, whole run's time (a rerun reads back)
                record.write_text(json.dumps(seconds))
            print(f"{strategy} seed {seed}: {rows[-1]['labelled']} labels, rare "
                  f"{rows[-1][RARE]:.4f}, bulk {rows[-1][BULK]:.4f}", flush=True)
    results = collect(args.output, args.seeds)
    (args.output / "study.json").write_text(json.dumps(results, indent=1))
    plot(results, args.output / "study.png")
    (args.output / "study.md").write_text(summary(results, args.output))
    print((args.output / "study.md").read_text())


if __name__ == "__main__":
    main()

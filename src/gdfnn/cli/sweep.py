"""``gdfnn sweep``: a grid of settings x seeds, one table."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="train a grid of settings x seeds; one table",
                       description="Train CONFIG for every combination of the --set values and "
                       "seeds (features once, GDF once per setting, runs as separate processes, "
                       "--jobs at a time; a killed sweep resumes), score every run on data.test "
                       "(force RMSE all, per group, rarest 10 %% and densest 50 %% of the "
                       "training density, defect atoms; energy RMSE) and write sweep.csv, "
                       "sweep.md (mean ± std over seeds, differences to gdf.enabled=false) and "
                       "plots.")
    p.add_argument("config", help="base config YAML")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=V1,V2",
                   help="values of one config key (repeat for a grid)")
    p.add_argument("--row", action="append", default=[], metavar="'S.K=V S.K=V'",
                   help="one more setting, several keys together (e.g. SIMPLE-NN's defaults: "
                   "'gdf.sigma=auto gdf.modifier=sigmoid-shifted gdf.b=1 gdf.c=auto')")
    p.add_argument("--seeds", type=int, default=3, help="training seeds per setting")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time (cores are split)")
    p.add_argument("--leave-out-group", default=None, metavar="NAME",
                   help="train without this group; it becomes the test set")
    p.add_argument("--output", default="sweep", help="output directory")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.workflows.sweep import sweep

    sweep(args.config, args.set, rows=args.row, seeds=args.seeds, jobs=args.jobs,
          output=args.output, leave_out_group=args.leave_out_group)
    print((Path(args.output) / "sweep.md").read_text(), end="")
    print(f"results in {args.output}/ (sweep.csv, sweep.md, sweep_*.png, runs/)")
    return 0

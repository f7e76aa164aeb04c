"""``gdfnn reproduce``: the paper's experiments on reference potentials or DFT (choices, help
and dispatch from :data:`gdfnn.experiments.registry.EXPERIMENTS`)."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

#: The options an experiment may take (each says which in the registry); None = not given.
EXPERIMENT_OPTIONS = ("preset", "reference", "data", "epochs")


def add_parser(sub) -> None:
    from gdfnn.experiments.common import DEFAULT_REFERENCE, LATTICE
    from gdfnn.experiments.registry import EXPERIMENTS, PRESETS

    p = sub.add_parser("reproduce", help="the paper's experiments on reference potentials or DFT",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="\n".join(textwrap.fill(
                           f"{e.name}: {e.summary}.", 88, subsequent_indent="    ")
                           for e in EXPERIMENTS.values()))
    p.add_argument("experiment", choices=list(EXPERIMENTS))
    p.add_argument("--preset", default=None, choices=PRESETS,
                   help="size (default quick): quick (si-vacancy < 10 min; active-learning ~16 "
                   "min a seed), full (the paper's 800 frames; 2,000-step candidate MD), tiny "
                   "(a smoke test)")
    p.add_argument("--reference", default=None, choices=[*LATTICE, "eam-ni"],
                   help=f"the reference potential standing in for DFT (Si experiments: "
                   f"default {DEFAULT_REFERENCE}, SNAP fitted to PBE, shipped with gdfnn as "
                   "mlearn-snap-si ($GDFNN_SNAP_SI: another folder); ni-atomic-energies: "
                   "eam-ni only)")
    p.add_argument("--data", default=None,
                   help="si-mlearn: a folder holding si_mlearn_{train,test}.xyz (default: the "
                   "packaged mlearn-si)")
    p.add_argument("--epochs", type=int, default=None,
                   help="si-mlearn training epochs (default 2000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=1,
                   help="run seeds SEED..SEED+N-1 (each in OUTPUT/seedK) and report mean ± std "
                   "(report_seeds.md, results_seeds.json)")
    p.add_argument("--output", default=None, help="output directory (default: the experiment's "
                   "name)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.experiments.registry import get, run_seeds

    output = Path(args.output or args.experiment.replace("-", "_"))
    given = {k: getattr(args, k) for k in EXPERIMENT_OPTIONS if getattr(args, k) is not None}
    run_seeds(get(args.experiment), output, seed=args.seed, seeds=args.seeds, **given)
    print(f"results in {output}/")
    return 0

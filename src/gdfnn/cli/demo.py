"""``gdfnn demo``: the quick si-vacancy preset (the paper's Figure 1 in about 6 minutes)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    from gdfnn.experiments.common import DEFAULT_REFERENCE, LATTICE

    p = sub.add_parser("demo", help="quick Si-vacancy NNP-c vs NNP-GDF run (under 10 minutes)",
                       description="gdfnn reproduce si-vacancy --preset quick: the SNAP Si "
                       "potential (fitted to PBE) stands in for DFT.")
    p.add_argument("--output", default="demo", help="output directory")
    p.add_argument("--reference", default=DEFAULT_REFERENCE, choices=list(LATTICE),
                   help="reference potential (sw-si needs no LAMMPS)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.experiments.registry import get, run_seeds

    run_seeds(get("si-vacancy"), Path(args.output), seed=args.seed, preset="quick",
              reference=args.reference)
    print(f"results in {args.output}/ (results.json, report.md, PNG figures)")
    return 0

"""``gdfnn evaluate``: error tables and plots of potentials on labelled data."""

from __future__ import annotations

import argparse
from pathlib import Path

from gdfnn.cli import options


def add_parser(sub) -> None:
    from gdfnn.gdf.density import DEFAULT_SIGMA

    p = sub.add_parser("evaluate", help="errors, tables and plots of potentials on data",
                       description="Energy RMSE/MAE (meV/atom) and force RMSE/MAE (eV/Å) per "
                       "element, group, defect subset and GDF bin; evaluation.json, per_atom.csv "
                       "and plots (parity, force error vs GDF, atomic energies).")
    p.add_argument("potentials", nargs="+", metavar="POTENTIAL",
                   help="potential.pt, n2p2 directory or potential_saved (several: compared)")
    p.add_argument("--data", nargs="+", required=True,
                   help="labelled data files (dataset:NAME/PART for packaged ones)")
    p.add_argument("--output", default="evaluation", help="output directory")
    p.add_argument("--sigma", type=float, default=None,
                   help="GDF width for the GDF bins (default: the one each potential was trained "
                   f"with, else {DEFAULT_SIGMA})")
    p.add_argument("--defect-cutoff", type=float, default=None,
                   help="defect atoms: fewer than --defect-coordination neighbours within this "
                   "many Å (e.g. 2.6 for Si)")
    p.add_argument("--defect-coordination", type=int, default=4)
    p.add_argument("--no-plots", action="store_true")
    options.add_potential_units(p)
    options.add_data_units(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.workflows.evaluate import DefectRule, evaluate, format_result

    potentials = {Path(p).stem if Path(p).name != "potential.pt" else Path(p).parent.name:
                  options.potential(p, args) for p in args.potentials}
    frames = options.frames(args.data, *potentials.values(), units=args)
    defect = None
    if args.defect_cutoff:
        defect = DefectRule(args.defect_cutoff, args.defect_coordination)
    result = evaluate(potentials, frames, sigma=args.sigma, defect=defect, output=args.output,
                      plot=not args.no_plots)
    print(format_result(result))
    print(f"results in {args.output}/ (evaluation.json, per_atom.csv, *.png)")
    return 0

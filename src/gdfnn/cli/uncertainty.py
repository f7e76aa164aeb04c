"""``gdfnn uncertainty``: does GDF coverage (or an ensemble, or n2p2's range count) predict
the force error?"""

from __future__ import annotations

import argparse

from gdfnn.cli import options


def add_parser(sub) -> None:
    p = sub.add_parser("uncertainty", help="does GDF coverage predict the force error?",
                       description="Per atom of labelled data: the force error |dF| (eV/Å), "
                       "GDF rho against the training atoms, functions outside the training range "
                       "(n2p2's test) and, with --ensemble, the force spread of the potentials "
                       "(eV/Å). Scores each signal by Spearman's correlation with the error and "
                       "the recall of the worst 5 %% of atoms among the 5 %% flagged, with its "
                       "cost; uncertainty.csv, .json, .md and .png; with the potential's error "
                       "map, its calibration per decile (calibration.png).")
    p.add_argument("potential", help="potential.pt trained by gdfnn (it carries the reference)")
    p.add_argument("--data", nargs="+", required=True, help="labelled data files")
    p.add_argument("--ensemble", nargs="*", default=[], metavar="POTENTIAL",
                   help="more potentials (other seeds) for the ensemble spread")
    options.add_sigma(p)
    p.add_argument("--output", default="uncertainty", help="output directory")
    p.add_argument("--no-plots", action="store_true")
    options.add_potential_units(p)
    options.add_data_units(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.workflows.uncertainty import format_uncertainty, uncertainty

    potential = options.potential(args.potential, args)
    ensemble = [options.potential(p, args) for p in args.ensemble]
    frames = options.frames(args.data, potential, units=args)
    result = uncertainty(potential, frames, ensemble, sigma=args.sigma, output=args.output,
                         plot=not args.no_plots)
    print(format_uncertainty(result))
    extra = ", calibration.png" if "calibration" in result else ""
    print(f"results in {args.output}/ (uncertainty.csv, .json, .md, .png{extra})")
    return 0

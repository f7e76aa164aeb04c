"""``gdfnn gdf``: GDF rho and weights of a data set, stored with its features; statistics and
plots."""

from __future__ import annotations

import argparse

from gdfnn.cli import options


def add_parser(sub) -> None:
    from gdfnn.gdf.density import DEFAULT_SIGMA
    from gdfnn.gdf.modifiers import DEFAULT_MODIFIER, MODIFIERS

    p = sub.add_parser("gdf", help="compute GDF weights, statistics and plots",
                       description="Compute the Gaussian density function (paper eq. 2) of every "
                       "training atom per element on scaled features, the weights Theta(1/rho) "
                       "(eq. 3-4), store them with the features, print statistics and write "
                       "plots (1/rho histogram, Figure 1b feature map).")
    p.add_argument("inputs", nargs="+", metavar="CONFIG_OR_FILE",
                   help="a config YAML, or data files (defaults for everything else)")
    p.add_argument("--sigma", type=lambda v: v if v in ("auto", "ess") else float(v),
                   default=None, help="Gaussian width on scaled features, 'auto' or 'ess' "
                   f"(default: the config's, {DEFAULT_SIGMA})")
    p.add_argument("--target-ess", type=float, default=None, metavar="FRACTION",
                   help="--sigma ess: the effective sample size aimed at (default: the "
                   "config's, 0.5)")
    p.add_argument("--modifier", default=None,
                   choices=MODIFIERS, help=f"Theta (default: the config's, {DEFAULT_MODIFIER})")
    p.add_argument("--approximate", action="store_true",
                   help="merged-cell approximation for 1e6+ atoms (error checked and printed)")
    p.add_argument("--components", default=None, metavar="I,J",
                   help="feature columns of the map (default: widest radial and angular)")
    p.add_argument("--split-group", default=None, metavar="TAG",
                   help="draw atoms of structures in group TAG apart from the others")
    p.add_argument("--output", default=None, help="output directory (default: the config's)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.workflows.gdf import format_gdf_summary, run_gdf

    config = options.config_for(args.inputs, args.output, {"gdf": {
        "enabled": True, "sigma": args.sigma, "target_ess": args.target_ess,
        "modifier": args.modifier, "approximate": args.approximate or None}})
    components = tuple(int(x) for x in args.components.split(",")) if args.components else None
    print(format_gdf_summary(run_gdf(config, components, args.split_group)))
    return 0

"""``gdfnn prune``: drop the most redundant training frames."""

from __future__ import annotations

import argparse
from pathlib import Path

from gdfnn.cli import options


def add_parser(sub) -> None:
    p = sub.add_parser("prune", help="drop the most redundant training frames",
                       description="Greedy: drop the frame with the highest mean GDF rho of its "
                       "atoms against the frames still kept, recompute, repeat until --keep of "
                       "the frames are left. Writes the kept frames (extxyz) and "
                       "<output stem>_dropped.csv (drop order).")
    p.add_argument("train", nargs="+", help="training data files")
    p.add_argument("--keep", type=float, required=True, help="fraction of frames to keep, (0, 1]")
    p.add_argument("--output", required=True, help="extxyz file of the kept frames")
    p.add_argument("--potential", default=None,
                   help="take descriptor, scaling and width (its coverage width) from this "
                   "potential (default: the default descriptor, min-max scaling fitted on "
                   "TRAIN, sigma 0.02)")
    p.add_argument("--sigma", type=float, default=None, help="GDF width")
    p.add_argument("--per-group", action="store_true",
                   help="keep --keep of every group (config_type / structure_list tag), rho "
                   "within the group: no group is emptied")
    options.add_potential_units(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.workflows.selection import prune

    potential = options.potential(args.potential, args) if args.potential else None
    frames = options.frames(args.train, *([potential] if potential else []), labelled=False)
    kept, dropped = prune(frames, args.keep, args.output, potential=potential, sigma=args.sigma,
                          per_group=args.per_group)
    print(f"kept {len(kept)} of {len(frames)} frames -> {args.output}; dropped, most redundant "
          f"first: {Path(args.output).stem}_dropped.csv")
    for p in dropped[:5]:
        print(f"  {frames[p.frame].label} ({frames[p.frame].group}): mean rho {p.score:.3e}")
    return 0

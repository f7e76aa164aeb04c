"""``gdfnn functions``: choose symmetry functions from a candidate pool on training data."""

from __future__ import annotations

import argparse

from gdfnn.cli import options


def add_parser(sub) -> None:
    from gdfnn.workflows.functions import DEFAULT_FRAMES

    p = sub.add_parser(
        "functions", help="choose symmetry functions from a large pool on training data",
        description="Compute a pool of candidate symmetry functions (centred and n2p2-style "
        "shifted radial functions, narrow and wide angular functions over zeta 1-16, "
        "lambda +-1 and four widths: 104 for one element) on the training frames and "
        "choose the COUNT per element that best span the pool (greedy CUR on the "
        "standardised features, Imbalzano et al. 2018). Writes params_XX "
        "files for descriptor.params and functions.md (the order chosen) into --output.")
    p.add_argument("inputs", nargs="+", metavar="CONFIG_OR_FILE",
                   help="a config YAML (its data.train, units, descriptor.cutoff), or data "
                   "files")
    p.add_argument("--count", type=options.positive_int, required=True, help="functions per element")
    p.add_argument("--frames", type=options.positive_int, default=DEFAULT_FRAMES,
                   help=f"training frames the pool is computed on, evenly spread (default "
                   f"{DEFAULT_FRAMES})")
    p.add_argument("--keep-default", action="store_true",
                   help="keep SIMPLE-NN's default set (26 for one element) and choose the "
                   "rest of COUNT to add to it")
    p.add_argument("--output", required=True, help="directory of the params files")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.workflows.functions import choose_functions

    config = options.config_for(args.inputs, None, {})
    chosen = choose_functions(config, args.count, args.output, args.frames,
                              args.keep_default)
    candidates = len(next(iter(chosen.pool.functions.values())))
    print(f"{args.count} functions per element chosen from {candidates} candidates on "
          f"{chosen.frames} frames; in your config:\ndescriptor:\n  params:")
    for element, path in chosen.files.items():
        print(f"    {element}: {path}")
    return 0

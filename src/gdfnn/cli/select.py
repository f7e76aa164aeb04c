"""``gdfnn select``: the candidate frames that add the most coverage."""

from __future__ import annotations

import argparse

from gdfnn.cli import options


def add_parser(sub) -> None:
    p = sub.add_parser("select", help="pick the candidate frames that add the most coverage",
                       description="Greedy: each pick is the pool frame whose least covered atom "
                       "has the lowest GDF rho against the potential's training atoms and the "
                       "frames already picked. Writes selected.extxyz (pick order) and "
                       "selection.csv (frame, min rho, atom); deterministic.")
    p.add_argument("pool", nargs="+", help="candidate frames (MD trajectory, candidates.extxyz "
                   "of gdfnn md --coverage-save, ...); labels not needed")
    p.add_argument("--potential", required=True, help="potential.pt trained by gdfnn")
    p.add_argument("--n", type=int, required=True, help="frames to pick")
    options.add_sigma(p)
    p.add_argument("--output", default="selection", help="output directory")
    options.add_potential_units(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.workflows.selection import select

    potential = options.potential(args.potential, args)
    pool = options.frames(args.pool, potential, labelled=False)
    picks = select(potential, pool, args.n, args.output, args.sigma)
    for order, p in enumerate(picks):
        s = pool[p.frame]
        print(f"{order:4d}: {s.label} (pool frame {p.frame}, {s.group}): min rho "
              f"{p.score:.3e} at atom {p.atom}")
    print(f"{len(picks)} frames -> {args.output}/selected.extxyz, selection.csv")
    return 0

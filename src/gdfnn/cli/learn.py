"""``gdfnn learn``: build a training set with the user's labeller, GDF choosing the frames."""

from __future__ import annotations

import argparse

from gdfnn.cli import options


def add_parser(sub) -> None:
    p = sub.add_parser("learn", help="build a training set and potential in rounds: explore "
                       "with MD, select, label with your calculator, train",
                       description="Rounds of: MD with the current potential from "
                       "learn.structures (LAMMPS pair_style gdfnn or ASE), each trajectory's "
                       "candidates up to where it leaves the training data; select learn.pick "
                       "frames by coverage, an ensemble's force deviation or at random; label "
                       "them with "
                       "learn.labeller (an ASE calculator) or learn.label_command (your "
                       "scheduler), learn.label_workers at a time; train to convergence. "
                       "Rerun the same command after a kill to go on where it stopped. See "
                       "docs/learn.md and gdfnn config --defaults (the learn section).")
    p.add_argument("config", help="config YAML with a learn section")
    p.add_argument("--rounds", type=int, default=None, help="override learn.rounds")
    p.add_argument("--output", default=None, help="override output.directory")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.workflows.learn import learn

    config = options.config_for([args.config], args.output, {"learn": {"rounds": args.rounds}})
    options.set_threads(config.training.threads)
    result = learn(config)
    print(f"gdfnn learn: {len(result['rounds'])} rounds; stopped: {result['stop']}")
    return 0

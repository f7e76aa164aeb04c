"""The ``gdfnn`` command line: one module per command, each with ``add_parser(sub)`` (which
sets ``run``) and ``run(args) -> exit status``; :func:`build_parser` adds them in order."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import gdfnn
from gdfnn.cli import (
    config,
    datasets,
    demo,
    evaluate,
    export,
    featurize,
    functions,
    gdf,
    lammps,
    learn,
    md,
    properties,
    prune,
    reproduce,
    select,
    sweep,
    train,
    uncertainty,
)
from gdfnn.errors import GdfnnError

#: The commands, in the order ``gdfnn --help`` lists them.
COMMANDS = (featurize, functions, gdf, train, evaluate, properties, uncertainty, select, prune,
            export, md, lammps, learn, reproduce, demo, sweep, datasets, config)


class Parser(argparse.ArgumentParser):
    """argparse with gdfnn's error contract: one ``gdfnn: error:`` line, exit status 2; no
    abbreviated options (``--epoch`` is an error, not ``--epochs``)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"gdfnn: error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="gdfnn",
        description="Behler-Parrinello neural-network potentials with Gaussian-density-function "
        "(GDF) weighting. Units: eV, Å, eV/Å, eV/Å^3.",
    )
    parser.add_argument("--version", action="version", version=f"gdfnn {gdfnn.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gdfnn`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return args.run(args)
    except GdfnnError as exc:
        print(f"gdfnn: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gdfnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

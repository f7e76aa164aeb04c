"""The ``gdfnn`` command line: one subcommand per workflow."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import gdfnn
from gdfnn.errors import GdfnnError

#: Subcommands that later work will build, with the issue that builds them.
PLANNED = {
    "train": "train a potential from a config (issue 5)",
    "gdf": "compute GDF weights and plots (issue 4)",
    "evaluate": "errors and plots of a potential on data (issue 6)",
    "export": "write LAMMPS potentials (issue 6)",
    "md": "molecular dynamics with a potential (issue 6)",
    "reproduce": "the paper's experiments (issue 7)",
    "demo": "quick Si-vacancy NNP-c vs NNP-GDF run (issue 7)",
}


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", default=":", help="frames to read, ase slice (default ':')")
    p.add_argument("--format", default=None, help="ase.io format or 'n2p2' (default: guess)")
    p.add_argument("--length-unit", default="angstrom",
                   help="length unit of the files: angstrom, bohr, nm or Å per unit")
    p.add_argument("--energy-unit", default="ev",
                   help="energy unit of the files: ev, hartree, ... or eV per unit")
    p.add_argument("--elements", default=None,
                   help="comma-separated elements the potential knows (others are an error)")
    p.add_argument("--no-forces", action="store_true", help="do not require forces")


def _cmd_featurize(args: argparse.Namespace) -> int:
    from gdfnn.data import format_summary, read_structures, summarize, validate_structures

    if not args.dry_run:
        print("gdfnn featurize: only --dry-run is implemented yet (issue 3)", file=sys.stderr)
        return 2
    elements = args.elements.split(",") if args.elements else None
    failed = 0
    for path in args.inputs:
        try:
            frames = read_structures(path, args.index, format=args.format,
                                     length_unit=args.length_unit, energy_unit=args.energy_unit)
            validate_structures(frames, require_forces=not args.no_forces, elements=elements)
        except GdfnnError as exc:
            print(f"gdfnn: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(format_summary(path, summarize(frames)))
    return 2 if failed else 0


def _cmd_config(args: argparse.Namespace) -> int:
    from gdfnn.config import defaults_yaml, load_config

    if args.check:
        import yaml

        config = load_config(args.check)
        print(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), end="")
        return 0
    print(defaults_yaml(), end="")
    return 0


def _planned(name: str):
    def run(args: argparse.Namespace) -> int:
        print(f"gdfnn {name}: not implemented yet ({PLANNED[name]})", file=sys.stderr)
        return 2

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gdfnn",
        description="Behler-Parrinello neural-network potentials with Gaussian-density-function "
        "(GDF) weighting. Units: eV, Å, eV/Å, eV/Å^3.",
    )
    parser.add_argument("--version", action="version", version=f"gdfnn {gdfnn.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("featurize", help="featurise data (--dry-run: validate and summarise)",
                       description="Validate and summarise input files (--dry-run).")
    p.add_argument("inputs", nargs="+", metavar="FILE", help="data files (any ase.io format)")
    p.add_argument("--dry-run", action="store_true",
                   help="validate and print a summary per file; do not featurise")
    _add_input_options(p)
    p.set_defaults(run=_cmd_featurize)

    p = sub.add_parser("config", help="print the default config or check a config file",
                       description="Print every config key with its default and meaning.")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--defaults", action="store_true", help="print the defaults (default)")
    group.add_argument("--check", metavar="CONFIG", help="validate CONFIG, print it resolved")
    p.set_defaults(run=_cmd_config)

    for name, text in PLANNED.items():
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("args", nargs="*", help=argparse.SUPPRESS)
        p.set_defaults(run=_planned(name))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gdfnn`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
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

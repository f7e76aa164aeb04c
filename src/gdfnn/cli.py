"""The ``gdfnn`` command line: one subcommand per workflow."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import gdfnn
from gdfnn.errors import GdfnnError

if TYPE_CHECKING:
    from gdfnn.config import Config

#: Subcommands that later work will build, with the issue that builds them.
PLANNED = {
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


def _is_config(path: str) -> bool:
    return path.endswith((".yaml", ".yml"))


def _config_for(inputs: list[str], output: str | None, sections: dict) -> Config:
    """A config from a YAML file (one input) or from data files with default settings."""
    from gdfnn.config import config_from_dict, load_config

    if len(inputs) == 1 and _is_config(inputs[0]):
        config = load_config(inputs[0])
        for section, values in sections.items():
            for key, value in values.items():
                if value is not None:
                    setattr(getattr(config, section), key, value)
    else:
        values = {k: {kk: vv for kk, vv in v.items() if vv is not None}
                  for k, v in sections.items()}
        values.setdefault("data", {})["train"] = list(inputs)
        config = config_from_dict(values, source="command line", base_dir=".")
    if output:
        config.output.directory = str(Path(output).resolve())
    return config


def _cmd_featurize(args: argparse.Namespace) -> int:
    from gdfnn.data import format_summary, read_structures, summarize, validate_structures

    if not args.dry_run:
        from gdfnn.pipeline import prepare

        config = _config_for(args.inputs, args.output, {"data": {
            "length_unit": args.length_unit, "energy_unit": args.energy_unit}})
        prepared = prepare(config)
        store = prepared.store
        print(f"{store.n_structures} structures, {int(store.atom_offset[-1])} atoms, "
              f"elements {', '.join(store.elements)}, D = {prepared.descriptor.width} -> "
              f"{store.path}")
        return 0
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


def _cmd_gdf(args: argparse.Namespace) -> int:
    from gdfnn.workflows.gdf import format_summary, run_gdf

    config = _config_for(args.inputs, args.output, {"gdf": {
        "sigma": args.sigma, "modifier": args.modifier, "approximate": args.approximate or None}})
    config.gdf.enabled = True
    components = tuple(int(x) for x in args.components.split(",")) if args.components else None
    print(format_summary(run_gdf(config, components, args.split_group)))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from gdfnn.config import load_config
    from gdfnn.workflows.train import train

    config = load_config(args.config)
    if args.epochs is not None:
        config.training.epochs = args.epochs
    if args.output:
        config.output.directory = str(Path(args.output).resolve())
    train(config, resume=args.resume)
    return 0


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

    p = sub.add_parser("featurize", help="featurise data into an HDF5 store (--dry-run: "
                       "validate and summarise)",
                       description="Featurise a config's data (or data files, default "
                       "descriptor) into <output>/features.h5; --dry-run only validates and "
                       "summarises each file.")
    p.add_argument("inputs", nargs="+", metavar="CONFIG_OR_FILE",
                   help="a config YAML, or data files (any ase.io format)")
    p.add_argument("--dry-run", action="store_true",
                   help="validate and print a summary per file; do not featurise")
    p.add_argument("--output", default=None, help="output directory (default: the config's)")
    _add_input_options(p)
    p.set_defaults(run=_cmd_featurize)

    p = sub.add_parser("gdf", help="compute GDF weights, statistics and plots",
                       description="Compute the Gaussian density function (paper eq. 2) of every "
                       "training atom per element on scaled features, the weights Theta(1/rho) "
                       "(eq. 3-4), store them with the features, print statistics and write "
                       "plots (1/rho histogram, Figure 1b feature map).")
    p.add_argument("inputs", nargs="+", metavar="CONFIG_OR_FILE",
                   help="a config YAML, or data files (defaults for everything else)")
    p.add_argument("--sigma", type=lambda v: v if v == "auto" else float(v), default=None,
                   help="Gaussian width on scaled features, or 'auto' (default: config's, 0.02)")
    p.add_argument("--modifier", default=None,
                   choices=["sigmoid-paper", "sigmoid-shifted", "linear", "none"],
                   help="Theta (default: config's, sigmoid-paper)")
    p.add_argument("--approximate", action="store_true",
                   help="merged-cell approximation for 1e6+ atoms (error checked and printed)")
    p.add_argument("--components", default=None, metavar="I,J",
                   help="feature columns of the map (default: widest radial and angular)")
    p.add_argument("--split-group", default=None, metavar="TAG",
                   help="draw atoms of structures in group TAG apart from the others")
    p.add_argument("--output", default=None, help="output directory (default: the config's)")
    p.set_defaults(run=_cmd_gdf)

    p = sub.add_parser("train", help="train a potential from a config",
                       description="Featurise (cached), compute GDF weights when gdf.enabled, "
                       "train, and write potential.pt, learning_curve.csv, metrics.json and "
                       "config_resolved.yaml into output.directory. Ctrl-C or a file named STOP "
                       "in that directory stops cleanly; --resume continues from checkpoint.pt. "
                       "Data parallel: torchrun --nproc_per_node=N -m gdfnn train CONFIG.")
    p.add_argument("config", help="config YAML (see gdfnn config --defaults)")
    p.add_argument("--resume", action="store_true", help="continue from checkpoint.pt")
    p.add_argument("--epochs", type=int, default=None, help="override training.epochs")
    p.add_argument("--output", default=None, help="override output.directory")
    p.set_defaults(run=_cmd_train)

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

"""``gdfnn featurize``: featurise data into the HDF5 store, or (``--dry-run``) validate and
summarise each file."""

from __future__ import annotations

import argparse
import sys

from gdfnn import datasets
from gdfnn.cli import options
from gdfnn.errors import GdfnnError
from gdfnn.fileio import folder_lock


def add_parser(sub) -> None:
    p = sub.add_parser("featurize", help="featurise data into an HDF5 store (--dry-run: "
                       "validate and summarise)",
                       description="Featurise a config's data (or data files, default "
                       "descriptor) into <output>/features.h5; --dry-run only validates and "
                       "summarises each file.")
    p.add_argument("inputs", nargs="+", metavar="CONFIG_OR_FILE",
                   help="a config YAML, or data files (any ase.io format; dataset:NAME/PART)")
    p.add_argument("--dry-run", action="store_true",
                   help="validate and print a summary per file; do not featurise")
    p.add_argument("--unlabelled", action="store_true",
                   help="with --dry-run: the frames carry no energy or forces (start frames "
                   "for gdfnn learn, MD starts); everything else is checked")
    p.add_argument("--output", default=None, help="output directory (default: the config's)")
    options.add_input_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.unlabelled and not args.dry_run:
        raise GdfnnError("--unlabelled goes with --dry-run: features are made for training, "
                         "which needs labels")
    if args.dry_run:
        return _dry_run(args)
    from gdfnn.workflows.prepare import prepare

    config = options.config_for(args.inputs, args.output, {"data": {
        "length_unit": args.length_unit, "energy_unit": args.energy_unit}})
    with folder_lock(config.output.directory):
        prepared = prepare(config)
    store = prepared.store
    print(f"{store.n_structures} structures, {int(store.atom_offset[-1])} atoms, "
          f"elements {', '.join(store.elements)}, D = {prepared.descriptor.width} -> "
          f"{store.path}")
    return 0


def _dry_run(args: argparse.Namespace) -> int:
    """Every file checked on its own: one error line per bad file, a summary per good one."""
    from gdfnn.data import format_summary, read_structures, summarize, validate_structures

    elements = args.elements.split(",") if args.elements else None
    failed = 0
    for path in args.inputs:
        try:
            frames = read_structures(datasets.local_path(path), args.index, format=args.format,
                                     length_unit=args.length_unit or "angstrom",
                                     energy_unit=args.energy_unit or "ev")
            validate_structures(frames, require_energy=not args.unlabelled,
                                require_forces=not (args.no_forces or args.unlabelled),
                                elements=elements)
        except GdfnnError as exc:
            print(f"gdfnn: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(format_summary(path, summarize(frames)))
    return 2 if failed else 0

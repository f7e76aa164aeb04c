"""``gdfnn export``: write a potential in another format (LAMMPS, n2p2, SIMPLE-NN, gdfnn)."""

from __future__ import annotations

import argparse

from gdfnn.cli import options


def add_parser(sub) -> None:
    from gdfnn.export.formats import FORMATS

    p = sub.add_parser("export", help="write a potential for LAMMPS (gdfnn, n2p2/hdnnp, "
                       "SIMPLE-NN/nn)",
                       description="Convert between potential.pt, the pair_style gdfnn file "
                       "(--to lammps; see gdfnn lammps), n2p2 directories (LAMMPS pair_style "
                       "hdnnp) and SIMPLE-NN potential_saved (pair_style nn); prints the LAMMPS "
                       "lines. Importing: give an n2p2 directory or potential_saved and "
                       "--to gdfnn.")
    p.add_argument("potential", help="potential.pt, n2p2 directory or potential_saved")
    p.add_argument("--to", required=True, choices=FORMATS)
    p.add_argument("--output", required=True,
                   help="file (lammps, simple-nn, gdfnn) or directory (n2p2)")
    p.add_argument("--length-unit", default="angstrom", help="n2p2 output length unit")
    p.add_argument("--energy-unit", default="ev", help="n2p2 output energy unit")
    options.add_potential_units(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.export.formats import convert

    print(convert(options.potential(args.potential, args), args.to, args.output,
                  length_unit=args.length_unit, energy_unit=args.energy_unit))
    return 0

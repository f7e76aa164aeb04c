"""``gdfnn md``: molecular dynamics with a potential, in ASE or in LAMMPS."""

from __future__ import annotations

import argparse

from gdfnn.cli import options
from gdfnn.config import MD_ENGINES


def add_parser(sub) -> None:
    p = sub.add_parser("md", help="molecular dynamics with a potential",
                       description="NVE, Langevin or Nose-Hoover NVT, or Berendsen NPT with ASE; "
                       "temperature ramps (--temperature 500:1300); md.traj and thermo.csv (the "
                       "same columns and units in both engines: ps, K, eV, GPa, Å); stops with a "
                       "message when atoms come closer than --min-distance or NVE energy "
                       "drifts. Units: K, fs, GPa, Å.")
    p.add_argument("potential", help="potential.pt, n2p2 directory or potential_saved")
    p.add_argument("structure", help="starting structure (any ase.io format)")
    options.add_md_options(p, ensemble="langevin", interval=10)
    p.add_argument("--min-distance", type=float, default=1.0, help="Å; closer atoms stop the run")
    p.add_argument("--max-drift", type=float, default=0.05, help="eV/atom, NVE only")
    p.add_argument("--output", default="md", help="output directory")
    p.add_argument("--resume", action="store_true",
                   help="continue a killed run from its last restart (--restart-every): the "
                   "same thermo.csv and trajectory, continued")
    p.add_argument("--engine", default="ase", choices=MD_ENGINES,
                   help="ase (the calculator) or lammps (pair_style gdfnn plugin, the same "
                   "stops, coverage in the plugin; log.lammps, md.lammpstrj, thermo.csv)")
    options.add_precision(p)
    options.add_potential_units(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdfnn.workflows.simulate import simulate

    potential = options.potential(args.potential, args)
    atoms, settings = options.structure(args), options.md_settings(args)
    summary = simulate(potential, atoms, settings, args.output, engine=args.engine,
                       precision=args.precision, resume=args.resume)
    print(", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0

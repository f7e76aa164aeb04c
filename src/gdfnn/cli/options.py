"""What several commands share: argument groups, and the steps from arguments to objects
(a config, potentials, labelled frames, a structure, MD settings)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from gdfnn import datasets
from gdfnn.errors import InputError

if TYPE_CHECKING:
    import ase

    from gdfnn.config import Config
    from gdfnn.data.structure import Structure
    from gdfnn.model.potential import Potential
    from gdfnn.workflows.md import MDSettings


def add_input_options(p: argparse.ArgumentParser) -> None:
    """How data files are read (``featurize --dry-run``)."""
    p.add_argument("--index", default=":", help="frames to read, ase slice (default ':')")
    p.add_argument("--format", default=None, help="ase.io format or 'n2p2' (default: guess)")
    p.add_argument("--length-unit", default=None,
                   help="length unit of the files: angstrom (default), bohr, nm or Å per unit")
    p.add_argument("--energy-unit", default=None,
                   help="energy unit of the files: ev (default), hartree, ... or eV per unit")
    p.add_argument("--elements", default=None,
                   help="comma-separated elements the potential knows (others are an error)")
    p.add_argument("--no-forces", action="store_true", help="do not require forces")


def add_potential_units(p: argparse.ArgumentParser) -> None:
    """The units an n2p2 potential was trained in."""
    p.add_argument("--potential-length-unit", default="angstrom",
                   help="length unit an n2p2 potential was trained in (e.g. bohr)")
    p.add_argument("--potential-energy-unit", default="ev",
                   help="energy unit an n2p2 potential was trained in (e.g. hartree)")
    p.add_argument("--n2p2-epoch", type=int, default=None,
                   help="an nnp-train folder as the potential: the epoch whose "
                   "weights.NNN.EEEEEE.out are read (default: weights.NNN.data, else the last "
                   "epoch written)")


def add_sigma(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sigma", type=float, default=None,
                   help="GDF width (default: the potential's coverage width)")


def add_md_options(p: argparse.ArgumentParser, *, ensemble: str, interval: int) -> None:
    """The MD options of gdfnn md and gdfnn lammps input (K, fs, GPa)."""
    from gdfnn.workflows.md import ENSEMBLES, TAUP_STEPS, TDAMP_STEPS

    p.add_argument("--index", default="-1", help="frame of the structure file (default last)")
    p.add_argument("--supercell", default=None, metavar="NX,NY,NZ")
    p.add_argument("--ensemble", default=ensemble, choices=ENSEMBLES)
    p.add_argument("--temperature", default="300", help="K, or START:END for a linear ramp")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--timestep", type=float, default=1.0, help="fs")
    p.add_argument("--friction", type=float, default=0.01, help="Langevin friction, 1/fs")
    p.add_argument("--pressure", type=float, default=0.0, help="NPT pressure, GPa")
    p.add_argument("--interval", type=int, default=interval,
                   help="steps between log/trajectory rows (and checks)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tdamp", type=float, default=None,
                   help=f"thermostat time constant, fs (default {TDAMP_STEPS} time steps)")
    p.add_argument("--taup", type=float, default=None,
                   help=f"barostat time constant, fs (default {TAUP_STEPS} time steps)")
    p.add_argument("--coverage-stop", type=rho_or_floor, default=None, metavar="RHO|floor",
                   help="stop when an atom's GDF rho against the training atoms falls below "
                   "RHO, or ('floor') when more atoms lie outside the training data by the "
                   "potential's coverage verdict (its rigidity ceiling, or for older "
                   "potentials its rho floor) than a frame of the training data has by chance "
                   "(docs/md.md); the frame, with each atom's rho, goes to "
                   "left_training_data.extxyz")
    p.add_argument("--coverage-save", type=rho_or_floor, default=None, metavar="RHO|floor",
                   help="keep going, appending every frame with an atom below RHO (or "
                   "outside by the verdict: 'floor') to candidates.extxyz, ready for gdfnn "
                   "select (the LAMMPS engine: the same threshold as --coverage-stop)")
    p.add_argument("--restart-every", type=int, default=None, metavar="STEPS",
                   help="write the state every STEPS steps (a multiple of --interval), for "
                   "continuing a killed run (gdfnn md --resume); default: none")


def rho_or_floor(text: str) -> float | str:
    """A coverage threshold: a positive rho, or 'floor'."""
    if text == "floor":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a rho or 'floor', got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"a rho must be positive, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def add_precision(p: argparse.ArgumentParser) -> None:
    from gdfnn.export.lammps import PRECISIONS

    p.add_argument("--precision", default=None, choices=PRECISIONS,
                   help="pair_style gdfnn arithmetic: double (default), or single (symmetry "
                   "functions and their derivatives in float32: faster, forces to about 1e-5 "
                   "relative)")


def is_config(path: str) -> bool:
    return path.endswith((".yaml", ".yml"))


def config_for(inputs: list[str], output: str | None, sections: dict) -> Config:
    """A config from a YAML file (one input) or from data files with default settings, with
    the command line's values (``{section: {key: value or None}}``) on top."""
    from gdfnn.config import config_from_dict, load_config, with_overrides

    sections = {**sections, "output": {**sections.get("output", {}), "directory": (
        str(Path(output).resolve()) if output else None)}}
    if len(inputs) == 1 and is_config(inputs[0]):
        return with_overrides(load_config(inputs[0]), sections)
    values = {k: {kk: vv for kk, vv in v.items() if vv is not None} for k, v in sections.items()}
    values.setdefault("data", {})["train"] = list(inputs)
    return config_from_dict(values, source="command line", base_dir=".")


def set_threads(threads: int | None) -> None:
    """CPU threads of torch and numba (the library leaves them alone; the command line sets
    ``training.threads``)."""
    if threads:
        import numba
        import torch

        torch.set_num_threads(threads)
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def potential(path: str, args: argparse.Namespace) -> Potential:
    """The potential at ``path`` (any format; ``dataset:NAME`` for a packaged one), in the
    units of ``--potential-length-unit`` / ``--potential-energy-unit``."""
    from gdfnn.export.formats import load_potential

    return load_potential(path, length_unit=args.potential_length_unit,
                          energy_unit=args.potential_energy_unit, epoch=args.n2p2_epoch)


def add_data_units(p: argparse.ArgumentParser) -> None:
    """The units of the data files (converted to Å and eV on reading)."""
    p.add_argument("--length-unit", default="angstrom",
                   help="length unit of the data files: angstrom, bohr or Å per unit")
    p.add_argument("--energy-unit", default="ev",
                   help="energy unit of the data files: ev, hartree or eV per unit")


def frames(entries: list[str], *potentials: Potential, labelled: bool = True,
           units: argparse.Namespace | None = None) -> list[Structure]:
    """The frames ``entries`` name, in the units ``units`` gives (:func:`add_data_units`),
    checked against the elements of every potential (and, when ``labelled``, for energies
    and forces)."""
    from gdfnn.data import load_sources, validate_structures

    structures = load_sources(entries, length_unit=getattr(units, "length_unit", 1.0),
                              energy_unit=getattr(units, "energy_unit", 1.0))
    for pot in potentials:
        validate_structures(structures, require_energy=labelled, require_forces=labelled,
                            elements=pot.elements)
    return structures


def structure(args: argparse.Namespace) -> ase.Atoms:
    """``args.structure`` (frame ``args.index``), repeated ``args.supercell`` times (where
    the command has that option)."""
    from ase.io import read

    path = datasets.local_path(args.structure)
    try:
        atoms = read(path, index=args.index)
    except Exception as exc:
        raise InputError(f"{args.structure}: cannot read a structure ({exc})") from None
    if getattr(args, "supercell", None):
        atoms = atoms * tuple(int(x) for x in args.supercell.split(","))
    return atoms


def md_settings(args: argparse.Namespace) -> MDSettings:
    from gdfnn.workflows.md import MDSettings

    low, _, high = args.temperature.partition(":")
    try:
        low, high = float(low), float(high) if high else None
    except ValueError:
        raise InputError(f"--temperature {args.temperature!r}: expected K or START:END") from None
    return MDSettings(args.ensemble, low, high, args.steps, args.timestep, args.friction,
                      args.pressure, args.interval, args.min_distance, args.max_drift,
                      args.seed, args.tdamp, args.taup, getattr(args, "coverage_stop", None),
                      getattr(args, "coverage_save", None), args.restart_every,
                      getattr(args, "coverage", None))

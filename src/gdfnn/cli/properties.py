"""``gdfnn properties``: lattice constant, equation of state, elastic tensor, vacancy and
surface energies and phonons of a potential, beside DFT values or other potentials."""

from __future__ import annotations

import argparse
from pathlib import Path

from gdfnn.cli import options
from gdfnn.errors import InputError


def add_parser(sub) -> None:
    from gdfnn.reference import REFERENCES
    from gdfnn.workflows.properties.crystal import CRYSTALS

    p = sub.add_parser(
        "properties", help="equation of state, elastic constants, defects and phonons",
        description="Physical properties of POTENTIAL for a crystal of its element (the "
        "ground-state lattice unless --crystal or --structure says otherwise): lattice "
        "constant and equation of state (B, B': Birch-Murnaghan over ±3 %% in a), the elastic "
        "tensor (stress-strain at ±0.5 %% and ±0.25 %%, ions relaxed), the relaxed vacancy "
        "formation energy (cell size stated), low-index surface energies, phonon frequencies "
        "at the high-symmetry points (phonopy), and the pressure at the first reference's "
        "lattice constant; each --reference computed the same way (a potential) or read "
        "(a values file). Units: Å, eV, GPa, J/m^2, THz. Writes properties.json, "
        "properties.md, eos.png and phonons.png into --output.")
    p.add_argument("potential", metavar="POTENTIAL",
                   help="potential.pt, an n2p2 folder, a SIMPLE-NN potential_saved or "
                   "dataset:NAME for a packaged one")
    p.add_argument("--reference", action="append", default=[], metavar="NAME|FILE",
                   help="compare with: a reference potential (" + ", ".join(REFERENCES)
                   + "), another potential file, or a YAML file of values with their sources "
                   "(dataset:mlearn-si/properties and dataset:mlearn-ni/properties ship PBE "
                   "values); repeatable")
    p.add_argument("--crystal", choices=CRYSTALS, default=None,
                   help="lattice to build (default: the element's ground state)")
    p.add_argument("--element", default=None,
                   help="element of the crystal (default: the potential's only element)")
    p.add_argument("--lattice", type=float, default=None,
                   help="starting lattice constant a, Å (relaxed; default: ASE's reference "
                   "value)")
    p.add_argument("--structure", default=None, metavar="FILE",
                   help="any crystal from a file instead (equation of state, elastic tensor "
                   "and phonons; no defects)")
    p.add_argument("--index", default="-1", help="frame of --structure (default last)")
    p.add_argument("--no-defects", action="store_true",
                   help="skip the vacancy and surface energies")
    p.add_argument("--no-phonons", action="store_true", help="skip the phonons")
    p.add_argument("--vacancy-repeat", type=options.positive_int, default=None, metavar="N",
                   help="vacancy in N^3 conventional cells (default: the smallest with at "
                   "least 60 atoms)")
    p.add_argument("--output", default="properties", help="output directory")
    p.add_argument("--no-plots", action="store_true")
    options.add_potential_units(p)
    p.add_argument("--reference-length-unit", default="angstrom",
                   help="length unit of an n2p2 reference potential (e.g. bohr)")
    p.add_argument("--reference-energy-unit", default="ev",
                   help="energy unit of an n2p2 reference potential (e.g. hartree)")
    p.set_defaults(run=run)


def reference(text: str, args: argparse.Namespace):
    """The :class:`Reference` ``text`` names: a values file, a reference potential or a
    potential file."""
    from gdfnn.export.formats import load_potential
    from gdfnn.reference import REFERENCES, get_reference
    from gdfnn.workflows.properties.references import Reference, is_values_file, read_values

    if is_values_file(text):
        return read_values(text)
    if text in REFERENCES:
        get_reference(text)  # fails here, in one line, where its package is missing
        return Reference(text, make_calculator=lambda: get_reference(text))
    potential = load_potential(text, length_unit=args.reference_length_unit,
                               energy_unit=args.reference_energy_unit)
    return Reference(label(text), make_calculator=calculator_of(potential),
                     elements=potential.elements)


def label(path: str) -> str:
    """A column's name for a potential file: its folder for ``potential.pt``."""
    p = Path(path)
    return p.parent.name if p.name == "potential.pt" else p.name.removeprefix("dataset:")


def calculator_of(potential):
    """A factory of ASE calculators of ``potential`` (one per relaxation)."""
    from gdfnn.calculator import NNPCalculator

    return lambda: NNPCalculator(potential)


def run(args: argparse.Namespace) -> int:
    from gdfnn.workflows.properties.report import format_table
    from gdfnn.workflows.properties.run import choose_crystal, run_properties

    potential = options.potential(args.potential, args)
    references = [reference(text, args) for text in args.reference]
    structure = options.structure(args) if args.structure else None
    crystal = choose_crystal(potential.elements, name=args.crystal, structure=structure,
                             source=args.structure or "--structure", element=args.element,
                             lattice=args.lattice)
    for ref in references:
        if ref.elements and not set(crystal.elements) <= set(ref.elements):
            raise InputError(f"--reference {ref.label}: knows {', '.join(ref.elements)}, not "
                             f"the crystal's {', '.join(crystal.elements)}")
        if ref.crystal and ref.crystal != crystal.name:
            raise InputError(f"--reference {ref.label}: its values are for {ref.crystal}, "
                             f"the crystal measured is {crystal.name}")
    result = run_properties(calculator_of(potential), crystal, references,
                            label=label(args.potential), output=args.output,
                            defects=not args.no_defects, phonons=not args.no_phonons,
                            vacancy_repeat=args.vacancy_repeat, plot=not args.no_plots)
    print(format_table(result))
    print(f"results in {args.output}/ (properties.json, properties.md, *.png)")
    return 0

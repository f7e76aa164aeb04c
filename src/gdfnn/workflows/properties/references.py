"""What ``gdfnn properties`` compares a potential with: another potential (computed by the
same code) or a YAML file of values with their sources (DFT, experiment).

A values file::

    name: DFT (PBE)
    crystal: diamond          # the lattice the values are for
    elements: [Si]
    values:
      lattice_constant: {value: 5.470, source: "..."}   # units as in UNITS
      C44: {value: 74.3, source: "..."}

``dataset:mlearn-si/properties`` and ``dataset:mlearn-ni/properties`` ship PBE values for
mlearn's Si and Ni.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gdfnn import datasets
from gdfnn.errors import InputError
from gdfnn.fileio import read_yaml

#: Every value a properties table can hold, with its unit; phonon rows are ``phonon_<point>``
#: (the distinct frequencies at a high-symmetry point, THz).
UNITS = {"lattice_constant": "Å", "c_over_a": "", "energy_per_atom": "eV",
         "bulk_modulus": "GPa", "bulk_modulus_derivative": "", "C11": "GPa", "C12": "GPa",
         "C13": "GPa", "C33": "GPa", "C44": "GPa", "bulk_modulus_elastic": "GPa",
         "vacancy_formation_energy": "eV", "surface_energy_100": "J/m^2",
         "surface_energy_110": "J/m^2", "surface_energy_111": "J/m^2",
         "surface_energy_001": "J/m^2", "pressure_at_reference_lattice": "GPa"}
PHONON_PREFIX = "phonon_"


@dataclass
class Reference:
    """A column of the properties table: a potential to compute with (``make_calculator``)
    or fixed ``values`` with their ``sources``."""

    label: str
    make_calculator: Callable[[], object] | None = None
    values: dict[str, float | list[float]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    crystal: str | None = None
    elements: list[str] | None = None


def is_values_file(text: str) -> bool:
    """Whether ``text`` names a YAML values file (a path or a ``dataset:`` part)."""
    return str(datasets.local_path(text)).endswith((".yaml", ".yml"))


def read_values(text: str) -> Reference:
    """The values file ``text`` (a path or ``dataset:NAME/properties``); a malformed one is
    one :class:`InputError` naming the file and the entry."""
    path = Path(datasets.local_path(text))
    if not path.is_file():
        raise InputError(f"{text}: no such properties file")
    data = read_yaml(path, InputError)
    if not isinstance(data, dict) or not isinstance(data.get("values"), dict):
        raise InputError(f"{path}: expected a mapping with 'values' (see gdfnn properties "
                         "--help)")
    values, sources = {}, {}
    for key, entry in data["values"].items():
        if key not in UNITS and not key.startswith(PHONON_PREFIX):
            raise InputError(f"{path}: unknown property {key!r}; known: {', '.join(UNITS)}")
        value = entry.get("value") if isinstance(entry, dict) else None
        numbers = value if key.startswith(PHONON_PREFIX) and isinstance(value, list) else [value]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
            raise InputError(f"{path}: {key}: expected {{value: NUMBER, source: TEXT}} (a "
                             "phonon point: a list of frequencies, THz)")
        values[key] = [float(v) for v in value] if isinstance(value, list) else float(value)
        sources[key] = str(entry.get("source", ""))
    return Reference(str(data.get("name", path.stem)), values=values, sources=sources,
                     crystal=data.get("crystal"), elements=data.get("elements"))

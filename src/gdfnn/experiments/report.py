"""The table over seeds and the result files shared by the experiments."""

from __future__ import annotations

import json
from pathlib import Path

from gdfnn.analysis.tables import markdown_table, mean_std
from gdfnn.fileio import atomic_write


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
            mean, std = mean_std([float(t[1][k][c]) for t in tables])
            numbers[name][header] = [mean, std]
            cells.append(f"{mean:.4g} ± {std:.2g}")
        rows.append(cells)
    return markdown_table(headers, rows), numbers


def write_results(out: Path, results: dict, markdown: str, suffix: str = "") -> None:
    """``results{suffix}.json`` and ``report{suffix}.md`` in ``out``, each written whole."""
    with atomic_write(out / f"results{suffix}.json") as f:
        json.dump(results, f, indent=2)
    with atomic_write(out / f"report{suffix}.md") as f:
        f.write(markdown + "\n")

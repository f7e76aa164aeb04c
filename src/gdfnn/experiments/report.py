"""Markdown tables and result files shared by the experiments."""

from __future__ import annotations

import json
from pathlib import Path

from gdfnn.fileio import atomic_write


def markdown_table(headers: list[str], rows: list[list]) -> str:
    def cell(v):
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(out: Path, results: dict, markdown: str) -> None:
    with atomic_write(out / "results.json") as f:
        json.dump(results, f, indent=2)
    with atomic_write(out / "report.md") as f:
        f.write(markdown + "\n")

"""Markdown tables and the mean ± spread over seeds, shared by ``gdfnn reproduce`` and
``gdfnn sweep``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """A markdown table; float cells with four decimals, others as ``str``."""
    def cell(v):
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1) over seeds; std exactly 0 for one value
    or equal values (not the rounding noise of the mean), both NaN for none."""
    values = np.asarray(values, dtype=float)
    if not len(values):
        return math.nan, math.nan
    if np.all(values == values[0]):
        return float(values[0]), 0.0
    return float(values.mean()), float(values.std(ddof=1))

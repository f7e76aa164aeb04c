"""Markdown tables and mean ± sample std over seeds (shared by reproduce and sweep)."""

import math

from gdfnn.analysis.tables import markdown_table, mean_std


def test_mean_std_is_sample_std_zero_for_one_value_nan_for_none():
    assert mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert mean_std([12.2] * 3) == (12.2, 0.0)  # not 2e-15 of rounding
    assert mean_std([4.0]) == (4.0, 0.0)
    assert all(math.isnan(v) for v in mean_std([]))


def test_markdown_table_formats_floats_and_keeps_strings():
    text = markdown_table(["name", "rmse"], [["a", 0.123456], ["b", "1 ± 0.1"]])
    assert text.splitlines() == ["| name | rmse |", "|---|---|", "| a | 0.1235 |",
                                 "| b | 1 ± 0.1 |"]

"""The candidate pool and the column-subset selection of symmetry functions."""

from __future__ import annotations

import numpy as np
import pytest

from gdfnn.descriptors.params import ANGULAR_NARROW, ANGULAR_WIDE, RADIAL
from gdfnn.descriptors.selection import candidate_pool, select_columns


def test_the_pool_of_one_and_of_two_elements():
    one = candidate_pool(["Si"], 6.0)
    assert len(one) == 104
    assert sum(f.kind == RADIAL for f in one) == 24
    assert sum(f.kind == ANGULAR_NARROW for f in one) == sum(f.kind == ANGULAR_WIDE
                                                              for f in one) == 40
    assert all(f.rs < 6.0 - 0.3 for f in one)  # no centre where the cutoff leaves nothing
    assert len(set(one)) == len(one)
    two = candidate_pool(["O", "H"], 5.0)
    assert len(two) == 2 * 24 + 3 * 80  # per neighbour element; per unordered pair
    with pytest.raises(ValueError, match="r_min < cutoff"):
        candidate_pool(["Si"], 1.0)


def greedy_cur(z: np.ndarray, count: int) -> list[int]:
    """Independent, on the data matrix: the column with the largest weight in the first
    right singular vector, projected out of every column, repeat."""
    z = z.copy()
    picks = []
    for _ in range(count):
        k = int(np.argmax(np.linalg.svd(z, full_matrices=False)[2][0] ** 2))
        picks.append(k)
        q = z[:, k] / np.linalg.norm(z[:, k])
        z -= np.outer(q, q @ z)
    return picks


def test_selection_equals_greedy_cur_on_the_standardised_columns():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(300, 6))
    x = np.column_stack([base, base @ rng.normal(size=(6, 10)) + 0.3 * rng.normal(
        size=(300, 10))]) * rng.uniform(0.01, 100, size=16) + rng.normal(size=16)
    z = (x - x.mean(0)) / x.std(0)
    assert list(select_columns(x, 8)) == greedy_cur(z, 8)


def test_duplicates_and_constants_are_not_taken():
    rng = np.random.default_rng(1)
    a, b, c = rng.normal(size=(3, 200))
    x = np.column_stack([a, b, 2 * a + 1, np.full(200, 3.0), c])
    picked = set(select_columns(x, 3).tolist())
    assert picked == {1, 4, 0} or picked == {1, 4, 2}
    with pytest.raises(ValueError, match="only 4 of the 5 candidates vary"):
        select_columns(x, 5)
    with pytest.raises(ValueError, match="span only 3 independent directions"):
        select_columns(x, 4)  # a and 2a + 1 are one


def test_kept_columns_come_first_and_what_they_span_is_not_taken_again():
    rng = np.random.default_rng(2)
    a, b, c = rng.normal(size=(3, 200))
    x = np.column_stack([a, b, 2 * a + 1, np.full(200, 3.0), c + 0.1 * b])
    picked = select_columns(x, 3, keep=[2, 3])
    assert list(picked[:2]) == [3, 2] and picked[2] in (1, 4)  # a (0) is 2a + 1: spanned
    z = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1)
    q = z[:, 2] / np.linalg.norm(z[:, 2])
    rest = z - np.outer(q, q @ z)
    rest[:, [0, 2, 3]] = 0
    assert picked[2] == greedy_cur(rest, 1)[0]
    with pytest.raises(ValueError, match="2 are to be kept"):
        select_columns(x, 1, keep=[0, 1])

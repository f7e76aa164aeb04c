"""Train/validation/test split per group tag (SIMPLE-NN semantics), seeded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gdfnn.data.structure import Structure


@dataclass(frozen=True)
class Split:
    """Indices into the structure list, each sorted ascending."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def split_by_group(
    structures: Sequence[Structure], valid_rate: float, test_rate: float = 0.0, seed: int = 0
) -> Split:
    """Shuffle the structures of each group tag, then take ``round(rate * n_group)`` of
    each group for validation and for test; the rest is training.

    The same structures, rates and seed always give the same split.
    """
    if not (0 <= valid_rate < 1 and 0 <= test_rate < 1 and valid_rate + test_rate < 1):
        raise ValueError(f"valid_rate {valid_rate} and test_rate {test_rate} must be in [0, 1) "
                         "with a sum below 1")
    rng = np.random.default_rng(seed)
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(structures):
        groups.setdefault(s.group, []).append(i)
    train, valid, test = [], [], []
    for members in groups.values():
        order = rng.permutation(np.asarray(members))
        n_valid = round(valid_rate * len(order))
        n_test = round(test_rate * len(order))
        valid.extend(order[:n_valid])
        test.extend(order[n_valid:n_valid + n_test])
        train.extend(order[n_valid + n_test:])
    return Split(*(np.sort(np.asarray(x, dtype=np.int64)) for x in (train, valid, test)))

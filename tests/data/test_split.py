import numpy as np
import pytest
from ase import Atoms

from gdfnn.data import Structure, split_by_group


def frames(counts: dict[str, int]) -> list[Structure]:
    atoms = Atoms("Si2", positions=[[0, 0, 0], [1.5, 1.5, 1.5]], cell=[5, 5, 5], pbc=True)
    return [Structure(atoms, group=g) for g, n in counts.items() for _ in range(n)]


def test_split_is_per_group_disjoint_complete_and_seeded():
    data = frames({"a": 50, "b": 10, "c": 1})
    split = split_by_group(data, valid_rate=0.2, test_rate=0.1, seed=3)
    every = np.concatenate([split.train, split.valid, split.test])
    assert sorted(every.tolist()) == list(range(61))
    groups = np.array([s.group for s in data])
    assert (groups[split.valid] == "a").sum() == 10 and (groups[split.valid] == "b").sum() == 2
    assert (groups[split.test] == "a").sum() == 5 and (groups[split.test] == "b").sum() == 1
    assert "c" in groups[split.train]
    again = split_by_group(data, valid_rate=0.2, test_rate=0.1, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(split.__dict__.values(),
                                                    again.__dict__.values(), strict=True))
    other = split_by_group(data, valid_rate=0.2, test_rate=0.1, seed=4)
    assert not np.array_equal(split.valid, other.valid)


def test_bad_rates():
    with pytest.raises(ValueError, match="valid_rate"):
        split_by_group(frames({"a": 3}), valid_rate=0.6, test_rate=0.5)

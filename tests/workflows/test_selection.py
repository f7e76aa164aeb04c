"""gdfnn select and gdfnn prune on frames: files written, frames chosen for a reason."""

import csv

import ase.io
import numpy as np
import pytest
import torch
from ase.build import bulk

from gdfnn.cli import main
from gdfnn.data import read_structures
from gdfnn.errors import InputError
from gdfnn.workflows.selection import prune, select


@pytest.fixture
def trained_on_bulk(random_potential, morse_frames):
    """A potential whose GDF reference is six rattled bulk cells."""
    pot = random_potential(elements=("Si",))
    frames = morse_frames(6)
    x = torch.cat([b.values for b in pot.descriptor.compute_many(frames, progress=False)])
    pot.gdf_reference = {"Si": pot.transforms["Si"].scaled(x).double()}
    pot.metadata["gdf"] = {"sigma": {"Si": 0.1}}
    return pot


def candidates(tmp_path, morse_frames):
    """The six training frames, two of them again, then a vacancy cell and a compressed cell
    (indices 8, 9)."""
    frames = morse_frames(6)
    frames += frames[:2]
    vacancy = bulk("Si", "diamond", a=5.43, cubic=True)
    del vacancy[0]
    squeezed = bulk("Si", "diamond", a=5.0, cubic=True)
    ase.io.write(tmp_path / "pool.xyz", [*frames, vacancy, squeezed])
    return read_structures(tmp_path / "pool.xyz")


def test_select_picks_the_frames_the_training_set_lacks(trained_on_bulk, morse_frames,
                                                         tmp_path, capsys):
    pool = candidates(tmp_path, morse_frames)
    picks = select(trained_on_bulk, pool, 3, tmp_path / "sel")
    assert {p.frame for p in picks[:2]} == {8, 9}
    assert picks[0].score < 1e-3 < picks[2].score
    chosen = ase.io.read(tmp_path / "sel" / "selected.extxyz", ":")
    assert [len(a) for a in chosen] == [len(pool[p.frame].atoms) for p in picks]
    rows = list(csv.DictReader(open(tmp_path / "sel" / "selection.csv")))
    assert [int(r["frame"]) for r in rows] == [p.frame for p in picks]
    assert float(rows[0]["min_rho"]) == pytest.approx(picks[0].score, rel=1e-5)
    trained_on_bulk.save(tmp_path / "pot.pt")
    assert main(["select", str(tmp_path / "pool.xyz"), "--potential", str(tmp_path / "pot.pt"),
                 "--n", "3", "--output", str(tmp_path / "cli")]) == 0
    assert "min rho" in capsys.readouterr().out
    cli_rows = list(csv.DictReader(open(tmp_path / "cli" / "selection.csv")))
    assert [r["frame"] for r in cli_rows] == [r["frame"] for r in rows]  # deterministic


def test_select_refuses_a_potential_without_reference(random_potential, morse_frames, tmp_path):
    with pytest.raises(InputError, match="no GDF reference"):
        select(random_potential(elements=("Si",)), candidates(tmp_path, morse_frames), 2)


def test_prune_drops_copies_before_distinct_frames(morse_frames, tmp_path, capsys):
    frames = morse_frames(6)
    ase.io.write(tmp_path / "train.xyz", [*frames, frames[1].copy(), frames[1].copy()])
    data = read_structures(tmp_path / "train.xyz")
    kept, dropped = prune(data, 0.75, tmp_path / "kept.xyz")
    assert len(kept) == 6 and dropped[0].frame in {1, 6, 7}  # a triplicate goes first
    assert not {1, 6, 7} <= set(kept)
    out = read_structures(tmp_path / "kept.xyz")
    assert len(out) == 6
    np.testing.assert_allclose(out[0].forces, data[kept[0]].forces)  # labels kept
    assert len(list(csv.DictReader(open(tmp_path / "kept_dropped.csv")))) == 2
    with pytest.raises(InputError, match="--keep"):
        prune(data, 1.5)
    assert main(["prune", str(tmp_path / "train.xyz"), "--keep", "0.5", "--output",
                 str(tmp_path / "half.xyz")]) == 0
    assert "kept 4 of 8" in capsys.readouterr().out


def test_prune_per_group_keeps_the_fraction_of_every_group(morse_frames, random_potential,
                                                           tmp_path):
    frames = morse_frames(8)  # every fourth frame "hot", the others "bulk"
    ase.io.write(tmp_path / "train.xyz", frames)
    data = read_structures(tmp_path / "train.xyz")
    pot = random_potential(elements=("Si",))  # fixed features for both runs below
    kept, _ = prune(data, 0.5, potential=pot, per_group=True)
    groups = [data[i].group for i in kept]
    assert groups.count("hot") == 1 and groups.count("bulk") == 3
    alone = [i for i, s in enumerate(data) if s.group == "bulk"]
    bulk_only = prune([data[i] for i in alone], 0.5, potential=pot)[0]
    assert [alone[i] for i in bulk_only] == [i for i in kept if data[i].group == "bulk"]

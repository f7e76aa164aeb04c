import ase.io
import numpy as np
import pytest
import torch

from gdfnn.data import read_structures
from gdfnn.data.store import (
    DG,
    ENERGY,
    FEATURES,
    FORCES,
    PAIRS,
    VIRIAL,
    FeatureStore,
    store_digest,
    write_store,
)
from gdfnn.descriptors import SymmetryFunctions
from gdfnn.errors import InputError


@pytest.fixture
def frames(tmp_path, labelled_si):
    ase.io.write(tmp_path / "si.xyz", labelled_si(5))
    return read_structures(tmp_path / "si.xyz")


def test_store_round_trip_and_subsets(tmp_path, frames):
    sf = SymmetryFunctions.default(["Si"], cutoff=4.0)
    write_store(tmp_path / "f.h5", frames, sf, digest="abc", progress=False)
    store = FeatureStore(tmp_path / "f.h5")
    assert store.digest == "abc" and store.n_structures == 5 and store.elements == ["Si"]
    subset = store.load([3, 1])
    assert subset.n_atoms.tolist() == [8, 8]
    for k, s in enumerate([3, 1]):
        block = sf.compute(frames[s].atoms, derivatives=True)
        rows = slice(8 * k, 8 * k + 8)
        assert torch.allclose(subset.arrays[FEATURES][rows], block.values)
        assert torch.allclose(subset.arrays[VIRIAL][rows], block.virial)
        np.testing.assert_allclose(subset.arrays[FORCES][rows], frames[s].forces)
        lo, hi = subset.arrays["pair_offset"][k:k + 2].tolist()
        assert torch.equal(subset.arrays[PAIRS][lo:hi] - 8 * k, block.pairs)
        assert torch.allclose(subset.arrays[DG][lo:hi], block.dG)
    assert subset.arrays[ENERGY].tolist() == [frames[3].energy, frames[1].energy]
    assert subset.group == ["bulk", "bulk"] and subset.structure_of_atom().tolist() == [0] * 8 + [1] * 8
    light = store.load([3, 1], features_only=True)
    assert torch.equal(light.arrays[FEATURES], subset.arrays[FEATURES])
    assert DG not in light.arrays and light.n_atoms.tolist() == [8, 8]
    chunks = list(store.iter_chunks([0, 1, 2, 3, 4], 2))
    assert [c.n_structures for c in chunks] == [2, 2, 1]


def test_digest_follows_inputs_and_descriptor(frames):
    sf = SymmetryFunctions.default(["Si"])
    base = store_digest(frames, sf.to_dict(), "float64")
    assert base == store_digest(frames, sf.to_dict(), "float64")
    assert base != store_digest(frames, sf.to_dict(), "float32")
    assert base != store_digest(frames, SymmetryFunctions.default(["Si"], 5.0).to_dict(), "float64")
    frames[2].atoms.positions[0, 0] += 1e-9
    assert base != store_digest(frames, sf.to_dict(), "float64")


def test_failed_write_leaves_nothing(tmp_path, frames):
    frames[4].atoms.symbols[0] = "C"  # unknown to the descriptor: featurisation fails
    with pytest.raises(InputError):
        write_store(tmp_path / "f.h5", frames, SymmetryFunctions.default(["Si"]), progress=False)
    assert list(tmp_path.glob("*.h5*")) == [] and not list(tmp_path.glob(".f.h5*"))


def test_not_a_store(tmp_path):
    (tmp_path / "x.h5").write_text("nothing")
    with pytest.raises(InputError, match="not a gdfnn feature store"):
        FeatureStore(tmp_path / "x.h5")

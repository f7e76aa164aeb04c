"""The memory plan: what a training set holds is known before it is loaded, a run that would
not fit streams in chunks that do (said in one line), and one that cannot fit at all stops
with one line."""

import logging

import numpy as np
import pytest
import torch

from gdfnn import train
from gdfnn.errors import ConfigError
from gdfnn.training.batches import TrainingSet
from gdfnn.workflows import memory
from gdfnn.workflows.memory import (
    CHUNKS_ALIVE,
    GB,
    MEMORY_SHARE,
    peak_bytes,
    plan_memory,
    set_bytes,
    structure_bytes,
)
from gdfnn.workflows.prepare import prepare
from tests.training.test_trainer import weights_of


def _held(data_set: TrainingSet) -> int:
    """Bytes of the per-atom and per-pair tensors of a built set."""
    names = ("x", "dx", "virial", "forces", "atom_weight", "species", "pairs")
    return sum(getattr(data_set, n).nbytes for n in names if getattr(data_set, n) is not None)


@pytest.mark.parametrize(("dtype", "stress"), [(torch.float64, False), (torch.float32, True)])
def test_the_estimate_is_what_a_built_set_holds(toy_config, dtype, stress):
    """set_bytes counts the set's arrays to within the per-structure labels and the atom-row
    index (float64 and float32 sets, with and without the virial terms)."""
    from gdfnn.model.scaling import fit_transforms

    prepared = prepare(toy_config())
    store, indices = prepared.store, prepared.split.train
    data = store.load(indices, virial=stress)
    a = data.arrays
    transforms = fit_transforms(a["G"], a["species"], prepared.descriptor.n_features,
                                prepared.descriptor.elements, "minmax", False, 0.0)
    built = TrainingSet(data, transforms, prepared.descriptor.elements, dtype, stress,
                        consume=True)
    assert "dG" not in data.arrays  # consumed: not held twice
    estimate = set_bytes(store, indices, dtype, stress)
    assert _held(built) <= estimate <= 1.1 * _held(built)
    assert structure_bytes(store, indices, dtype, stress).sum() == estimate
    # float32 from a float64 store: the loaded Jacobian is held beside the new one
    assert peak_bytes(store, indices, dtype, stress) >= estimate
    assert (peak_bytes(store, indices, dtype, stress) > estimate) == (dtype == torch.float32)


def test_a_set_that_fits_stays_in_memory_one_that_does_not_streams_in_chunks_that_fit(
        toy_config, caplog):
    prepared = prepare(toy_config())
    store, split = prepared.store, prepared.split
    need = peak_bytes(store, split.train, torch.float64, False) + peak_bytes(
        store, split.valid, torch.float64, True)
    roomy = plan_memory(store, split.train, split.valid, torch.float64, False,
                        limit_gb=2 * need / MEMORY_SHARE / GB)
    assert roomy.chunk is None and roomy.needed == need
    limit = 0.6 * need / MEMORY_SHARE / GB
    with caplog.at_level(logging.INFO, logger="gdfnn"):
        tight = plan_memory(store, split.train, split.valid, torch.float64, False, limit_gb=limit)
    assert 1 <= tight.chunk < len(split.train)
    per = structure_bytes(store, split.train, torch.float64, False)
    room = (MEMORY_SHARE * limit * GB - peak_bytes(store, split.valid, torch.float64, True)) \
        / CHUNKS_ALIVE
    largest = np.sort(per)[::-1]
    assert largest[:tight.chunk].sum() <= room  # any chunk fits, the largest structures too
    assert largest[:tight.chunk + 1].sum() > room  # ... and it is the largest such chunk
    assert any("streamed from the feature store in chunks of" in r.getMessage()
               and "training.memory_limit_gb" in r.getMessage() for r in caplog.records)
    asked = plan_memory(store, split.train, split.valid, torch.float64, False, stream_chunk=3,
                        limit_gb=limit)
    assert asked.chunk == 3  # a chunk given is used as it is


def test_a_machine_too_small_for_one_structure_stops_with_one_line(toy_config, monkeypatch):
    prepared = prepare(toy_config())
    monkeypatch.setattr(memory, "available_memory", lambda: 1000)
    with pytest.raises(ConfigError, match=r"GB available on this machine: not even one "
                                          r"training structure at a time fits"):
        plan_memory(prepared.store, prepared.split.train, prepared.split.valid, torch.float64,
                    False)


def test_available_memory_is_what_the_kernel_says_at_most():
    meminfo = memory._meminfo("MemAvailable")
    assert 0 < memory.available_memory() <= meminfo


def test_a_run_over_its_memory_limit_streams_as_the_same_chunks_given_by_hand(toy_config,
                                                                               tmp_path):
    """Training under a limit the sets do not fit in equals, bit for bit, the run that asks
    for the planned chunk itself: the decision changes how the data is held, nothing else."""
    config = toy_config(output={"directory": "auto"})
    prepared = prepare(config)
    split = prepared.split
    need = peak_bytes(prepared.store, split.train, torch.float64, False) + peak_bytes(
        prepared.store, split.valid, torch.float64, True)
    limit = 0.6 * need / MEMORY_SHARE / GB
    chunk = plan_memory(prepared.store, split.train, split.valid, torch.float64, False,
                        limit_gb=limit).chunk
    train(toy_config(training={"memory_limit_gb": limit}, output={"directory": "auto"}))
    train(toy_config(training={"stream_chunk": chunk}, output={"directory": "by_hand"}))
    a, b = weights_of(tmp_path / "auto"), weights_of(tmp_path / "by_hand")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_streamed_chunks_are_random_sets_of_blocks_each_structure_once_per_epoch(toy_config):
    """Each epoch deals every training structure into exactly one chunk of at most ``chunk``
    structures, blocks of consecutive ones mixed across the set (not runs of the store's
    order, which is file by file), the same for the same generator state."""
    from gdfnn.training.batches import STREAM_BLOCK, StreamedSet

    indices = np.arange(0, 200, 2)  # 100 training structures
    streamed = StreamedSet(None, indices, 4 * STREAM_BLOCK, None)
    dealt = streamed.deal(torch.Generator().manual_seed(0))
    assert sorted(np.concatenate(dealt).tolist()) == indices.tolist()
    assert all(len(c) <= 4 * STREAM_BLOCK and np.all(np.diff(c) > 0) for c in dealt)
    spans = [c[-1] - c[0] for c in dealt[:-1]]
    assert max(spans) > 2 * 4 * STREAM_BLOCK  # mixed: wider than a run of the set
    again = streamed.deal(torch.Generator().manual_seed(0))
    assert all(np.array_equal(a, b) for a, b in zip(dealt, again, strict=True))
    small = StreamedSet(None, indices, 3, None).deal(torch.Generator().manual_seed(1))
    assert max(len(c) for c in small) == 3  # a chunk below a block: blocks of the chunk

"""Two data-parallel processes (gloo) give the result of one process with the same global
batch, GDF weighting included, starting from an empty output directory."""

import os
import socket
import warnings

import pytest
import torch
import torch.multiprocessing as mp

from gdfnn import train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, config, caught):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        potential = train(config)
    caught[rank] = ([str(w.message) for w in seen], potential is not None)


def _state(directory):
    return torch.load(directory / "potential.pt", weights_only=True)["state_dict"]


def _two_ranks_equal_one(toy_config, tmp_path, **sections):
    train(toy_config(output={"directory": "single"}, **sections))
    double = toy_config(output={"directory": "double"}, **sections)
    assert not (tmp_path / "double").exists()
    caught = mp.Manager().dict()
    mp.spawn(_worker, args=(2, _free_port(), double, caught), nprocs=2, join=True)
    a, b = _state(tmp_path / "single"), _state(tmp_path / "double")
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=1e-9, atol=1e-11), key
    for rank in range(2):
        messages, returned = caught[rank]
        assert returned, f"rank {rank} got no potential back"
        assert not [m for m in messages if "strides" in m], messages


def test_two_processes_with_gdf_equal_one_from_an_empty_directory(toy_config, tmp_path):
    # each rank featurises only after rank 0 wrote the store; GDF is written by rank 0 alone
    # (this crashed with "unable to lock file" when every rank touched the store)
    _two_ranks_equal_one(toy_config, tmp_path,
                         gdf={"enabled": True, "sigma": 0.05, "modifier": "linear"})


@pytest.mark.slow
def test_two_processes_equal_one(toy_config, tmp_path):
    _two_ranks_equal_one(toy_config, tmp_path)


def test_each_rank_holds_a_disjoint_share_and_a_global_batch_is_the_union_of_theirs():
    """Rank r loads the training structures at positions r, r + W, ...; the structures of a
    global batch it holds, mapped back through its shard, are exactly the batch's members at
    those positions: together the ranks hold every structure once, and every batch whole."""
    from gdfnn.training.distributed import Shard, single

    train = torch.arange(100, 137)  # the store indices of 37 training structures
    world = 3
    shards = [Shard(rank, world, torch.ones(37, dtype=torch.long)) for rank in range(world)]
    loaded = [train[rank::world] for rank in range(world)]
    assert sorted(torch.cat(loaded).tolist()) == train.tolist()  # disjoint, all of them
    batch = torch.randperm(37, generator=torch.Generator().manual_seed(1))[:16]
    gathered = [loaded[r][s.local(batch)] for r, s in enumerate(shards)]
    assert sorted(torch.cat(gathered).tolist()) == sorted(train[batch].tolist())
    whole = single(torch.ones(37, dtype=torch.long))
    assert torch.equal(whole.local(batch), batch)  # one process: the batch itself


def test_two_processes_equal_one_with_batches_drawn_once(toy_config, tmp_path):
    """``shuffle: batches``: each rank's share of every batch is a window of its own
    structures, reordered once; the result is one process's."""
    _two_ranks_equal_one(toy_config, tmp_path, training={"shuffle": "batches", "epochs": 4,
                                                         "batch_size": 4, "valid_every": 2,
                                                         "seed": 3, "learning_rate": 5e-3,
                                                         "final_learning_rate": 1e-3})


@pytest.mark.slow
def test_two_processes_streaming_equal_one(toy_config, tmp_path):
    """A streamed set: every rank reads each chunk whole and trains on a contiguous share of
    every batch (a batch of 5 splits 2 + 3); the result is one process's."""
    _two_ranks_equal_one(toy_config, tmp_path, training={"stream_chunk": 7, "epochs": 3,
                                                         "batch_size": 5, "valid_every": 3})

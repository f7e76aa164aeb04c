"""GDF with torch.distributed: queries split by rank, result gathered on every rank."""

import numpy as np
import torch.distributed as dist
import torch.multiprocessing as mp

from gdfnn.gdf import density


def _worker(rank, world, init_file, X, out):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    try:
        out[rank] = (density(X, 0.07, distributed=True).numpy(),
                     density(X, 0.07).numpy())  # not asked: each rank computes everything
    finally:
        dist.destroy_process_group()


def test_two_ranks_equal_one_process(tmp_path):
    X = np.random.default_rng(0).normal(0, 0.1, (301, 5))
    manager = mp.Manager()
    out = manager.dict()
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), X, out), nprocs=2, join=True)
    single = density(X, 0.07).numpy()
    for rank in range(2):
        split, whole = out[rank]
        np.testing.assert_allclose(split, single, rtol=1e-12)
        np.testing.assert_array_equal(whole, single)

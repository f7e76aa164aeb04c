"""Two data-parallel processes (gloo) give the result of one process with the same global
batch."""

import os
import socket

import torch
import torch.multiprocessing as mp

from gdfnn import train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, config):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    train(config)


def test_two_processes_equal_one(toy_config, tmp_path):
    single = toy_config(output={"directory": "single"})
    train(single)
    double = toy_config(output={"directory": "double"})
    mp.spawn(_worker, args=(2, _free_port(), double), nprocs=2, join=True)
    a = torch.load(tmp_path / "single" / "potential.pt", weights_only=True)["weights"]
    b = torch.load(tmp_path / "double" / "potential.pt", weights_only=True)["weights"]
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=1e-9, atol=1e-11), key

import torch


def fields(batch):
    return {k: v for k, v in vars(batch).items() if isinstance(v, torch.Tensor)}


def test_window_equals_gathered_batch_and_reordering_keeps_structures(toy_set):
    data, _ = toy_set
    window, gathered = data.window(3, 7), data.batch(torch.arange(3, 7))
    for name, value in fields(gathered).items():
        assert torch.equal(fields(window)[name], value), name
    order = torch.tensor([5, 0, 11, 2, 7, 1, 3, 4, 6, 8, 9, 10, 12, 13, 14, 15])
    shuffled = data.reordered(order)
    for k in [0, 2, 5]:
        a, b = shuffled.window(k, k + 1), data.batch(order[k:k + 1])
        for name, value in fields(b).items():
            assert torch.equal(fields(a)[name], value), name
    assert shuffled.group == [data.group[i] for i in order.tolist()]


def test_batches_gathered_into_kept_buffers_equal_fresh_ones_and_reuse_the_storage(toy_set):
    data, _ = toy_set
    buffers = {}
    first = data.batch(torch.tensor([9, 2, 14, 5]), buffers)
    storage = buffers["dx"].data_ptr(), buffers["virial"].data_ptr()
    for name, value in fields(data.batch(torch.tensor([9, 2, 14, 5]))).items():
        assert torch.equal(fields(first)[name], value), name
    smaller = torch.tensor([3, 0, 7])  # fits in the kept storage: no new allocation
    second = data.batch(smaller, buffers)
    assert (buffers["dx"].data_ptr(), buffers["virial"].data_ptr()) == storage
    assert second.dx.data_ptr() == storage[0]
    for name, value in fields(data.batch(smaller)).items():
        assert torch.equal(fields(second)[name], value), name
    larger = torch.arange(16)
    for name, value in fields(data.batch(larger)).items():
        assert torch.equal(fields(data.batch(larger, buffers))[name], value), name
    assert data.batch(torch.tensor([], dtype=torch.long), buffers).dx.shape[0] == 0

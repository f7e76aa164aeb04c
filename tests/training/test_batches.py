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

"""Last-layer prediction rigidity (gdfnn.model.rigidity) against a direct computation."""

import torch

from gdfnn.model.network import AtomicEnergies
from gdfnn.model.rigidity import (
    RIDGE,
    fit_rigidity,
    heldout_rigidity,
    last_hidden,
    read_rigidity_metadata,
    rigidity,
    rigidity_metadata,
)


def networks() -> AtomicEnergies:
    torch.manual_seed(0)
    return AtomicEnergies(["Si", "C"], {"Si": 4, "C": 3}, [6, 5], "tanh").double()


def test_the_last_hidden_layer_is_the_network_without_its_output_layer_and_a_bias_one():
    nets = networks()
    x = torch.randn(7, 4, dtype=torch.float64)
    species = torch.tensor([0, 1, 0, 0, 1, 1, 0])
    h = last_hidden(nets, x, species)
    assert h.shape == (7, 6) and torch.all(h[:, -1] == 1)
    for n, element in enumerate(nets.elements):
        mine = species == n
        inner = torch.nn.Sequential(*list(nets.nets[element])[:-1])
        torch.testing.assert_close(h[mine, :-1], inner(x[mine, :nets.n_features[element]]))
        # the output layer applied to h~ gives the atomic energy
        out = nets.nets[element][-1]
        weights = torch.cat([out.weight.flatten(), out.bias])
        torch.testing.assert_close(h[mine] @ weights, nets(x, species)[mine])


def test_the_fit_in_batches_is_the_regularised_inverse_of_the_training_covariance():
    nets = networks()
    x = torch.randn(40, 4, dtype=torch.float64)
    species = torch.tensor([0, 1] * 20)
    whole = fit_rigidity(nets, [(x, species)])
    halves = fit_rigidity(nets, [(x[:13], species[:13]), (x[13:], species[13:])])
    for element, inverse in whole.items():
        h = last_hidden(nets, x, species)[species == nets.elements.index(element)]
        c = h.T @ h
        direct = torch.linalg.inv(c + RIDGE * torch.trace(c) / 6 * torch.eye(6,
                                                                             dtype=c.dtype))
        torch.testing.assert_close(inverse, direct)
        torch.testing.assert_close(halves[element], inverse)
    assert fit_rigidity(nets, [(x, torch.zeros(40, dtype=torch.long))]).keys() == {"Si"}


def test_atoms_like_the_training_atoms_are_rigid_and_atoms_far_from_them_are_not():
    nets = networks()
    torch.manual_seed(1)
    train = 0.1 * torch.randn(200, 4, dtype=torch.float64)
    species = torch.zeros(200, dtype=torch.long)
    inverse = fit_rigidity(nets, [(train, species)])["Si"]
    near = rigidity(last_hidden(nets, 0.1 * torch.randn(50, 4, dtype=torch.float64),
                                species[:50]), inverse)
    far = rigidity(last_hidden(nets, 3.0 + torch.randn(50, 4, dtype=torch.float64),
                               species[:50]), inverse)
    assert far.min() > 10 * near.max()
    record = read_rigidity_metadata({"rigidity": rigidity_metadata({"Si": inverse})})
    torch.testing.assert_close(record["Si"], inverse)
    assert read_rigidity_metadata({}) == {}


def test_a_frame_held_out_reads_the_rigidity_of_a_fit_without_it():
    """heldout_rigidity (the frame's rows removed from C inside one solve) equals the
    rigidity of each frame's atoms against C^-1 refitted on the other frames alone (with the
    full set's ridge), for frames of one to nine atoms."""
    nets = networks()
    torch.manual_seed(2)
    x = torch.randn(60, 4, dtype=torch.float64)
    species = torch.zeros(60, dtype=torch.long)
    frame = torch.repeat_interleave(torch.arange(9), torch.tensor([1, 3, 9, 5, 8, 9, 7, 9, 9]))
    h = last_hidden(nets, x, species)
    c = h.T @ h
    ridge = RIDGE * torch.trace(c) / 6 * torch.eye(6, dtype=c.dtype)
    held_out = heldout_rigidity(h, frame, c + ridge)
    for f in range(9):
        mine = frame == f
        others = h[~mine]
        inverse = torch.linalg.inv(others.T @ others + ridge)
        torch.testing.assert_close(held_out[mine], rigidity(h[mine], inverse))
    assert torch.all(held_out > rigidity(h, torch.linalg.inv(c + ridge)))

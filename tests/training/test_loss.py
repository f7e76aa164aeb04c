import torch

from gdfnn.data.store import STRESS
from gdfnn.training.batches import TrainingSet
from gdfnn.training.loss import loss_terms, predict


def test_eq3_with_unit_weights_is_eq1_and_one_weight_touches_one_atom(toy_set):
    data, model = toy_set
    batch = data.batch(torch.arange(3))
    pred = predict(model, batch, forces=True)
    squared = ((batch.forces - pred.forces) ** 2).sum(1)  # |F_j^ref - F_j|^2 per atom
    weights = torch.linspace(0.2, 3.0, squared.numel(), dtype=squared.dtype)
    batch.atom_weight = weights.clone()
    weighted = loss_terms(pred, batch, 0.1)
    # eq. 3 by hand: mu / (3 M) sum_j w_j |dF_j|^2 (structure weights are 1 here)
    assert torch.allclose(weighted["force"], 0.1 / (3 * squared.numel()) * (weights * squared)
                          .sum(), rtol=1e-12)
    batch.atom_weight = torch.ones_like(batch.atom_weight)
    base = loss_terms(pred, batch, 0.1)
    # eq. 1 by hand, and eq. 3 with unit weights is it
    assert torch.allclose(base["force"], 0.1 / (3 * squared.numel()) * squared.sum(),
                          rtol=1e-12)
    assert torch.equal(weighted["energy"], base["energy"])
    j = 5
    batch.atom_weight[j] = 3.0
    changed = loss_terms(pred, batch, 0.1)
    error_j = ((batch.forces[j] - pred.forces[j]) ** 2).sum()
    expected = base["force"] + 0.1 / (3 * batch.x.shape[0]) * 2.0 * error_j
    assert torch.allclose(changed["force"], expected, rtol=1e-12)
    assert torch.equal(changed["energy"], base["energy"])


def test_loss_formula_by_hand(toy_set):
    data, model = toy_set
    batch = data.batch(torch.tensor([0, 2]))
    pred = predict(model, batch, forces=True, stress=True)
    terms = loss_terms(pred, batch, force_coeff=0.3, stress_coeff=2.0)
    n = batch.n_atoms.double()
    energy = (((batch.energy - pred.energy) / n) ** 2).mean()
    force = 0.3 / (3 * batch.x.shape[0]) * ((batch.forces - pred.forces) ** 2).sum()
    stress = 2.0 / (6 * 2) * ((batch.stress - pred.stress) ** 2).sum()
    assert torch.allclose(terms["energy"], energy) and torch.allclose(terms["force"], force)
    assert torch.allclose(terms["stress"], stress)
    assert torch.allclose(terms["total"], energy + force + stress)


def test_frames_without_stress_are_masked_out_of_the_stress_term(toy_data, toy_set):
    """A mixed set (some frames without a stress label) trains: the unlabelled frames add
    nothing to the stress term and its gradient stays finite."""
    data, transforms, sf = toy_data
    _, model = toy_set
    data.arrays[STRESS][1] = float("nan")  # frame 1 has no stress label
    mixed = TrainingSet(data, transforms, sf.elements, with_stress=True)
    batch = mixed.batch(torch.tensor([0, 1, 2]))
    assert batch.stress_mask.tolist() == [1.0, 0.0, 1.0]
    pred = predict(model, batch, forces=True, stress=True, create_graph=True)
    terms = loss_terms(pred, batch, force_coeff=0.3, stress_coeff=2.0)
    labelled = torch.tensor([0, 2])
    by_hand = 2.0 / (6 * 3) * ((batch.stress[labelled] - pred.stress[labelled]) ** 2).sum()
    assert torch.allclose(terms["stress"], by_hand)
    terms["total"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())

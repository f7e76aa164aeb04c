"""Fixtures of the training tests: a featurised toy training set and a small network."""

from __future__ import annotations

import pytest
import torch

from gdfnn.data.store import FEATURES, SPECIES
from gdfnn.model.network import AtomicEnergies
from gdfnn.model.scaling import fit_transforms
from gdfnn.training.batches import TrainingSet
from gdfnn.workflows.prepare import prepare


@pytest.fixture
def toy_data(toy_config):
    """(featurised data of the 16 toy frames, their feature transforms, the descriptor)."""
    prepared = prepare(toy_config())
    data = prepared.store.load()
    sf = prepared.descriptor
    transforms = fit_transforms(data.arrays[FEATURES], data.arrays[SPECIES], sf.n_features,
                                sf.elements)
    return data, transforms, sf


@pytest.fixture
def toy_set(toy_data):
    """(TrainingSet with stress of the 16 toy frames, a 6-unit tanh network)."""
    data, transforms, sf = toy_data
    torch.manual_seed(0)
    model = AtomicEnergies(sf.elements, sf.n_features, [6], "tanh").double()
    return TrainingSet(data, transforms, sf.elements, with_stress=True), model

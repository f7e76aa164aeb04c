"""Calculators named in a config (a reference potential or an import path) and the one-frame
labelling process gdfnn learn runs."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from gdfnn.errors import InputError
from gdfnn.reference.calculators import labelling_factory, main, make_calculator


def test_a_calculator_is_made_by_import_path_with_its_keyword_arguments():
    calculator = make_calculator("ase.calculators.lj.LennardJones", {"sigma": 2.3, "rc": 5.0})
    assert calculator.parameters["sigma"] == 2.3
    assert type(make_calculator("ase.calculators.emt:EMT")) is EMT


@pytest.mark.parametrize(("spec", "message"), [
    ("lj", "neither a reference potential"),
    ("no_such_module.Calc", "cannot import no_such_module"),
    ("ase.calculators.emt.Nope", "has no calculator 'Nope'"),
])
def test_an_unknown_calculator_is_one_line(spec, message):
    with pytest.raises(InputError, match=message):
        make_calculator(spec)


def test_wrong_keyword_arguments_and_energy_only_calculators_are_refused():
    with pytest.raises(InputError, match="takes no keyword arguments"):
        make_calculator("emt", {"asap_cutoff": True})
    with pytest.raises(InputError, match="gives no forces"):
        labelling_factory("ase.calculators.calculator.Calculator")


def test_the_labelling_process_writes_the_calculators_energy_forces_and_stress(tmp_path):
    atoms = bulk("Cu", cubic=True).repeat(2)
    atoms.rattle(0.05, seed=1)
    ase.io.write(tmp_path / "in.extxyz", atoms)
    assert main(["ase.calculators.emt.EMT", json.dumps({}), str(tmp_path / "in.extxyz"),
                 str(tmp_path / "out.extxyz")]) == 0
    done = ase.io.read(tmp_path / "out.extxyz")
    atoms = ase.io.read(tmp_path / "in.extxyz")  # the positions as the file keeps them
    atoms.calc = EMT()
    assert done.get_potential_energy() == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
    assert np.allclose(done.get_forces(), atoms.get_forces(), atol=1e-8)
    assert np.allclose(done.get_stress(), atoms.get_stress(), atol=1e-8)

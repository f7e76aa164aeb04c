import json

import ase.io
import numpy as np
import pytest

from gdfnn import Potential
from gdfnn.cli import main
from gdfnn.data import read_structures
from gdfnn.workflows.evaluate import DefectRule, evaluate
from tests.model.test_potential import random_potential
from tests.training.conftest import morse_frames


def test_evaluate_tables_and_plots(tmp_path):
    pot = random_potential(elements=("Si",))
    frames_atoms = morse_frames(6)
    for a in frames_atoms:  # per-atom reference energies, as a classical potential gives
        a.calc.results["energies"] = np.full(len(a), a.get_potential_energy() / len(a))
    ase.io.write(tmp_path / "d.xyz", frames_atoms)
    frames = read_structures(tmp_path / "d.xyz")
    assert frames[0].energies is not None
    x = pot.descriptor.compute_many([s.atoms for s in frames], progress=False)
    import torch

    from gdfnn.workflows.evaluate import reference_from_features

    reference = reference_from_features(pot, torch.cat([b.values for b in x]),
                                        torch.cat([b.species for b in x]))
    result = evaluate({"a": pot, "b": pot}, frames, references={"a": reference, "b": reference},
                      defect=DefectRule(2.6, 4), output=tmp_path / "out")
    a = result["a"]
    errors = np.concatenate([pot.predict(s.atoms)["forces"] - s.forces for s in frames])
    assert a["force"]["rmse"] == pytest.approx(np.sqrt((errors**2).mean()))
    assert set(a["per_group"]) == {"hot", "bulk"} and "Si" in a["force_per_element"]
    assert sum(r["n"] for r in a["per_gdf_bin"]) == 48
    assert a["defect_atoms"]["n"] + a["other_atoms"]["n"] == 48
    assert "atomic_energy_mev" in a
    for name in ["evaluation.json", "per_atom.csv", "parity_energy.png", "parity_forces.png",
                 "force_error_vs_gdf.png", "atomic_energy_correlation.png"]:
        assert (tmp_path / "out" / name).stat().st_size > 100, name
    assert json.loads((tmp_path / "out" / "evaluation.json").read_text())["b"] == \
        json.loads(json.dumps(result["b"]))


def test_export_command_round_trip_and_lammps_lines(tmp_path, capsys):
    pot = random_potential(elements=("Si",))
    pot.save(tmp_path / "potential.pt")
    assert main(["export", str(tmp_path / "potential.pt"), "--to", "n2p2", "--output",
                 str(tmp_path / "nnp"), "--length-unit", "bohr", "--energy-unit", "hartree"]) == 0
    out = capsys.readouterr().out
    assert "pair_style hdnnp 4.01 dir" in out and "cflength 1.889726" in out
    assert "pair_coeff * * Si" in out
    assert main(["export", str(tmp_path / "nnp"), "--potential-length-unit", "bohr",
                 "--potential-energy-unit", "hartree", "--to", "gdfnn", "--output",
                 str(tmp_path / "back.pt")]) == 0
    back = Potential.load(tmp_path / "back.pt")
    atoms = morse_frames(1)[0]
    np.testing.assert_allclose(back.predict(atoms)["forces"], pot.predict(atoms)["forces"],
                               atol=1e-10)


def test_evaluate_command(tmp_path, capsys):
    pot = random_potential(elements=("Si",))
    pot.save(tmp_path / "potential.pt")
    ase.io.write(tmp_path / "d.xyz", morse_frames(3))
    assert main(["evaluate", str(tmp_path / "potential.pt"), "--data", str(tmp_path / "d.xyz"),
                 "--output", str(tmp_path / "ev"), "--no-plots"]) == 0
    assert "force RMSE" in capsys.readouterr().out

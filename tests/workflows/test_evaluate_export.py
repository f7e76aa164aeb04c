import json

import ase.io
import numpy as np
import pytest
import torch
from ase.units import GPa

from gdfnn import Potential
from gdfnn.cli import main
from gdfnn.data import read_structures
from gdfnn.errors import InputError
from gdfnn.workflows.evaluate import DefectRule, evaluate


def test_evaluate_numbers_equal_a_direct_computation(morse_frames, random_potential, tmp_path):
    pot = random_potential(elements=("Si",))
    frames_atoms = morse_frames(6)
    for a in frames_atoms:  # per-atom reference energies, as a classical potential gives
        a.calc.results["energies"] = np.full(len(a), a.get_potential_energy() / len(a))
    ase.io.write(tmp_path / "d.xyz", frames_atoms)
    frames = read_structures(tmp_path / "d.xyz")
    # the potential's GDF reference: the scaled features of the first three frames
    blocks = pot.descriptor.compute_many([s.atoms for s in frames[:3]], progress=False)
    pot.gdf_reference = {"Si": pot.transforms["Si"].scaled(torch.cat([b.values for b in blocks]))}
    pot.metadata["gdf"] = {"sigma": {"Si": 0.3}}
    result = evaluate({"a": pot, "b": pot}, frames, defect=DefectRule(2.3, 4),
                      output=tmp_path / "out")
    a = result["a"]
    # direct: predictions frame by frame, plain numpy statistics
    preds = [pot.predict(s.atoms) for s in frames]
    f_err = np.concatenate([p["forces"] - s.forces for p, s in zip(preds, frames, strict=True)])
    e_err = np.array([(p["energy"] - s.energy) / s.n_atoms for p, s in zip(preds, frames,
                                                                             strict=True)])
    group = np.repeat([s.group for s in frames], 8)
    assert a["force"]["rmse"] == pytest.approx(np.sqrt((f_err**2).mean()), rel=1e-12)
    assert a["force"]["mae"] == pytest.approx(np.abs(f_err).mean(), rel=1e-12)
    assert a["energy_mev_atom"]["rmse"] == pytest.approx(1000 * np.sqrt((e_err**2).mean()))
    s_err = np.array([p["stress"] - s.stress for p, s in zip(preds, frames, strict=True)])
    assert a["stress_gpa"]["rmse"] == pytest.approx(np.sqrt((s_err**2).mean()) / GPa)
    assert a["stress_gpa"]["n"] == len(frames)  # structures
    for g in ("hot", "bulk"):
        assert a["per_group"][g]["force"]["rmse"] == pytest.approx(
            np.sqrt((f_err[group == g] ** 2).mean()), rel=1e-12)
    assert a["per_element"]["Si"]["force"]["n"] == 48
    defect = np.concatenate([[len(np.flatnonzero(
        s.atoms.get_all_distances(mic=True)[i] < 2.3)) - 1 < 4 for i in range(8)]
        for s in frames])
    assert a["subsets"]["defect_atoms"]["force"]["n"] == defect.sum()
    if defect.any():
        assert a["subsets"]["defect_atoms"]["force"]["rmse"] == pytest.approx(
            np.sqrt((f_err[defect] ** 2).mean()), rel=1e-12)
    x = torch.cat([b.values for b in pot.descriptor.compute_many([s.atoms for s in frames])])
    scaled = pot.transforms["Si"].scaled(x)
    ref = pot.gdf_reference["Si"]
    rho = torch.exp(-torch.cdist(scaled, ref) ** 2 / (2 * 0.3**2 * 26)).mean(1).numpy()
    rows = a["per_gdf_bin"]
    assert sum(r["n"] for r in rows) == 48
    edges = [rows[0]["low"]] + [r["high"] for r in rows]
    assert rho.min() == pytest.approx(edges[0], rel=1e-9)
    assert rho.max() == pytest.approx(edges[-1], rel=1e-6)
    atomic_err = np.concatenate([p["energies"] - s.energies for p, s in zip(preds, frames,
                                                                             strict=True)])
    assert a["atomic_energy_mev"]["mae"] == pytest.approx(1000 * np.abs(atomic_err).mean())
    for name, m in (("defect_atoms", defect), ("other_atoms", ~defect)):
        stats = a["subsets"][name]["atomic_energy_mev"]
        assert stats["n"] == m.sum()
        if m.any():
            assert stats["mae"] == pytest.approx(1000 * np.abs(atomic_err[m]).mean())
    bins = a["atomic_energy_per_gdf_bin"]
    assert sum(r["n"] for r in bins) == 48
    lowest = (rho >= bins[0]["low"]) & (rho < bins[0]["high"])
    if lowest.any():
        assert bins[0]["mae"] == pytest.approx(1000 * np.abs(atomic_err[lowest]).mean(), rel=1e-6)
    for name in ["evaluation.json", "per_atom.csv", "parity_energy.png", "parity_forces.png",
                 "force_error_vs_gdf.png", "atomic_energy_correlation.png",
                 "atomic_energy_error_vs_gdf.png"]:
        assert (tmp_path / "out" / name).stat().st_size > 100, name
    assert json.loads((tmp_path / "out" / "evaluation.json").read_text())["b"] == \
        json.loads(json.dumps(result["b"]))
    per_atom = (tmp_path / "out" / "per_atom.csv").read_text().splitlines()
    assert len(per_atom) == 1 + 2 * 48
    first = per_atom[1].split(",")
    assert float(first[6]) == pytest.approx(rho[0], rel=1e-5)
    assert float(first[7]) == pytest.approx(np.linalg.norm(f_err[0]), abs=1e-6)


def test_export_command_round_trip_and_lammps_lines(morse_frames, random_potential, tmp_path, capsys):
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


def test_evaluate_command(morse_frames, random_potential, tmp_path, capsys):
    pot = random_potential(elements=("Si",))
    pot.save(tmp_path / "potential.pt")
    ase.io.write(tmp_path / "d.xyz", morse_frames(3))
    assert main(["evaluate", str(tmp_path / "potential.pt"), "--data", str(tmp_path / "d.xyz"),
                 "--output", str(tmp_path / "ev"), "--no-plots"]) == 0
    assert "force RMSE" in capsys.readouterr().out


def test_evaluate_takes_the_datas_units_and_refuses_energies_in_other_units(tmp_path, capsys):
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.units import Bohr, Hartree

    from gdfnn.datasets import path

    frames = ase.io.read(path("mlearn-si", "test"), ":4")
    converted = []
    for atoms in frames:  # the same frames in Hartree and Bohr
        copy = atoms.copy()
        copy.set_cell(atoms.cell / Bohr)
        copy.positions = atoms.positions / Bohr
        copy.calc = SinglePointCalculator(copy, energy=atoms.get_potential_energy() / Hartree,
                                          forces=atoms.get_forces() / (Hartree / Bohr))
        converted.append(copy)
    ase.io.write(tmp_path / "ev.xyz", frames)
    ase.io.write(tmp_path / "hartree.xyz", converted)
    pot = ["dataset:mlearn-n2p2-si", "--potential-length-unit", "bohr",
           "--potential-energy-unit", "hartree", "--no-plots"]
    assert main(["evaluate", *pot, "--data", str(tmp_path / "hartree.xyz"),
                 "--output", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "eV/atom (median): data or potential in other units?" in err[0]
    results = []
    for data, units in (("ev.xyz", []), ("hartree.xyz", ["--length-unit", "bohr",
                                                         "--energy-unit", "hartree"])):
        assert main(["evaluate", *pot, "--data", str(tmp_path / data), *units,
                     "--output", str(tmp_path / f"out_{data}")]) == 0
        results.append(json.loads((tmp_path / f"out_{data}" / "evaluation.json").read_text()))
    (a,), (b,) = (list(r.values()) for r in results)
    assert a["force"]["rmse"] == pytest.approx(b["force"]["rmse"], rel=1e-6)
    assert a["energy_mev_atom"]["rmse"] == pytest.approx(b["energy_mev_atom"]["rmse"], rel=1e-6)


def test_a_defect_array_missing_from_a_frame_is_one_clear_error(morse_frames, random_potential,
                                                               tmp_path):
    frames_atoms = morse_frames(3)
    for a in frames_atoms[:2]:
        a.arrays["defect"] = np.zeros(len(a), dtype=int)
    ase.io.write(tmp_path / "d.xyz", frames_atoms)
    frames = read_structures(tmp_path / "d.xyz")
    with pytest.raises(InputError, match="not every frame has the per-atom array 'defect'"):
        evaluate({"a": random_potential(elements=("Si",))}, frames, defect="defect")

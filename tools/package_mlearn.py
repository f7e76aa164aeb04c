"""Re-package the mlearn and SNAP DFT sets shipped in ``gdfnn.datasets`` (a developer's tool;
not part of the package).

Reads the pymatgen JSON of materialsvirtuallab/mlearn (``data/{Si,Ni}/{training,test}.json``)
and materialsvirtuallab/snap (``Ni/training/{Elastic,Surface,Vacancy}.json``) from local
checkouts and writes extxyz files with positions, cell, energy (eV), forces (eV/Å) and stress
(eV/Å^3, ASE's convention), each frame's group as ``config_type``.

Stress: the sources give VASP's stress in kbar, positive under compression, as six
components whose order differs by file, found on the sheared Elastic frames (a shear of the
cell shows in one shear component) and against the SNAP reference potentials' stress: mlearn's
Si ``virial_stress`` and SNAP's Ni ``stress`` in OUTCAR's order xx yy zz xy yz zx, mlearn's Ni
``virial_stress`` in the order xx yy zz xy zx yz. ASE's stress is positive under tension, in
eV/Å^3, Voigt order xx yy zz yz xz xy, so ``ase = -0.1 GPa * outcar[[0, 1, 2, 4, 5, 3]]`` (as
ase.io.vasp reads OUTCAR). tests/test_packaged_stress.py proves the packaged stress against finite
differences of the DFT energies along the Elastic strains and against the SNAP reference
potentials' stress (Si and Ni). The Ni stresses are shifted by :data:`NI_STRESS_OFFSET_GPA`.

The mlearn Ni training set is the SNAP Ni data less mlearn's Ni test frames; SNAP's AIMD
group (``Ni/training/AIMD.json``) could not be read here, so the packaged Ni training set has
the Elastic, Surface and Vacancy groups only.

    python tools/package_mlearn.py --mlearn MLEARN_CHECKOUT --snap SNAP_CHECKOUT
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import ase
import ase.io
import numpy as np
from ase import units
from ase.calculators.singlepoint import SinglePointCalculator

DATASETS = Path(__file__).resolve().parents[1] / "src" / "gdfnn" / "datasets"
#: ASE's Voigt order (xx yy zz yz xz xy) from OUTCAR's (xx yy zz xy yz zx) and from
#: mlearn's Ni files' (xx yy zz xy zx yz).
OUTCAR_ORDER, MLEARN_NI_ORDER = [0, 1, 2, 4, 5, 3], [0, 1, 2, 5, 4, 3]


#: GPa: the isotropic (Pulay-like) offset of the Ni stresses, tensile, removed from every Ni
#: frame: the least-squares offset that makes the work V sigma : d(eps) between pairs of Ni
#: Elastic frames equal their DFT energy differences (it takes the pairs' rms mismatch from
#: 0.30 to 0.031 eV; Si's offset is -0.06 GPa, left as it is). After the correction the Ni
#: frames' zero-stress lattice constant is their energy minimum, and the SNAP Ni potential
#: (fitted to the energies) agrees with their stress.
NI_STRESS_OFFSET_GPA = 2.73


def ase_stress(kbar: list[float], order: list[int], offset_gpa: float = 0.0) -> np.ndarray:
    """A stress in kbar (compression positive), components in ``order``, as ASE's Voigt
    stress in eV/Å^3, less an isotropic ``offset_gpa`` (tensile positive)."""
    isotropic = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    return units.GPa * (-0.1 * np.asarray(kbar, dtype=float)[order] - offset_gpa * isotropic)


def frame(entry: dict, group: str, stress_key: str, order: list[int],
          offset_gpa: float = 0.0) -> ase.Atoms:
    structure = entry["structure"]
    atoms = ase.Atoms([site["species"][0]["element"] for site in structure["sites"]],
                      positions=[site["xyz"] for site in structure["sites"]],
                      cell=structure["lattice"]["matrix"], pbc=True)
    outputs = entry["outputs"]
    atoms.calc = SinglePointCalculator(atoms, energy=outputs["energy"],
                                       forces=np.asarray(outputs["forces"], dtype=float),
                                       stress=ase_stress(outputs[stress_key], order,
                                                         offset_gpa))
    atoms.info["config_type"] = group
    return atoms


def write(frames: list[ase.Atoms], target: Path) -> None:
    ase.io.write(target, frames, format="extxyz")
    print(f"{target.relative_to(DATASETS)}: {len(frames)} frames, "
          f"{sum(len(a) for a in frames)} atoms, sha256 "
          f"{hashlib.sha256(target.read_bytes()).hexdigest()}")


def mlearn(path: Path, order: list[int], offset_gpa: float = 0.0) -> list[ase.Atoms]:
    return [frame(e, e["group"], "virial_stress", order, offset_gpa)
            for e in json.loads(path.read_text())]


def snap_ni_train(snap: Path, test: list[ase.Atoms]) -> list[ase.Atoms]:
    """SNAP's Ni Elastic, Surface and Vacancy frames that are not mlearn Ni test frames
    (matched by atom count and energy to 1e-6 eV)."""
    held = {(len(a), round(a.get_potential_energy(), 6)) for a in test}
    out = []
    for group in ("Elastic", "Surface", "Vacancy"):
        for e in json.loads((snap / "Ni" / "training" / f"{group}.json").read_text()):
            atoms = frame(e, group, "stress", OUTCAR_ORDER, NI_STRESS_OFFSET_GPA)
            if (len(atoms), round(atoms.get_potential_energy(), 6)) not in held:
                out.append(atoms)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlearn", type=Path, required=True)
    parser.add_argument("--snap", type=Path, required=True)
    args = parser.parse_args()
    data = args.mlearn / "data"
    for part, target in (("training", "train"), ("test", "test")):
        write(mlearn(data / "Si" / f"{part}.json", OUTCAR_ORDER),
              DATASETS / "mlearn-si" / f"si_mlearn_{target}.xyz")
    ni_test = mlearn(data / "Ni" / "test.json", MLEARN_NI_ORDER, NI_STRESS_OFFSET_GPA)
    write(ni_test, DATASETS / "mlearn-ni" / "ni_mlearn_test.xyz")
    write(snap_ni_train(args.snap, ni_test), DATASETS / "mlearn-ni" / "ni_mlearn_train.xyz")
    vacancy = [frame(e, "Vacancy", "stress", OUTCAR_ORDER, NI_STRESS_OFFSET_GPA) for e in
               json.loads((args.snap / "Ni" / "training" / "Vacancy.json").read_text())]
    write(vacancy, DATASETS / "snap-ni" / "ni_snap_vacancy.xyz")


if __name__ == "__main__":
    main()

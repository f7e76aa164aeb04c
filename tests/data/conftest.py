"""Fixtures of the data tests: a minimal VASP OUTCAR writer (ase cannot write one)."""


from __future__ import annotations

from collections import Counter

import ase
import pytest


def write_minimal_outcar(path, images: list[ase.Atoms], free_energies, energies_sigma0, forces):
    """One ionic step per image; species in order of first appearance."""
    symbols = images[0].get_chemical_symbols()
    species = list(dict.fromkeys(symbols))
    counts = Counter(symbols)
    lines = [f" POTCAR:    PAW_PBE {s} 05Jan2001" for s in species] * 2
    lines.append("   ions per type =  " + " ".join(str(counts[s]) for s in species))
    for atoms, free, e0, f in zip(images, free_energies, energies_sigma0, forces, strict=True):
        lines.append("--------------------------------------- Iteration      1(   1)  ------")
        lines.append("      direct lattice vectors                 reciprocal lattice vectors")
        lines.extend("  " + " ".join(f"{x:.9f}" for x in v) + "  0.0 0.0 0.0" for v in atoms.cell)
        lines.append(" POSITION                                       TOTAL-FORCE (eV/Angst)")
        lines.append(" " + "-" * 83)
        lines.extend(
            f" {p[0]:.5f} {p[1]:.5f} {p[2]:.5f} {g[0]:.6f} {g[1]:.6f} {g[2]:.6f}"
            for p, g in zip(atoms.positions, f, strict=True)
        )
        lines.append(" " + "-" * 83)
        lines.append("  FREE ENERGIE OF THE ION-ELECTRON SYSTEM (eV)")
        lines.append("  ---------------------------------------------------")
        lines.append(f"  free  energy   TOTEN  =       {free:.8f} eV")
        lines.append("")
        lines.append(f"  energy  without entropy=   {e0 - 0.01:.8f}  energy(sigma->0) =   {e0:.8f}")
        lines.append("")
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")


@pytest.fixture(name="write_minimal_outcar")
def write_minimal_outcar_fixture():
    """``write_minimal_outcar(path, images, free_energies, energies_sigma0, forces)``."""
    return write_minimal_outcar

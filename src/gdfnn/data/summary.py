"""A short description of a set of frames: what `gdfnn featurize --dry-run` prints."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from gdfnn.data.structure import Structure


def summarize(structures: Sequence[Structure]) -> dict:
    """Counts and label ranges: frames, atoms, atoms per element, frames per group,
    energy per atom (eV/atom), force components (eV/Å), and how many frames have stress."""
    elements: Counter = Counter()
    groups: Counter = Counter()
    for s in structures:
        elements.update(s.atoms.get_chemical_symbols())
        groups[s.group] += 1
    e_per_atom = [s.energy / s.n_atoms for s in structures if s.energy is not None]
    forces = [s.forces.ravel() for s in structures if s.forces is not None]
    all_forces = np.concatenate(forces) if forces else np.zeros(0)
    return {
        "frames": len(structures),
        "atoms": int(sum(s.n_atoms for s in structures)),
        "elements": dict(sorted(elements.items())),
        "groups": dict(groups),
        "energy_per_atom_ev": (min(e_per_atom), max(e_per_atom)) if e_per_atom else None,
        "force_component_ev_per_angstrom": (float(all_forces.min()), float(all_forces.max()))
        if all_forces.size else None,
        "frames_with_stress": sum(s.stress is not None for s in structures),
    }


def format_summary(name: str, summary: dict) -> str:
    """Multi-line human-readable form of :func:`summarize`'s result."""
    def fmt_range(r, unit):
        return "none" if r is None else f"{r[0]:.4f} .. {r[1]:.4f} {unit}"

    lines = [
        f"{name}",
        f"  frames {summary['frames']}, atoms {summary['atoms']}",
        "  elements " + ", ".join(f"{k} {v}" for k, v in summary["elements"].items()),
        "  groups " + ", ".join(f"{k} {v}" for k, v in summary["groups"].items()),
        "  energy per atom " + fmt_range(summary["energy_per_atom_ev"], "eV/atom"),
        "  force components " + fmt_range(summary["force_component_ev_per_angstrom"], "eV/Å"),
        f"  frames with stress {summary['frames_with_stress']}",
    ]
    return "\n".join(lines)

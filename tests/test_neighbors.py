import numpy as np
import pytest
from vesin import NeighborList

from gdfnn import neighbors


def vesin_entries(atoms, cutoff):
    periodic = atoms.pbc.tolist()
    box = atoms.cell.array if any(periodic) else np.zeros((3, 3))
    i, j, s = NeighborList(cutoff=cutoff, full_list=True).compute(
        atoms.positions, box, periodic, quantities="ijS")
    return sorted(zip(i.tolist(), j.tolist(), map(tuple, s.tolist()), strict=True))


def entries(nl):
    assert np.all(np.diff(nl.centers) >= 0)
    return sorted(zip(nl.centers.tolist(), nl.neighbors.tolist(), map(tuple, nl.shifts.tolist()),
                      strict=True))


def unwrapped(atoms):
    """The same structure with atoms moved by whole and fractional cell vectors."""
    moved = atoms.copy()
    moved.positions += [7.3, -12.1, 3.3]
    moved.positions[0] += 2.0 * atoms.cell.array[0] - 3.0 * atoms.cell.array[2]
    return moved


@pytest.mark.parametrize("cutoff", [4.2, 6.0, 9.0])
@pytest.mark.parametrize(("name", "unwrap"), [
    ("periodic_si", False), ("two_element_triclinic", False), ("cluster", False),
    ("self_images", False), ("two_element_triclinic", True), ("self_images", True)])
def test_all_pairs_search_equals_vesin(structures, name, unwrap, cutoff):
    atoms = structures[name]()
    if unwrap:
        atoms = unwrapped(atoms)
    nl = neighbors.neighbor_list(atoms, cutoff)
    assert entries(nl) == vesin_entries(atoms, cutoff)


def test_large_or_mixed_boundary_structures_go_to_vesin(rattled_si, monkeypatch):
    slab = rattled_si(1, repeat=2)
    slab.pbc = [True, True, False]
    assert entries(neighbors.neighbor_list(slab, 5.0)) == vesin_entries(slab, 5.0)
    atoms = rattled_si(2, repeat=2)
    monkeypatch.setattr(neighbors, "_all_pairs", None)  # would fail if called
    monkeypatch.setattr(neighbors, "ALL_PAIRS_LIMIT", 0)
    assert entries(neighbors.neighbor_list(atoms, 5.0)) == vesin_entries(atoms, 5.0)

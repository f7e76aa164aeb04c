"""Feature scaling and PCA whitening, fitted on the training split, per element.

The transform of an element's features is affine: ``x_net = (x - shift) / scale`` (the
"scaled, pre-PCA" features on which the GDF is computed), then optionally PCA whitening
``(x_scaled - mean) @ W`` with ``W = V / sqrt(variance + min_level)`` (SIMPLE-NN semantics).
Derivatives dG/dR transform with the linear part only.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

#: Feature scalings fitted on the training split: min-max to [-1, 1], mean/std, or none.
SCALINGS = ("minmax", "meanstd", "none")
#: A function whose training range is below this is left unscaled (never divide by ~0).
MIN_RANGE = 1e-10


class ElementTransform(nn.Module):
    """Affine map of one element's features: ``x_net = x @ matrix + offset``.

    Buffers (moved by ``.to(device, dtype)``, saved by ``state_dict()``):
        shift, scale: ``(D,)`` scaling, ``x_scaled = (x - shift) / scale``.
        pca_mean ``(D,)`` and pca_matrix ``(D, D)``: whitening, or None.
    The linear part ``matrix (D, D)`` and ``offset (D,)`` of the whole map are derived once,
    in float64, at construction (not saved: they follow from the four above).
    """

    def __init__(self, shift: torch.Tensor, scale: torch.Tensor,
                 pca_mean: torch.Tensor | None = None, pca_matrix: torch.Tensor | None = None):
        super().__init__()
        self.register_buffer("shift", shift)
        self.register_buffer("scale", scale)
        self.register_buffer("pca_mean", pca_mean)
        self.register_buffer("pca_matrix", pca_matrix)
        shift64, scale64 = shift.double(), scale.double()
        matrix = torch.diag(1.0 / scale64)
        offset = -shift64 / scale64
        if pca_matrix is not None:
            matrix = matrix @ pca_matrix.double()
            offset = (offset - pca_mean.double()) @ pca_matrix.double()
        self.register_buffer("matrix", matrix.to(shift.dtype), persistent=False)
        self.register_buffer("offset", offset.to(shift.dtype), persistent=False)

    @property
    def n_features(self) -> int:
        return self.shift.numel()

    def scaled(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled, pre-PCA features (what the GDF uses), in the dtype and on the device of
        ``x`` (float64 features stay float64 under a float32 potential)."""
        return (x - self.shift.to(x)) / self.scale.to(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Network inputs ``(n, D)`` from raw features ``(n, D)`` (without PCA elementwise:
        training applies this to every batch)."""
        if self.pca_matrix is None:
            return (x - self.shift) / self.scale
        return x @ self.matrix + self.offset

    def to_dict(self) -> dict[str, torch.Tensor]:
        """The defining tensors (shift, scale and, with PCA, pca_mean and pca_matrix)."""
        return {k: v for k, v in self.state_dict().items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, torch.Tensor]) -> ElementTransform:
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
        raise ValueError(f"unknown scaling {kind!r}: {', '.join(SCALINGS)}")
    flat = scale.abs() < MIN_RANGE
    if flat.any():
        columns = torch.nonzero(flat).flatten().tolist()
        warnings.warn(f"{element}: symmetry function(s) {columns} have no range in the training "
                      "set; left unscaled", stacklevel=2)
        shift = torch.where(flat, 0.0, shift)
        scale = torch.where(flat, 1.0, scale)
    if not pca:
        return ElementTransform(shift, scale)
    scaled = (x - shift) / scale
    mean = scaled.mean(0)
    cov = (scaled - mean).T @ (scaled - mean) / max(len(x) - 1, 1)
    variance, vectors = torch.linalg.eigh(cov)
    order = torch.argsort(variance, descending=True)
    variance, vectors = variance[order].clamp(min=0), vectors[:, order]
    return ElementTransform(shift, scale, mean, vectors / torch.sqrt(variance + min_whiten_level))


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
                       transforms: dict[str, ElementTransform] | nn.ModuleDict, elements: list[str]
                       ) -> torch.Tensor:
    """Network inputs ``(N, D)``: each atom's features through its element's transform
    (columns beyond the element's own count stay 0). Differentiable in ``features``."""
    if len(elements) == 1:  # one element: no selection, no scatter
        t = transforms[elements[0]]
        d = t.n_features
        x = t(features[:, :d])
        return x if d == features.shape[1] else torch.nn.functional.pad(
            x, (0, features.shape[1] - d))
    x = features.new_zeros(features.shape)
    for n, element in enumerate(elements):
        t = transforms[element]
        rows = torch.nonzero(species == n).flatten()
        if rows.numel():
            x = x.index_put((rows,), torch.nn.functional.pad(
                t(features[rows, : t.n_features]), (0, features.shape[1] - t.n_features)))
    return x

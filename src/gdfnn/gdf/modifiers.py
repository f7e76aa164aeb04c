"""Modifiers Theta applied to x = 1/rho, and weights normalised to mean 1 (paper eq. 3-4)."""

from __future__ import annotations

import numpy as np
import torch

from gdfnn.errors import InputError

MODIFIERS = ("sigmoid-paper", "sigmoid-shifted", "linear", "none")
#: Defaults of eq. 4: the modifier, its slope b and offset c (the paper's 150 and 1.0).
DEFAULT_MODIFIER = "sigmoid-paper"
DEFAULT_B = 150.0
DEFAULT_C = 1.0
#: Fraction of the sorted 1/rho used by SIMPLE-NN's automatic c of the shifted sigmoid.
AUTO_C_FRACTION = 0.75


def auto_c(x: torch.Tensor) -> float:
    """SIMPLE-NN's automatic c: a straight line fitted to the lowest 75 % of the sorted
    values x (against their rank), evaluated at the 75 % rank."""
    values = torch.sort(x.to(torch.float64).flatten()).values.cpu().numpy()
    n_fit = max(int(AUTO_C_FRACTION * values.size), 2)
    if values.size < 2:
        return float(values[0])
    slope, intercept = np.polyfit(np.arange(min(n_fit, values.size)), values[:n_fit], 1)
    return float(intercept + slope * n_fit)


def theta(x: torch.Tensor, modifier: str, b: float = DEFAULT_B, c: float | str = DEFAULT_C
          ) -> torch.Tensor:
    """Theta(x) before normalisation (A = 1).

    ``sigmoid-paper``: x / (1 + exp(-b x + c)) (eq. 4); ``sigmoid-shifted``: x / (1 +
    exp(-b (x - c))), c = ``"auto"`` for SIMPLE-NN's fit; ``linear``: x; ``none``: 1.
    Written with ``torch.sigmoid``, so no exp overflows for any x (1e9 included).
    """
    if modifier not in MODIFIERS:
        raise InputError(f"GDF: unknown modifier {modifier!r}; choose from {', '.join(MODIFIERS)}")
    if modifier == "none":
        return torch.ones_like(x)
    if modifier == "linear":
        return x.clone()
    if c == "auto":
        if modifier != "sigmoid-shifted":
            raise InputError("GDF: c = 'auto' is defined for the sigmoid-shifted modifier only")
        c = auto_c(x)
    if modifier == "sigmoid-paper":
        return x * torch.sigmoid(b * x - c)
    return x * torch.sigmoid(b * (x - c))


def weights(rho: torch.Tensor, modifier: str = DEFAULT_MODIFIER, b: float = DEFAULT_B,
            c: float | str = DEFAULT_C) -> torch.Tensor:
    """Theta(1/rho) normalised to mean 1 over the given atoms (one element's training atoms).

    The normalising constant is the paper's A. ``rho`` must be positive.
    """
    rho = torch.as_tensor(rho, dtype=torch.float64)
    if rho.numel() == 0:
        raise InputError("GDF: no atoms to weight (empty element?)")
    if not (torch.isfinite(rho).all() and (rho > 0).all()):
        raise InputError("GDF: rho must be finite and positive")
    w = theta(1.0 / rho, modifier, b, c)
    return w / w.mean()


def effective_sample_size(weights: torch.Tensor) -> float:
    """(sum w)^2 / (N sum w^2) of ``weights (N,)``: 1 for equal weights, 1/N for one."""
    w = weights.to(torch.float64)
    return float(w.sum() ** 2 / (w.numel() * (w**2).sum()))


def normalise(raw: torch.Tensor, reference: torch.Tensor, max_weight: float | None = None
              ) -> torch.Tensor:
    """Weights proportional to ``raw`` with mean 1 over the atoms ``reference`` (bool mask);
    with ``max_weight``, weights above it are clipped and the rest renormalised, until no
    reference weight exceeds it (at most ``max_weight`` is reachable only when > 1)."""
    w = raw.to(torch.float64) / raw[reference].to(torch.float64).mean()
    if max_weight is None:
        return w
    if not max_weight > 1.0:
        raise InputError(f"GDF: max_weight must be > 1 (weights have mean 1), got {max_weight}")
    for _ in range(100):  # each pass fixes the clipped atoms at the cap
        w = w.clamp(max=max_weight)
        w = w / w[reference].mean()
        if w[reference].max() <= max_weight * (1 + 1e-12):
            break
    return w.clamp(max=max_weight)

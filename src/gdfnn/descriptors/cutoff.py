"""Cutoff functions fc(r) and dfc/dr of n2p2's ``cutoff_type`` family (torch, any device).

With the inner cutoff r_ci = alpha r_c and x = (r - r_ci) / (r_c - r_ci), types 0, 1 and 4-8
are 1 for r < r_ci, f(x) for r_ci <= r < r_c and 0 from r_c on:

    0 hard    f = 1
    1 cos     f = (cos(pi x) + 1) / 2                   (SIMPLE-NN's cutoff when alpha = 0)
    4 exp     f = exp(1 - 1 / (1 - x^2))
    5 poly1   f = (2x - 3) x^2 + 1
    6 poly2   f = ((15 - 6x) x - 10) x^3 + 1
    7 poly3   f = (x (x (20x - 70) + 84) - 35) x^4 + 1
    8 poly4   f = (x (x ((315 - 70x) x - 540) + 420) - 126) x^5 + 1

and types 2 and 3 ignore alpha: tanhu f = tanh^3(1 - r/r_c), tanh the same times
1/tanh^3(1), so that f(0) = 1. The hard cutoff jumps at r_c (its derivative is 0 inside).
"""

from __future__ import annotations

import math

import torch

#: n2p2 cutoff_type numbers and names.
CUTOFF_TYPES = {0: "hard", 1: "cos", 2: "tanhu", 3: "tanh", 4: "exp", 5: "poly1", 6: "poly2",
                7: "poly3", 8: "poly4"}
COSINE = 1
#: Types whose inner cutoff alpha is not used.
NO_INNER_CUTOFF = (2, 3)
TANH_NORM = 1.0 / math.tanh(1.0) ** 3


def check_cutoff(kind: int, alpha: float) -> None:
    """Raise ``ValueError`` for an unknown type or an alpha outside [0, 1)."""
    if kind not in CUTOFF_TYPES:
        raise ValueError(f"unknown cutoff_type {kind} (known: "
                         f"{', '.join(f'{k} {v}' for k, v in CUTOFF_TYPES.items())})")
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"cutoff alpha must be in [0, 1), got {alpha}")


def _shape(kind: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """f(x) and df/dx on 0 <= x < 1 for the types with an inner cutoff."""
    if kind == 0:
        return torch.ones_like(x), torch.zeros_like(x)
    if kind == 1:
        return 0.5 * (torch.cos(math.pi * x) + 1.0), -0.5 * math.pi * torch.sin(math.pi * x)
    if kind == 4:
        one_minus = 1.0 - x * x
        f = torch.exp(1.0 - 1.0 / one_minus)
        return f, -2.0 * x / one_minus**2 * f
    if kind == 5:
        return (2.0 * x - 3.0) * x * x + 1.0, 6.0 * x * (x - 1.0)
    if kind == 6:
        return ((15.0 - 6.0 * x) * x - 10.0) * x**3 + 1.0, -30.0 * x**2 * (x - 1.0) ** 2
    if kind == 7:
        return (x * (x * (20.0 * x - 70.0) + 84.0) - 35.0) * x**4 + 1.0, \
            140.0 * x**3 * (x - 1.0) ** 3
    if kind == 8:
        return (x * (x * ((315.0 - 70.0 * x) * x - 540.0) + 420.0) - 126.0) * x**5 + 1.0, \
            -630.0 * x**4 * (x - 1.0) ** 4
    raise ValueError(f"cutoff_type {kind} has no inner-cutoff form")


def cutoff(r: torch.Tensor, rc: torch.Tensor | float, kind: int = COSINE, alpha: float = 0.0
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """fc(r) and dfc/dr (1/Å) for distances ``r`` (Å), cutoff radii ``rc`` (broadcast)."""
    rc = torch.as_tensor(rc, dtype=r.dtype, device=r.device)
    inside = r < rc
    if kind in NO_INNER_CUTOFF:
        norm = TANH_NORM if kind == 3 else 1.0
        t = torch.tanh(1.0 - torch.minimum(r, rc) / rc)
        fc = norm * t**3
        dfc = -3.0 * norm * t**2 * (1.0 - t * t) / rc
        return torch.where(inside, fc, 0.0), torch.where(inside, dfc, 0.0)
    inner = alpha * rc
    width = rc - inner
    # clamped into [0, 1): no overflow or NaN in the branches torch.where discards
    x = ((r - inner) / width).clamp(0.0, 1.0 - 1e-12)
    f, df = _shape(kind, x)
    f = torch.where(r < inner, 1.0, f)
    df = torch.where(r < inner, 0.0, df / width)
    return torch.where(inside, f, 0.0), torch.where(inside, df, 0.0)

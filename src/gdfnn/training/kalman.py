"""The extended Kalman filter of n2p2 (Blank & Brown 1994; Singraber et al., JCTC 15, 3075
(2019)) as an optimiser of the per-element networks, with decoupled blocks of its error
covariance.

The weights ``w`` are the filter's state, each observation an error ``xi`` (``(m,)``, the
reference minus the prediction) with the Jacobian ``H`` of the prediction by the weights. With
``P`` split into diagonal blocks ``b`` (one for all weights, one per element or one per layer
of each element's network: the decoupled filter of Puskorius & Feldkamp, all blocks seeing the
same error through one ``A``):

    A   = sum_b H_b^T P_b H_b + R,    R = I / eta (standard) or lambda I (fading memory)
    K_b = P_b H_b A^-1
    w_b = w_b + K_b xi
    P_b = (P_b - K_b H_b^T P_b) [/ lambda] + q I

``P_b`` starts at ``I / epsilon``; per update ``q`` decays towards ``qmin`` and ``eta`` grows
towards ``etamax`` by ``exp(-qtau / U)`` and ``exp(etatau / U)`` with ``U`` the updates of an
epoch (n2p2: qtau 2.302 is one decade per epoch); the fading-memory factor follows
``lambda = nu lambda + 1 - nu``. ``P`` costs ``n_b^2`` values per block (float64).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

#: How the weights split into decoupled blocks of P.
KALMAN_BLOCKS = ("global", "element", "layer")
KALMAN_TYPES = ("standard", "fading")


@dataclass(frozen=True)
class KalmanSettings:
    """The ``training.kalman`` section as plain values (``gdfnn.config.KalmanConfig`` holds the
    defaults and their meaning; n2p2's keyword in brackets there)."""

    type: str
    blocks: str
    epsilon: float
    q0: float
    qtau: float
    qmin: float
    eta: float
    etatau: float
    etamax: float
    lambda0: float
    nu: float
    energy_fraction: float
    force_energy_ratio: float
    force_fraction: float | None
    force_weight: float
    normalize: bool
    observations: int
    energy_threshold: float
    force_threshold: float
    threshold_trials: int


class KalmanFilter:
    """The filter over ``params``, P split into ``blocks`` (lists of indices into ``params``).

    ``updates_per_epoch`` sets the decay of q and growth of eta per update. The attribute
    ``param_groups`` shows the current ``eta`` (standard) or ``lambda`` (fading memory) as the
    run's learning rate, as a torch optimiser's would.
    """

    def __init__(self, params: Sequence[torch.nn.Parameter], blocks: Sequence[Sequence[int]],
                 settings: KalmanSettings, updates_per_epoch: int):
        self.params = list(params)
        self.blocks = [list(b) for b in blocks]
        if sorted(i for b in self.blocks for i in b) != list(range(len(self.params))):
            raise ValueError("the Kalman filter's blocks must hold every parameter once")
        self.settings = s = settings
        sizes = [sum(self.params[i].numel() for i in b) for b in self.blocks]
        device = self.params[0].device if self.params else None  # P lives beside the weights
        self.P = [torch.eye(n, dtype=torch.float64, device=device) / s.epsilon for n in sizes]
        self.q, self.eta, self.lambda_ = s.q0, s.eta, s.lambda0
        self.updates = 0
        per_epoch = max(updates_per_epoch, 1)
        self._q_decay = math.exp(-s.qtau / per_epoch)
        self._eta_growth = math.exp(s.etatau / per_epoch)

    @property
    def param_groups(self) -> list[dict]:
        rate = self.eta if self.settings.type == "standard" else self.lambda_
        return [{"lr": rate}]

    @property
    def covariance_bytes(self) -> int:
        """Memory of P (bytes)."""
        return sum(p.numel() * p.element_size() for p in self.P)

    @torch.no_grad()
    def update(self, error: torch.Tensor, jacobian: Sequence[torch.Tensor]) -> None:
        """One update with the error ``(m,)`` (reference minus prediction) and, per parameter,
        the Jacobian of the ``m`` predictions by it, ``(m, *param.shape)``."""
        s = self.settings
        xi = error.detach().to(torch.float64).reshape(-1)
        m = xi.numel()
        if s.type == "standard":
            self.eta = min(self.eta * self._eta_growth, s.etamax)
        H = [torch.cat([jacobian[i].detach().to(torch.float64).reshape(m, -1).T
                        for i in block]) for block in self.blocks]  # (n_b, m)
        X = [P @ h for P, h in zip(self.P, H, strict=True)]  # (n_b, m)
        A = sum(h.T @ x for h, x in zip(H, X, strict=True))
        noise = 1.0 / self.eta if s.type == "standard" else self.lambda_
        A = A + noise * torch.eye(m, dtype=torch.float64, device=xi.device)
        for P, x, block in zip(self.P, X, self.blocks, strict=True):
            gain = torch.linalg.solve(A, x.T).T  # K_b = X_b A^-1 (A symmetric)
            P.addmm_(gain, x.T, alpha=-1.0)  # in place: no n_b x n_b temporary
            if s.type == "fading":
                P /= self.lambda_
            P.diagonal().add_(self.q)
            step = gain @ xi
            offset = 0
            for i in block:
                p = self.params[i]
                p.add_(step[offset:offset + p.numel()].view_as(p).to(p.dtype))
                offset += p.numel()
        self.q = max(self.q * self._q_decay, s.qmin)
        if s.type == "fading":
            self.lambda_ = s.nu * self.lambda_ + 1.0 - s.nu
        self.updates += 1

    def state_dict(self) -> dict:
        return {"P": [P.clone() for P in self.P], "q": self.q, "eta": self.eta,
                "lambda": self.lambda_, "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        if [P.shape for P in state["P"]] != [P.shape for P in self.P]:
            raise ValueError("the checkpoint's Kalman filter has other blocks than this run's")
        self.P = [P.to(device=mine.device, dtype=torch.float64, copy=True)
                  for P, mine in zip(state["P"], self.P, strict=True)]
        self.q, self.eta, self.lambda_ = state["q"], state["eta"], state["lambda"]
        self.updates = state["updates"]


def parameter_blocks(model: torch.nn.Module, how: str) -> tuple[list[torch.nn.Parameter],
                                                                 list[list[int]]]:
    """The model's parameters and their blocks: ``global`` one block, ``element`` one per
    element network (``nets.<element>``), ``layer`` one per layer of each (weights with their
    biases)."""
    named = list(model.named_parameters())
    keys = {"global": lambda name: "",
            "element": lambda name: name.split(".")[1],
            "layer": lambda name: ".".join(name.split(".")[1:3])}[how]
    groups: dict[str, list[int]] = {}
    for i, (name, _) in enumerate(named):
        groups.setdefault(keys(name), []).append(i)
    return [p for _, p in named], list(groups.values())

"""How the GDF weights enter the loss (paper eq. 3), written once: whether the force term is
weighted per atom, whether each structure's energy term takes the mean weight of its atoms,
from which epoch (two-stage training: eq. 1 first), and whether the force coefficient is
scaled by the weights' effective sample size. The config builds one
(:meth:`gdfnn.config.Config.weighting`); it feeds :class:`~gdfnn.training.batches.TrainingSet`
and :class:`~gdfnn.training.trainer.Trainer`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gdfnn.gdf.modifiers import effective_sample_size

#: How ``training.force_coeff`` is scaled under GDF weighting: not, or by the effective
#: sample size fraction (sum w)^2 / (N sum w^2) of the training atoms' weights.
FORCE_COEFF_SCALINGS = ("none", "ess")


@dataclass(frozen=True)
class WeightingPolicy:
    """Attributes:
        forces: weight each atom's force error by its GDF weight (eq. 3; else eq. 1).
        energies: weight each structure's energy error by the mean GDF weight of its atoms.
        from_epoch: all weights are 1 before this epoch (two-stage training).
        force_coeff_scaling: one of :data:`FORCE_COEFF_SCALINGS`.
    """

    forces: bool = False
    energies: bool = False
    from_epoch: int = 0
    force_coeff_scaling: str = "none"

    def plain(self, epoch: int) -> bool:
        """Whether ``epoch`` (0-based) trains with every weight 1."""
        return epoch < self.from_epoch

    def force_coeff(self, base: float, train_weights: torch.Tensor | None) -> float:
        """The force coefficient mu of the loss: ``base``, times the effective sample size
        fraction of ``train_weights`` (every training atom's GDF weight) under ``"ess"``."""
        if self.force_coeff_scaling == "ess" and self.forces and train_weights is not None:
            return base * effective_sample_size(train_weights)
        return base

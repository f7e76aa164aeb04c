"""An epoch of Kalman-filter training, n2p2's way: energy and force updates in random order,
one structure's energy or one force component per update, update candidates chosen by an
error threshold.

Per epoch ``energy_fraction x S`` energy updates (S training structures) and
``force_energy_ratio`` times as many force updates (or ``force_fraction`` of the training
force components), shuffled together. An energy update observes a structure's ``E_ref - E``
(eV) with the Jacobian of ``E``: the total energy, as n2p2 does (per atom, the energy updates
would weigh ``n^2`` times less against the force updates; measured on mlearn Si they then left
the energies at 25-45 meV/atom after 6 epochs, against 6 with the total). A force update
observes one component ``F_ref - F`` (eV/Å) of an atom, error and Jacobian times
``force_weight``. With ``normalize`` (n2p2's ``normalize_data_set``) every error and Jacobian
is in units of the training set's spread (energies divided by the standard deviation of the
energies per atom, forces by that of the force components), so that the measurement noise
``1/eta`` means the same on every data set and energies weigh against forces as in n2p2
(off by default: measured worse on mlearn Si and Cu2S, even on H2O).
``observations`` candidates of one kind make one update (an ``(m,)`` error with its ``(m, n)``
Jacobian: n2p2 on m MPI ranks combines one candidate of each rank so), which costs one pass
over P instead of m. Candidates are tried in a shuffled order of the structures (force
components at random within the structure of the update, one structure a force update: n2p2
draws every trial from its whole candidate list) until one's error (per atom for energies)
exceeds ``threshold`` times the root mean square of the candidates' errors of the last epoch
(of this one so far in the first), at most ``threshold_trials``, else the largest tried is
used. GDF (and group) weights scale the error, not the Jacobian.
"""

from __future__ import annotations

import math

import torch

from gdfnn.training.batches import Batch, TrainingSet
from gdfnn.training.kalman import KalmanFilter, KalmanSettings
from gdfnn.training.loss import predict


class KalmanEpochs:
    """The update plan over ``train`` and the running error scales the thresholds read."""

    def __init__(self, train: TrainingSet, settings: KalmanSettings, forces: bool):
        self.train, self.settings = train, settings
        n = train.n_structures
        self.n_energy = max(1, round(settings.energy_fraction * n))
        components = 3 * int(train.atom_offset[-1])
        per_epoch = (settings.force_energy_ratio * self.n_energy if settings.force_fraction is None
                     else settings.force_fraction * components)
        self.n_force = round(per_epoch) if forces else 0
        #: What an energy (eV) and a force (eV/Å) error and Jacobian are divided by: the
        #: standard deviations of the training set's energies per atom and force components
        #: (n2p2's normalised units), or 1.
        self.units = {"energy": 1.0, "force": 1.0}
        if settings.normalize:
            per_atom = train.energy / train.atom_offset.diff()
            labelled = train.forces[torch.isfinite(train.forces)]
            self.units = {"energy": _spread(per_atom), "force": _spread(labelled)}
        #: Root mean square of last epoch's candidate errors (eV/atom, eV/Å); None: none yet.
        self.scale: dict[str, float | None] = {"energy": None, "force": None}

    @property
    def updates_per_epoch(self) -> int:
        """Filter updates an epoch: the candidates, ``observations`` to an update."""
        m = self.settings.observations
        return math.ceil(self.n_energy / m) + math.ceil(self.n_force / m)

    def run(self, model: torch.nn.Module, kalman: KalmanFilter, generator: torch.Generator,
            force_coeff: float, weighted: bool) -> float:
        """One epoch of updates; the epoch's loss (mean weighted squared energy error per
        atom plus ``force_coeff`` times that of the force components, over the candidates
        used, before their update). ``weighted``: the GDF weights apply (else all are 1)."""
        m = self.settings.observations
        counts = {"energy": self.n_energy, "force": self.n_force}
        kinds = torch.cat([torch.full((math.ceil(counts[kind] / m),), k, dtype=torch.long)
                           for k, kind in enumerate(counts)])
        kinds = kinds[torch.randperm(kinds.numel(), generator=generator)].tolist()
        order = {kind: _Cycle(self.train.n_structures, generator) for kind in counts}
        seen = {kind: [0.0, 0] for kind in counts}
        loss = {kind: [0.0, 0] for kind in counts}
        for kind in ("energy" if k == 0 else "force" for k in kinds):
            errors, jacobians = [], []
            for _ in range(min(m, counts[kind])):
                chosen = self._candidate(kind, model, order[kind], seen[kind], generator)
                if chosen is None:
                    continue
                prediction, error, weight, n_atoms = chosen
                if not weighted:
                    weight = torch.ones_like(weight)
                scale = (self.settings.force_weight if kind == "force" else 1.0) \
                    / self.units[kind]
                errors.append(scale * weight * error)
                jacobians.append([scale * j for j in _jacobian(prediction, kalman.params)])
                loss[kind][0] += float(weight * (error / n_atoms) ** 2)
                loss[kind][1] += 1
            if errors:  # one update observing the candidates together
                kalman.update(torch.stack(errors),
                              [torch.stack(j) for j in zip(*jacobians, strict=True)])
        for kind, (total, count) in seen.items():
            if count:
                self.scale[kind] = math.sqrt(total / count)
        mean = {kind: total / count if count else 0.0 for kind, (total, count) in loss.items()}
        return mean["energy"] + force_coeff * mean["force"]

    def _structure(self, index: int) -> Batch:
        return self.train.batch(torch.tensor([index], device=self.train.x.device))

    def _candidate(self, kind: str, model, order: _Cycle, seen: list, generator):
        """The observation of the update: (prediction (scalar, with its graph), error,
        weight, atoms the error is shared by), or None where the structure has no force
        label."""
        s = self.settings
        threshold = s.energy_threshold if kind == "energy" else s.force_threshold
        best, best_ratio = None, -1.0
        batch = pred = None  # a force update's structure, kept over its trials
        for trial in range(max(s.threshold_trials, 1)):
            if kind == "energy":
                batch = self._structure(order.next())
                found = _energy(batch, model(batch.inputs(batch.x, batch.species),
                                             batch.species).sum())
            else:
                if trial == 0:
                    batch = self._structure(order.next())
                    pred = predict(model, batch, create_graph=True)
                found = _force(batch, pred, generator)
            if found is None:
                return None
            error = float(found[1]) / found[3]
            seen[0] += error**2
            seen[1] += 1
            scale = self.scale[kind] or math.sqrt(seen[0] / seen[1])
            ratio = abs(error) / scale if scale > 0 else math.inf
            if ratio > threshold:
                return found
            if ratio > best_ratio:
                best, best_ratio = found, ratio
        return best


def _energy(batch: Batch, energy: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """A structure's energy (eV, with its graph), its error and weight, and its atom count
    (the threshold compares the error per atom)."""
    weight = batch.weight[0] * batch.energy_weight[0]
    return energy, (batch.energy[0] - energy).detach(), weight, float(batch.n_atoms[0])


def _force(batch: Batch, pred, generator: torch.Generator):
    labelled = torch.isfinite(batch.forces).flatten().nonzero().flatten()
    if labelled.numel() == 0:
        return None
    k = int(labelled[torch.randint(labelled.numel(), (1,), generator=generator)])
    atom, component = divmod(k, 3)
    value = pred.forces[atom, component]
    weight = batch.weight[0] * batch.atom_weight[atom]
    return value, (batch.forces[atom, component] - value).detach(), weight, 1.0


def _jacobian(prediction: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor]:
    """d prediction / d p for each parameter (zeros for one the prediction does not use:
    an element absent from the structure)."""
    grads = torch.autograd.grad(prediction, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params, strict=True)]


def _spread(values: torch.Tensor) -> float:
    """Standard deviation of ``values``, 1 where there is none (one value, or all equal)."""
    spread = float(values.double().std()) if values.numel() > 1 else 0.0
    return spread if spread > 0 else 1.0


class _Cycle:
    """Structure indices in a random order, reshuffled each time they run out."""

    def __init__(self, n: int, generator: torch.Generator):
        self.n, self.generator = n, generator
        self.order: list[int] = []

    def next(self) -> int:
        if not self.order:
            self.order = torch.randperm(self.n, generator=self.generator).tolist()
        return self.order.pop()

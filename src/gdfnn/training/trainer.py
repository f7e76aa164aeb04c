"""The training loop: batches, optimiser, schedule, validation, best model, early stopping,
graceful stop (Ctrl-C or a ``STOP`` file), checkpoints that resume bit-identically, CSV log,
and the optional energy stage (MACE's second stage: after the main stage, from its best
weights, a low constant learning rate, the force term scaled down, and an exponential moving
average of the weights that is validated and kept)."""

from __future__ import annotations

import copy
import csv
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from gdfnn.analysis.metrics import ENERGY, FORCE, FORCE_GDF, LOSS, STRESS
from gdfnn.errors import ConfigError, GdfnnError
from gdfnn.fileio import atomic_save, atomic_write
from gdfnn.training.batches import UNWEIGHTED, StreamedSet, TrainingSet
from gdfnn.training.distributed import shard
from gdfnn.training.kalman import KalmanFilter, KalmanSettings, parameter_blocks
from gdfnn.training.kalman_epoch import KalmanEpochs
from gdfnn.training.loss import loss_terms, predict
from gdfnn.training.metrics import residuals, summarize
from gdfnn.training.weighting import WeightingPolicy

log = logging.getLogger("gdfnn")

CHECKPOINT = "checkpoint.pt"
LEARNING_CURVE = "learning_curve.csv"
STOP_FILE = "STOP"
CURVE_COLUMNS = ["epoch", "learning_rate", "train_loss", "valid_loss", "valid_energy_rmse_mev_atom",
                 "valid_force_rmse", "valid_force_rmse_gdf", "valid_stress_rmse_gpa", "seconds"]
#: Learning-rate schedules and shuffle modes (the config's choices).
SCHEDULERS = ("exponential", "plateau", "none")
SHUFFLE_MODES = ("structures", "batches")


@dataclass(frozen=True)
class TrainOptions:
    """How to train: the ``training`` section of the config as plain values (the config
    schema, ``gdfnn.config.TrainingConfig``, holds every default and its meaning)."""

    epochs: int
    batch_size: int
    shuffle: str
    optimizer: str
    learning_rate: float
    final_learning_rate: float
    scheduler: str
    plateau_factor: float
    plateau_patience: int
    weight_decay: float
    force_coeff: float
    stress_coeff: float
    valid_every: int
    patience: int | None
    seed: int
    divergence_factor: float
    divergence_epochs: int
    energy_stage_epochs: int
    energy_stage_force_scale: float
    energy_stage_learning_rate: float
    energy_stage_ema: float
    kalman: KalmanSettings

    @classmethod
    def from_mapping(cls, values: Mapping) -> TrainOptions:
        """The options among ``values`` (e.g. ``config.training.model_dump()``)."""
        options = {f.name: values[f.name] for f in fields(cls)}
        return cls(**{**options, "kalman": KalmanSettings(**options["kalman"])})

    @property
    def uses_kalman(self) -> bool:
        return self.optimizer == KALMAN


@dataclass
class TrainState:
    """Everything a resumed run needs to continue bit-identically."""

    epoch: int = 0
    best_loss: float = math.inf
    best_epoch: int = 0
    best_weights: dict | None = None
    stale_validations: int = 0
    history: list[dict] = field(default_factory=list)
    best_train_loss: float = math.inf
    best_train_epoch: int = 0
    rising_epochs: int = 0  # consecutive epochs with a loss far above the best (divergence)
    energy_stage_from: int | None = None  # the epoch the energy stage started after
    main_best_epoch: int | None = None  # the main stage's best epoch (energy stage runs)


class TrainingDiverged(GdfnnError):
    """The training loss became non-finite or stayed far above its best: the run stopped,
    its last checkpoint is the last good one, no potential was written."""


#: ``training.optimizer`` naming the Kalman filter (any other name is a torch.optim class).
KALMAN = "kalman"


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    """The ``torch.optim`` optimiser called ``name``."""
    cls = getattr(torch.optim, name, None)
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)
            and cls is not torch.optim.Optimizer):
        raise ConfigError(f"training.optimizer: torch.optim has no optimizer {name!r}")
    return cls


def make_scheduler(options: TrainOptions, optimizer):
    if options.scheduler == "exponential":
        gamma = (options.final_learning_rate / options.learning_rate) ** (
            1 / max(options.epochs, 1))
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)
    if options.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=options.plateau_factor, patience=options.plateau_patience,
            min_lr=options.final_learning_rate)
    return None


class Trainer:
    """Train ``model`` on ``train`` (and validate on ``valid``) as ``options`` say.

    Args:
        model: the per-element networks (:class:`~gdfnn.model.network.AtomicEnergies`).
        train, valid: data sets (``valid`` may have no structures).
        output: directory of checkpoint, learning curve and STOP file.
        save_potential: called with the model's best weights loaded, to write the potential.
        weighting: how the sets' GDF weights enter the loss; the trainer applies its epochs
            (every weight 1 before ``from_epoch``).
        rank, world: data-parallel position (1 process: 0, 1).
    """

    def __init__(self, model, train: TrainingSet | StreamedSet, valid: TrainingSet | None,
                 options: TrainOptions, output: Path, *,
                 save_potential: Callable[[], None] = lambda: None, checkpoint_every: int = 50,
                 weighting: WeightingPolicy = UNWEIGHTED, use_stress: bool = False,
                 progress: bool = True, rank: int = 0, world: int = 1):
        self.model, self.train_set, self.valid_set = model, train, valid
        self.options, self.output, self.weighting = options, Path(output), weighting
        self.save_potential, self.checkpoint_every = save_potential, checkpoint_every
        self.use_stress, self.progress = use_stress, progress and rank == 0
        self.rank, self.world = rank, world
        self.wrapped = model
        if world > 1:
            # the double backward of the force loss gives the (1, n) output weights a gradient
            # with strides (1, 1), which DDP's reducer rejects with a warning and a copy:
            # hand it a gradient in the parameter's own layout instead
            for p in model.parameters():
                p.register_hook(lambda grad: grad.clone(memory_format=torch.contiguous_format))
            self.wrapped = DistributedDataParallel(model)
        self.kalman_epochs: KalmanEpochs | None = None
        if options.uses_kalman:
            self.optimizer = self._kalman_filter()
            self.scheduler = None
        else:
            self.optimizer = optimizer_class(options.optimizer)(
                model.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay)
            self.scheduler = make_scheduler(options, self.optimizer)
        self.generator = torch.Generator().manual_seed(options.seed)
        if options.shuffle == "batches" and isinstance(train, TrainingSet):
            # random composition once; then every batch is a view: this rank's structures
            # in the order of the global permutation, each global batch a window of them
            order = torch.randperm(train.shard.n_structures, generator=self.generator)
            self.train_set = train.reordered(train.shard.local(order).to(train.x.device))
            zero = torch.zeros(1, dtype=torch.long)
            self._windows = (torch.cat([zero, torch.cumsum(train.shard.mine(order), 0)]),
                             torch.cat([zero, torch.cumsum(train.shard.n_atoms[order], 0)]))
        self.state = TrainState()
        self.ema_model = None  # the energy stage's moving average of the weights
        self._stop_reason: str | None = None
        self._gather_buffers: dict[str, torch.Tensor] = {}  # reused by every training batch

    def _kalman_filter(self) -> KalmanFilter:
        """The Kalman filter over the model's weights and its epoch plan; one line where the
        run asks for what it does not do."""
        refusal = ("several data-parallel ranks (run one process)" if self.world > 1 else
                   "a training set streamed from the store (training.stream_chunk, or too "
                   "little memory: set training.memory_limit_gb higher)"
                   if not isinstance(self.train_set, TrainingSet) else
                   "stress (set data.use_stress: false)" if self.use_stress else None)
        if refusal:
            raise ConfigError(f"training.optimizer kalman does not train with {refusal}")
        settings = self.options.kalman
        self.kalman_epochs = KalmanEpochs(self.train_set, settings,
                                          forces=self.options.force_coeff > 0)
        params, blocks = parameter_blocks(self.model, settings.blocks)
        kalman = KalmanFilter(params, blocks, settings, self.kalman_epochs.updates_per_epoch)
        log.info("Kalman filter (%s, %s blocks): %d energy and %d force candidates an "
                 "epoch in %d updates, P %.1f MB in %d blocks", settings.type, settings.blocks,
                 self.kalman_epochs.n_energy, self.kalman_epochs.n_force,
                 self.kalman_epochs.updates_per_epoch, kalman.covariance_bytes / 1e6,
                 len(blocks))
        return kalman

    # ----- checkpoints ------------------------------------------------------------------
    def checkpoint(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
                "ema": None if self.ema_model is None else self.ema_model.state_dict(),
                "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
                "state": vars(self.state),
                "kalman_scale": None if self.kalman_epochs is None else self.kalman_epochs.scale}

    def save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        atomic_save(self.checkpoint(), self.output / CHECKPOINT)

    def resume(self, path: Path | None = None) -> None:
        """Continue from a checkpoint written by :meth:`save_checkpoint`, on this trainer's
        device whatever device wrote it (a GPU run continues on a CPU machine and back): read
        onto the CPU, where the random-number states belong, then copied into the model and
        optimizer on their device."""
        data = torch.load(path or self.output / CHECKPOINT, weights_only=False, map_location="cpu")
        self.model.load_state_dict(data["model"])
        self.state = TrainState(**data["state"])
        if self.in_energy_stage:
            self._set_up_energy_stage()
            self.ema_model.load_state_dict(data["ema"])
        self.optimizer.load_state_dict(data["optimizer"])
        if self.kalman_epochs is not None:
            self.kalman_epochs.scale = dict(data["kalman_scale"])
        if self.scheduler is not None and data["scheduler"] is not None:
            self.scheduler.load_state_dict(data["scheduler"])
        self.generator.set_state(data["generator"])
        torch.set_rng_state(data["torch_rng"])
        if self.rank == 0:  # the curve holds exactly the epochs of the checkpoint
            with atomic_write(self.output / LEARNING_CURVE, newline="") as f:
                writer = csv.DictWriter(f, fieldnames=CURVE_COLUMNS)
                writer.writeheader()
                writer.writerows({k: row.get(k, "") for k in CURVE_COLUMNS}
                                 for row in self.state.history)

    # ----- the loop -----------------------------------------------------------------------
    def _request_stop(self, signum, frame) -> None:
        """Ctrl-C: finish the current epoch (a second or so), save, stop."""
        self._stop_reason = "interrupted (SIGINT)"

    def _batches(self):
        """(structures, atoms) of each global batch and this rank's share of it."""
        size = self.options.batch_size
        if isinstance(self.train_set, StreamedSet):
            for chunk in self.train_set.chunks(self.generator):
                yield from self._shuffled_batches(chunk, size)
        elif self.options.shuffle == "batches":
            data, (held, atoms) = self.train_set, self._windows
            total = data.shard.n_structures
            starts = torch.arange(0, total, size)
            for k in torch.randperm(starts.numel(), generator=self.generator).tolist():
                start = int(starts[k])
                stop = min(start + size, total)
                yield (stop - start, int(atoms[stop] - atoms[start]),
                       data.window(int(held[start]), int(held[stop])))
        else:
            yield from self._shuffled_batches(self.train_set, size)

    def _shuffled_batches(self, data: TrainingSet, size: int):
        """Random global batches of all ranks' structures; each rank gathers those it holds
        (a shard), or its share of each batch (a streamed chunk every rank holds whole)."""
        held = data.shard
        order = torch.randperm(held.n_structures, generator=self.generator)
        for start in range(0, order.numel(), size):
            index = order[start:start + size]
            mine = held.local(index) if held.world > 1 else shard(index, self.rank, self.world)
            yield (index.numel(), int(held.n_atoms[index].sum()),
                   data.batch(mine.to(data.x.device), self._gather_buffers))

    def train_epoch(self) -> float:
        self.model.train()
        total, count = 0.0, 0
        plain = self.weighting.plain(self.state.epoch)  # stage 1 of two: eq. 1
        if self.kalman_epochs is not None:
            return self.kalman_epochs.run(self.model, self.optimizer, self.generator,
                                          self.force_coeff, weighted=not plain)
        for n_structures, n_atoms, batch in self._batches():
            if plain:
                batch.atom_weight = torch.ones_like(batch.atom_weight)
                batch.energy_weight = torch.ones_like(batch.energy_weight)
            pred = predict(self.wrapped, batch, forces=self.options.force_coeff > 0,
                           stress=self.stress_coeff > 0, create_graph=True)
            terms = loss_terms(pred, batch, self.force_coeff, self.stress_coeff,
                               n_structures=n_structures, n_atoms=n_atoms)
            if self.state.epoch == 0 and count == 0:  # the untrained model's loss: the
                self._note_initial_loss(terms["total"].item())  # baseline of divergence
            self.optimizer.zero_grad(set_to_none=True)
            # DDP averages gradients over ranks; the terms are already global sums.
            (terms["total"] * self.world).backward()
            self.optimizer.step()
            if self.ema_model is not None:
                self._update_ema()
            total += terms["total"].item() * n_structures
            count += n_structures
        if self.world > 1:
            summed = torch.tensor([total], dtype=torch.float64)
            dist.all_reduce(summed)
            total = float(summed) / self.world
        return total / max(count, 1)

    def validate(self) -> dict[str, float]:
        """Errors of the model kept (the moving average in the energy stage) on the
        validation set, its loss with this stage's force coefficient."""
        model = self.kept_model
        model.eval()
        if self.valid_set is None or self.valid_set.n_structures == 0:
            return {}
        return summarize(residuals(model, self.valid_set, self.force_coeff, self.stress_coeff),
                         self.valid_set.elements)

    # ----- the energy stage ---------------------------------------------------------------
    @property
    def in_energy_stage(self) -> bool:
        return self.state.energy_stage_from is not None

    @property
    def force_coeff(self) -> float:
        """mu of the loss: ``force_coeff``, times ``energy_stage_force_scale`` in the energy
        stage."""
        scale = self.options.energy_stage_force_scale if self.in_energy_stage else 1.0
        return self.options.force_coeff * scale

    @property
    def stress_coeff(self) -> float:
        """nu of the loss: ``stress_coeff`` when training on stress, else 0."""
        return self.options.stress_coeff if self.use_stress else 0.0

    @property
    def kept_model(self):
        """The model validated and kept as best: the moving average in the energy stage."""
        return self.ema_model if self.ema_model is not None else self.model

    def last_epoch(self) -> int:
        """The epoch the current stage ends at."""
        if self.in_energy_stage:
            return self.state.energy_stage_from + self.options.energy_stage_epochs
        return self.options.epochs

    def _start_energy_stage(self) -> None:
        """From the main stage's best weights: a fresh optimiser at the energy stage's
        constant learning rate, the moving average started, best loss and patience reset
        (the loss changed with the force coefficient)."""
        s = self.state
        if s.best_weights is not None:
            self.model.load_state_dict(s.best_weights)
        s.energy_stage_from, s.main_best_epoch = s.epoch, s.best_epoch
        s.best_loss, s.stale_validations = math.inf, 0
        s.best_train_loss, s.rising_epochs = math.inf, 0
        self._set_up_energy_stage()
        o = self.options
        log.info("energy stage after epoch %d (best epoch %d): %d epochs, learning rate %g, "
                 "force coefficient %g, moving average %g", s.epoch, s.main_best_epoch,
                 o.energy_stage_epochs, o.energy_stage_learning_rate, self.force_coeff,
                 o.energy_stage_ema)

    def _set_up_energy_stage(self) -> None:
        """The stage's optimiser (no schedule) and its moving average, from the current weights."""
        o = self.options
        self.optimizer = optimizer_class(o.optimizer)(
            self.model.parameters(), lr=o.energy_stage_learning_rate,
            weight_decay=o.weight_decay)
        self.scheduler = None
        self.ema_model = copy.deepcopy(self.model)

    @torch.no_grad()
    def _update_ema(self) -> None:
        weight = 1.0 - self.options.energy_stage_ema
        for average, p in zip(self.ema_model.parameters(), self.model.parameters(),
                              strict=True):
            average.lerp_(p, weight)

    def _patience_ran_out(self) -> bool:
        patience = self.options.patience
        return bool(patience) and self.state.stale_validations >= patience

    def run(self) -> TrainState:
        """Train until ``epochs``, early stopping, Ctrl-C or a STOP file; then load the best
        weights, save the potential and a final checkpoint."""
        options = self.options
        # signal handlers can only be installed from the main thread (a worker thread or
        # some notebook kernels train without Ctrl-C handling; the STOP file still works)
        handle_sigint = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self._request_stop) if handle_sigint else None
        stop_file = self.output / STOP_FILE
        self.output.mkdir(parents=True, exist_ok=True)
        bar = tqdm(total=self.last_epoch(), initial=self.state.epoch, desc="training",
                   unit="epoch", disable=not self.progress)
        try:
            while not self._stop_reason:
                if self.state.epoch >= self.last_epoch() or self._patience_ran_out():
                    if options.energy_stage_epochs and not self.in_energy_stage:
                        self._start_energy_stage()
                        bar.total = self.last_epoch()
                        bar.refresh()
                        continue
                    if self._patience_ran_out():
                        self._stop_reason = (f"early stopping: no improvement in "
                                             f"{options.patience} validations")
                    break
                started = time.perf_counter()
                train_loss = self.train_epoch()
                self.state.epoch += 1
                self._check_divergence(train_loss)
                lr = self.optimizer.param_groups[0]["lr"]
                row = {"epoch": self.state.epoch, "learning_rate": lr, "train_loss": train_loss}
                if (self.state.epoch % options.valid_every == 0
                        or self.state.epoch == self.last_epoch()):
                    self._after_validation(row, self.validate())
                if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    if "valid_loss" in row:
                        self.scheduler.step(row["valid_loss"])
                elif self.scheduler is not None:
                    self.scheduler.step()
                row["seconds"] = time.perf_counter() - started
                self.state.history.append(row)
                self._log_row(row)
                bar.update(1)
                bar.set_postfix(self._progress_fields(train_loss))
                if stop_file.exists():
                    self._stop_reason = f"{STOP_FILE} file found (removed)"
                    if self.rank == 0:
                        stop_file.unlink(missing_ok=True)  # else the next run stops at once
                due = self.state.epoch % self.checkpoint_every == 0 or self._stop_reason
                if due and self.state.rising_epochs == 0:  # never a checkpoint of a rising loss
                    self.save_checkpoint()
        finally:
            bar.close()
            if handle_sigint:
                signal.signal(signal.SIGINT, previous)
        self.save_checkpoint()
        if self.state.best_weights is not None:
            self.model.load_state_dict(self.state.best_weights)
        if self.rank == 0:
            self.save_potential()
        if self._stop_reason:
            log.info("stopped after epoch %d: %s", self.state.epoch, self._stop_reason)
        return self.state

    def _note_initial_loss(self, loss: float) -> None:
        """The loss of the first batch before any step (reduced over ranks as the epoch loss
        is), so that a run
        whose loss is far above where it started is caught from its first epoch on."""
        if self.world > 1:
            summed = torch.tensor([loss], dtype=torch.float64)
            dist.all_reduce(summed)
            loss = float(summed) / self.world  # as the epoch loss is reduced
        if math.isfinite(loss) and loss < self.state.best_train_loss:
            self.state.best_train_loss, self.state.best_train_epoch = loss, 0

    def _check_divergence(self, loss: float) -> None:
        """Raise :class:`TrainingDiverged` when ``loss`` is not finite, or has been above
        ``divergence_factor`` times the best training loss for ``divergence_epochs`` epochs
        in a row."""
        s, o = self.state, self.options
        if math.isfinite(loss) and loss < s.best_train_loss:
            s.best_train_loss, s.best_train_epoch = loss, s.epoch
        rising = not math.isfinite(loss) or loss > o.divergence_factor * s.best_train_loss
        s.rising_epochs = s.rising_epochs + 1 if rising else 0
        if math.isfinite(loss) and s.rising_epochs < o.divergence_epochs:
            return
        best = ("the untrained model's" if s.best_train_epoch == 0
                else f"epoch {s.best_train_epoch}'s")
        what = (f"the loss is {loss}" if not math.isfinite(loss) else
                f"the loss {loss:.3g} has been above {o.divergence_factor:g}x its best "
                f"({s.best_train_loss:.3g}, {best}) for {s.rising_epochs} epochs")
        kept = (f"{self.output / CHECKPOINT} (the last good state) is kept"
                if (self.output / CHECKPOINT).is_file() else "no checkpoint was reached")
        raise TrainingDiverged(
            f"training diverged at epoch {s.epoch}: {what}; likely cause: the learning rate "
            f"({self.optimizer.param_groups[0]['lr']:.3g}) or the force coefficient "
            f"({o.force_coeff:g}) is too large; {kept}; no potential was written "
            "(thresholds: training.divergence_factor, training.divergence_epochs)")

    def _progress_fields(self, train_loss: float) -> dict[str, str]:
        """Training loss, and the last validation's force RMSE when there is a validation."""
        out = {"loss": f"{train_loss:.3g}"}
        last = next((r for r in reversed(self.state.history) if "valid_force_rmse" in r), None)
        if last is not None:
            out["valid_F"] = f"{last['valid_force_rmse']:.3f}"
        return out

    def _after_validation(self, row: dict, metrics: dict) -> None:
        if not metrics:  # no validation set: the last model is the best
            self.state.best_weights = copy.deepcopy(self.kept_model.state_dict())
            self.state.best_epoch = self.state.epoch
            return
        weighted = metrics.get(FORCE_GDF, metrics[FORCE])["rmse"]
        row.update(valid_loss=metrics[LOSS], valid_energy_rmse_mev_atom=metrics[ENERGY]["rmse"],
                   valid_force_rmse=metrics[FORCE]["rmse"], valid_force_rmse_gdf=weighted)
        if STRESS in metrics:
            row["valid_stress_rmse_gpa"] = metrics[STRESS]["rmse"]
        if metrics[LOSS] < self.state.best_loss:
            self.state.best_loss, self.state.best_epoch = metrics[LOSS], self.state.epoch
            self.state.best_weights = copy.deepcopy(self.kept_model.state_dict())
            self.state.stale_validations = 0
        else:
            self.state.stale_validations += 1

    def _log_row(self, row: dict) -> None:
        if self.rank != 0:
            return
        path = self.output / LEARNING_CURVE
        new = not path.exists()
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CURVE_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow({k: row.get(k, "") for k in CURVE_COLUMNS})

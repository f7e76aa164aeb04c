"""Typed, strict configuration: one place for every default.

A config file is YAML with the sections ``data``, ``descriptor``, ``gdf``, ``coverage``, ``model``,
``training``, ``output`` and, for ``gdfnn learn``, ``learn``; every key is optional except
``data.train`` (``gdfnn learn``: ``data.train`` or ``learn.start``). Unknown keys
are an error with a "did you mean" hint. ``gdfnn config --defaults`` prints this schema
with its defaults and descriptions; every run writes the resolved config beside its
results (:func:`write_resolved_config`).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gdfnn.datasets import is_reference as is_dataset
from gdfnn.descriptors.cutoff import COSINE, CUTOFF_TYPES
from gdfnn.errors import ConfigError, GdfnnError
from gdfnn.fileio import atomic_write, read_yaml
from gdfnn.gdf.coverage import (
    DEFAULT_NEIGHBOURS,
    DEFAULT_QUANTILE,
    LLPR,
    SIGNALS,
    CoverageSettings,
)
from gdfnn.gdf.density import DEFAULT_SIGMA
from gdfnn.gdf.modifiers import DEFAULT_B, DEFAULT_C, DEFAULT_MODIFIER, MODIFIERS
from gdfnn.gdf.settings import DEFAULT_TARGET_ESS, NORMALIZATIONS, GdfSettings
from gdfnn.model.network import ACTIVATIONS, DTYPES
from gdfnn.model.scaling import SCALINGS
from gdfnn.reference.calculators import labelling_factory
from gdfnn.training.kalman import KALMAN_BLOCKS, KALMAN_TYPES
from gdfnn.training.trainer import KALMAN, SCHEDULERS, SHUFFLE_MODES, optimizer_class
from gdfnn.training.weighting import FORCE_COEFF_SCALINGS, WeightingPolicy
from gdfnn.units import energy_factor, length_factor

RESOLVED_CONFIG_NAME = "config_resolved.yaml"


class StrictModel(BaseModel):
    """A config section: unknown keys are errors with a close-match hint."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = list(cls.model_fields)
            for key in data:
                if key not in known:
                    close = difflib.get_close_matches(str(key), known, n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else (
                        f"; known keys: {', '.join(known)}")
                    raise ValueError(f"unknown key {key!r}{hint}")
        return data


class DataConfig(StrictModel):
    train: list[str] = Field(
        default_factory=list,
        description="training data: 'path [slice]' entries (ase formats, n2p2 input.data; "
        "braces and globs expand; 'dataset:NAME/PART' is a file shipped with gdfnn, e.g. "
        "dataset:mlearn-si/train, listed by gdfnn datasets) or SIMPLE-NN structure_list "
        "files; relative to the config",
    )
    test: list[str] = Field(default_factory=list, description="held-out test data, same form")
    valid_rate: float = Field(0.1, ge=0, lt=1, description="fraction of each group for validation")
    test_rate: float = Field(0.0, ge=0, lt=1, description="fraction of each group split off as test")
    split_seed: int = Field(0, description="seed of the per-group shuffle")
    length_unit: float | str = Field("angstrom", description="length unit of the input files "
                                     "(angstrom, bohr, nm or Å per unit)")
    energy_unit: float | str = Field("ev", description="energy unit of the input files "
                                     "(ev, hartree, ... or eV per unit)")
    use_stress: bool | Literal["auto"] = Field(
        "auto", description="train on stress (eV/Å^3, ASE sign) with training.stress_coeff: "
        "'auto' when every training frame has stress and a 3-D periodic cell, true on the "
        "frames that have it (the others masked out of the stress term), false never")

    @field_validator("length_unit")
    @classmethod
    def _known_length_unit(cls, value):
        length_factor(value)  # raises for an unknown name or a non-positive factor
        return value

    @field_validator("energy_unit")
    @classmethod
    def _known_energy_unit(cls, value):
        energy_factor(value)
        return value

    @model_validator(mode="after")
    def _rates_leave_training_data(self):
        if self.valid_rate + self.test_rate >= 1:
            raise ValueError(f"valid_rate + test_rate = {self.valid_rate + self.test_rate:g} "
                             "leaves no training data (must be < 1)")
        return self


class DescriptorConfig(StrictModel):
    elements: list[str] | None = Field(None, description="element order; null = from the data, "
                                       "sorted")
    params: dict[str, str] | None = Field(None, description="SIMPLE-NN params_XX file per element;"
                                          " null = the SIMPLE-NN default set")
    n2p2: str | None = Field(None, description="an n2p2 input.nn: its elements, cutoff_type "
                             "and symfunction_short lines are the descriptor (instead of params "
                             "or the default set), lengths (rc, rs, eta) in data.length_unit")
    cutoff: float = Field(6.0, gt=0, description="cutoff radius of the default set (Å)")
    cutoff_type: Literal[tuple(CUTOFF_TYPES)] = Field(
        COSINE, description="cutoff function, n2p2's numbers: " + ", ".join(
            f"{k} {v}" for k, v in CUTOFF_TYPES.items()) + " (1 with alpha 0 is SIMPLE-NN's)")
    cutoff_alpha: float = Field(0.0, ge=0, lt=1, description="inner cutoff alpha * Rc below "
                                "which the cutoff function is 1 (types 0, 1, 4-8)")
    store: str | None = Field(None, description="HDF5 feature store; null = "
                              "<output.directory>/features.h5")

    @model_validator(mode="after")
    def _one_source_of_functions(self):
        if self.params and self.n2p2:
            raise ValueError("give params (SIMPLE-NN) or n2p2 (input.nn), not both")
        return self


class GdfConfig(StrictModel):
    enabled: bool = Field(False, description="weight the force loss by the GDF (paper eq. 3)")
    sigma: float | Literal["auto", "ess"] | dict[str, float] = Field(
        DEFAULT_SIGMA, description="Gaussian width on [-1, 1]-scaled features: a number, per "
        "element, 'auto' (SIMPLE-NN rule: max nearest-neighbour RMS distance / 3) or 'ess' "
        "(per element, the largest width whose weights have the effective sample size "
        "target_ess)")
    target_ess: float = Field(DEFAULT_TARGET_ESS, gt=0, lt=1, description="sigma 'ess': the "
                              "effective sample size (sum w)^2 / (N sum w^2) aimed at")
    modifier: Literal[MODIFIERS] = Field(
        DEFAULT_MODIFIER, description="Theta applied to 1/rho (eq. 4 or SIMPLE-NN's shifted form)")
    b: float = Field(DEFAULT_B, gt=0, description="sigmoid slope b")
    c: float | Literal["auto"] = Field(DEFAULT_C, description="sigmoid offset c; 'auto' = "
                                       "SIMPLE-NN fit (sigmoid-shifted only)")
    alpha: float = Field(1.0, ge=0, le=1, description="tempering: weights ∝ Theta(1/rho)^alpha "
                         "(0 = all weights 1, NNP-c; 1 = the paper; 0.5 = the best measured "
                         "trade-off, docs/gdf-guide.md)")
    max_weight: float | None = Field(None, gt=1, description="clip weights at this value, "
                                     "renormalise the rest to mean 1; null = no cap")
    normalize: Literal[NORMALIZATIONS] = Field(
        "element", description="weights have mean 1 over each element's training atoms, or "
        "over all training atoms together")
    energy_weighting: bool = Field(False, description="weight each structure's energy term by "
                                   "the mean GDF weight of its atoms too (paper: forces only)")
    force_coeff_scaling: Literal[FORCE_COEFF_SCALINGS] = Field(
        "none", description="'ess': multiply training.force_coeff by the weights' effective "
        "sample size fraction (sum w)^2 / (N sum w^2), so that fewer effective atoms do not "
        "outweigh the energies")
    chunk: int | None = Field(None, gt=0, description="query rows per GEMM block; null = auto")
    approximate: bool = Field(False, description="cluster references (for 1e6+ atoms per element)")
    cache: str | None = Field(None, description="directory keeping GDF results per data and "
                              "setting (sweeps compute each once); null = none")

    @field_validator("sigma")
    @classmethod
    def _positive_sigma(cls, value):
        values = value.values() if isinstance(value, dict) else [value]
        if any(v not in ("auto", "ess") and not v > 0 for v in values):
            raise ValueError(f"sigma must be positive, got {value}")
        return value

    @model_validator(mode="after")
    def _auto_c_needs_shifted_sigmoid(self):
        if self.c == "auto" and self.modifier != "sigmoid-shifted":
            raise ValueError(f"c: 'auto' is defined for modifier sigmoid-shifted, not "
                             f"{self.modifier}")
        return self

    def settings(self) -> GdfSettings:
        """The settings that make rho and the weights (the keys of :class:`GdfSettings`)."""
        return GdfSettings(**{f.name: getattr(self, f.name) for f in fields(GdfSettings)})


class CoverageConfig(StrictModel):
    """Coverage (gdfnn.gdf.coverage): which atoms lie outside the training data, read with
    its own width and floor, apart from the loss weighting's sigma."""

    width: float | Literal["knn"] = Field(
        "knn", description="Gaussian width on [-1, 1]-scaled features; 'knn': per element, the "
        "median distance of a training atom to its neighbours-th nearest training atom that is "
        "not a copy of it")
    neighbours: int = Field(DEFAULT_NEIGHBOURS, ge=1, description="k of the 'knn' width")
    quantile: float = Field(DEFAULT_QUANTILE, gt=0, lt=0.5, description="the share of "
                            "held-out atoms of the training distribution (validation atoms; "
                            "training atoms against the other frames) flagged as outside the "
                            "training data: below the rho floor, above the rigidity ceiling")
    signal: Literal[SIGNALS] = Field(
        LLPR, description="what decides that an atom lies outside the training data: 'llpr', "
        "its last-layer prediction rigidity above the ceiling (needs validation frames; "
        "without them, rho), or 'rho', its GDF rho on the symmetry functions below the floor")

    @field_validator("width")
    @classmethod
    def _positive_width(cls, value):
        if value != "knn" and not value > 0:
            raise ValueError(f"width must be positive or 'knn', got {value}")
        return value

    def settings(self, seed: int = 0) -> CoverageSettings:
        return CoverageSettings(self.width, self.neighbours, self.quantile, seed, self.signal)


class ModelConfig(StrictModel):
    hidden: list[int] = Field([30, 30], description="hidden layer widths of each element's MLP "
                              "(each at least 1; [] is a linear model)")
    activation: Literal[tuple(ACTIVATIONS)] = Field(
        "sigmoid", description="hidden activation (output is linear)")
    dtype: Literal[tuple(DTYPES)] = Field("float64", description="network and feature "
                                          "precision")
    scaling: Literal[SCALINGS] = Field(
        "minmax", description="feature scaling fitted on the training split")
    pca: bool = Field(False, description="PCA whitening after scaling (SIMPLE-NN semantics)")
    pca_min_whiten_level: float = Field(1e-8, gt=0, description="floor of PCA variances")

    @field_validator("hidden")
    @classmethod
    def _layers_have_nodes(cls, value):
        if any(width < 1 for width in value):
            raise ValueError(f"every hidden layer needs at least one node, got {value}")
        return value


class KalmanConfig(StrictModel):
    """``training.kalman``: the extended Kalman filter (``training.optimizer: kalman``), n2p2's
    keywords in brackets; defaults are n2p2's ``input.nn.recommended``."""

    type: Literal[KALMAN_TYPES] = Field("standard", description="'standard' or 'fading' "
                                        "memory (kalman_type 0 / 1)")
    blocks: Literal[KALMAN_BLOCKS] = Field(
        "global", description="decoupled blocks of the error covariance P: 'global' (one, "
        "n2p2's combined update), 'element' (one per element network), 'layer' (one per layer "
        "of each); P holds the square of each block's weight count in float64")
    epsilon: float = Field(0.01, gt=0, description="P starts at I / epsilon (kalman_epsilon)")
    q0: float = Field(0.01, ge=0, description="initial process noise (kalman_q0)")
    qtau: float = Field(2.302, ge=0, description="process noise decays by exp(-qtau) an epoch "
                        "(kalman_qtau; 2.302: a decade)")
    qmin: float = Field(1e-6, ge=0, description="smallest process noise (kalman_qmin)")
    eta: float = Field(0.01, gt=0, description="standard filter: initial learning rate, the "
                       "measurement noise is 1/eta (kalman_eta)")
    etatau: float = Field(2.302, ge=0, description="standard filter: eta grows by exp(etatau) "
                          "an epoch (kalman_etatau)")
    etamax: float = Field(1.0, gt=0, description="standard filter: largest eta (kalman_etamax)")
    lambda0: float = Field(0.96, gt=0, le=1, description="fading memory: initial forgetting "
                           "factor (kalman_lambda_short)")
    nu: float = Field(0.9987, gt=0, le=1, description="fading memory: lambda approaches 1 as "
                      "lambda = nu lambda + 1 - nu per update (kalman_nue_short)")
    energy_fraction: float = Field(1.0, gt=0, description="energy updates an epoch per "
                                   "training structure (short_energy_fraction)")
    force_energy_ratio: float = Field(3.0, ge=0, description="force updates per energy update "
                                      "(force_energy_ratio); none when training.force_coeff is 0")
    force_fraction: float | None = Field(None, gt=0, description="force updates an epoch per "
                                         "training force component (short_force_fraction); "
                                         "null = force_energy_ratio decides")
    force_weight: float = Field(1.0, gt=0, description="force updates' error and Jacobian are "
                                "multiplied by this (force_weight)")
    normalize: bool = Field(False, description="errors and Jacobians in units of the "
                            "training set's spread: energies per atom and force components "
                            "divided by their standard deviations (n2p2's normalize_data_set; "
                            "measured worse on mlearn Si and Cu2S, docs/train.md); false: eV and "
                            "eV/Å")
    observations: int = Field(1, ge=1, description="candidates of one kind observed together "
                              "in one update (one pass over P for all of them; n2p2 on N MPI "
                              "ranks combines N)")
    energy_threshold: float = Field(0.0, ge=0, description="an energy update candidate is used "
                                    "when its error exceeds this times the root mean square of "
                                    "the last epoch's (short_energy_error_threshold)")
    force_threshold: float = Field(1.0, ge=0, description="the same for force components "
                                   "(short_force_error_threshold)")
    threshold_trials: int = Field(3, ge=1, description="candidates tried before the largest "
                                  "error tried is used (rmse_threshold_trials)")


class TrainingConfig(StrictModel):
    epochs: int = Field(1000, ge=0, description="passes over the training set")
    batch_size: int = Field(16, gt=0, description="structures per optimiser step")
    shuffle: Literal[SHUFFLE_MODES] = Field(
        "structures", description="'structures': new random batches every epoch; 'batches': "
        "random batches drawn once, their order shuffled every epoch (no copying: faster)")
    stream_chunk: int | None = Field(
        None, gt=0, description="read the training set from the feature store in chunks of this "
        "many structures each epoch; null = in memory where it fits, else streamed in chunks "
        "sized to the memory (said in one line)")
    memory_limit_gb: float | None = Field(
        None, gt=0, description="memory (GB) the data sets may plan on; null = what the machine "
        "(or its cgroup limit) has available when training starts")
    optimizer: str = Field("Adam", description="any torch.optim optimiser, by name, or "
                           "'kalman': n2p2's extended Kalman filter (training.kalman; "
                           "learning_rate, scheduler, batch_size and shuffle are then unused)")
    learning_rate: float = Field(1e-3, gt=0, description="initial learning rate")
    final_learning_rate: float = Field(1e-5, gt=0, description="exponential schedule's end value")
    scheduler: Literal[SCHEDULERS] = Field(
        "exponential", description="learning-rate schedule")
    plateau_factor: float = Field(0.5, gt=0, lt=1, description="plateau schedule: factor the "
                                  "learning rate is multiplied by")
    plateau_patience: int = Field(5, ge=0, description="plateau schedule: validations without "
                                  "improvement before the learning rate drops")
    gdf_from_epoch: int = Field(0, ge=0, description="two-stage training: all atom weights are 1 "
                                "(NNP-c) before this epoch, the GDF weights from it on")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty of the optimiser")
    force_coeff: float = Field(0.1, ge=0, description="mu in eq. 1/3 (SIMPLE-NN default 0.1)")
    stress_coeff: float = Field(10.0, ge=0, description="weight nu of the stress term, "
                                "(eV/Å^3)^-2 against the energy term's (eV/atom)^-2, used when "
                                "data.use_stress resolves true (10: measured on mlearn Si, "
                                "docs/train.md)")
    valid_every: int = Field(10, gt=0, description="epochs between validations")
    patience: int | None = Field(None, gt=0, description="early stopping after this many "
                                 "validations without improvement; null = off")
    divergence_factor: float = Field(100.0, gt=1, description="the run stops as diverged "
                                     "when the training loss stays above this many times its "
                                     "best for divergence_epochs epochs (or is not finite); "
                                     "no potential is written, the last good checkpoint kept")
    divergence_epochs: int = Field(5, ge=1, description="epochs in a row above "
                                   "divergence_factor x the best training loss that stop a run")
    energy_stage_epochs: int = Field(0, ge=0, description="energy stage (MACE's second "
                                     "stage): this many more epochs after the main stage "
                                     "(its epochs or early stopping), from its best weights, "
                                     "validating and keeping a moving average of the weights; "
                                     "0 = off")
    energy_stage_force_scale: float = Field(0.1, ge=0, description="energy stage: force_coeff "
                                            "is multiplied by this (energies weigh more)")
    energy_stage_learning_rate: float = Field(1e-4, gt=0, description="energy stage: constant "
                                              "learning rate")
    energy_stage_ema: float = Field(0.99, ge=0, lt=1, description="energy stage: decay of the "
                                    "moving average of the weights per optimiser step")
    seed: int = Field(0, description="seed of weights, batches and everything random")
    init_from: str | None = Field(None, description="a potential.pt (same descriptor) whose "
                                  "scaling and network weights the training starts from "
                                  "(a warm start); null = fresh weights")
    device: str = Field("auto", description="'auto' (CUDA when present), 'cpu', 'cuda', 'cuda:1'")
    threads: int | None = Field(None, gt=0, description="torch CPU threads, set by the command "
                                "line (the library leaves them as they are); null = torch default")
    kalman: KalmanConfig = Field(default_factory=KalmanConfig, description="the Kalman "
                                 "filter's settings (optimizer: kalman)")

    @field_validator("optimizer")
    @classmethod
    def _known_optimizer(cls, value):
        if value == KALMAN:
            return value
        try:
            optimizer_class(value)
        except GdfnnError as exc:
            raise ValueError(str(exc).split(": ", 1)[1]) from None
        return value

    @model_validator(mode="after")
    def _kalman_has_no_gradient_settings(self):
        if self.optimizer == KALMAN:
            used = [name for name in ("energy_stage_epochs", "weight_decay") if getattr(self, name)]
            if used:
                raise ValueError(f"optimizer kalman has no {' or '.join(used)} (set it to 0)")
        return self


LEARN_STRATEGIES = ("coverage", "ensemble", "random")
#: The MD engines of gdfnn md and gdfnn learn.
MD_ENGINES = ("ase", "lammps")


class LearnConfig(StrictModel):
    """``gdfnn learn``: rounds of explore (MD with the current potential), select, label,
    train. Read only by ``gdfnn learn``; the other sections say how each round trains."""

    structures: list[str] = Field(default_factory=list, description="learn: structures to "
                                  "explore from (any ase.io file, every frame a start; "
                                  "relative to the config)")
    start: list[str] = Field(default_factory=list, description="learn: unlabelled frames "
                             "labelled in round 0 and trained on with data.train's labelled "
                             "ones")
    rounds: int = Field(10, ge=1, description="learn: at most this many rounds after round 0")
    temperatures: list[float] = Field([300.0], min_length=1, description="learn: K; one "
                                      "trajectory per structure, temperature and pressure")
    pressures: list[float] = Field(default_factory=list, description="learn: GPa "
                                   "(npt-berendsen); empty = constant volume. Needs a potential "
                                   "trained on stress (every labelled frame with stress: the "
                                   "labeller gives it for 3-D periodic frames; data.use_stress)")
    npt_without_stress: bool = Field(False, description="learn: explore at learn.pressures "
                                     "even with a potential not trained on stress (its "
                                     "pressures are then not fitted)")
    ensemble: str = Field("langevin", description="learn: MD ensemble, as gdfnn md's "
                          "--ensemble (checked when gdfnn learn starts)")
    md_steps: int = Field(2000, gt=0, description="learn: steps of each trajectory (it ends "
                          "earlier with atoms closer than min_distance)")
    md_interval: int = Field(20, gt=0, description="learn: steps between candidate frames")
    uncovered_frames: int = Field(5, gt=0, description="learn: a trajectory's candidates end "
                                  "at its this-many-th frame with an atom below the coverage "
                                  "floor (further on is extrapolation; 1: at the first)")
    timestep: float = Field(1.0, gt=0, description="learn: MD time step (fs)")
    min_distance: float = Field(1.5, gt=0, description="learn: Å; closer atoms end a "
                                "trajectory (that frame is no candidate)")
    engine: Literal[MD_ENGINES] = Field("lammps", description="learn: MD engine: lammps "
                                        "(pair_style gdfnn, coverage in the plugin) or ase")
    strategy: Literal[LEARN_STRATEGIES] = Field(
        "coverage", description="learn: how frames are chosen: coverage (gdfnn select's "
        "greedy), ensemble (DP-GEN's force deviation of `models` models within the trust "
        "levels, at random) or random")
    pick: int = Field(20, gt=0, description="learn: frames labelled per round")
    models: int = Field(4, ge=2, description="learn, ensemble: models per round (seeds "
                        "training.seed, +1, ...)")
    trust_lo: float = Field(0.05, ge=0, description="learn, ensemble: eV/Å; frames whose "
                            "largest atomic force deviation is below it are trusted")
    trust_hi: float = Field(0.15, gt=0, description="learn, ensemble: eV/Å; frames at or "
                            "above it are taken as failed MD, not labelled")
    labeller: str | None = Field(None, description="learn: the calculator that labels: a "
                                 "reference potential (snap-si, emt, ...) or an ASE "
                                 "calculator class by import path (ase.calculators.emt.EMT)")
    labeller_kwargs: dict[str, Any] = Field(default_factory=dict, description="learn: "
                                            "keyword arguments of the labeller")
    label_command: str | None = Field(None, description="learn: instead of a labeller, a "
                                      "shell command that labels {input} (extxyz, one frame) "
                                      "into {output} (any ase.io file with energy and "
                                      "forces), run in the frame's folder, e.g. "
                                      "'sbatch --wait dft.sh {input} {output}'")
    label_workers: int = Field(1, gt=0, description="learn: frames labelled at once")
    label_timeout: float | None = Field(None, gt=0, description="learn: s; a label taking "
                                        "longer is stopped (then retried once)")
    warm_start: bool = Field(False, description="learn: each round trains from the previous "
                             "round's potential (training.init_from) instead of from scratch")
    label_budget: int | None = Field(None, gt=0, description="learn: stop once this many "
                                     "frames have been labelled")
    target_force_rmse: float | None = Field(None, gt=0, description="learn: eV/Å; stop when "
                                            "data.test's force RMSE is at or below it")

    @model_validator(mode="after")
    def _one_labeller_and_sane_levels(self):
        if (self.labeller is None) == (self.label_command is None):
            if self.structures or self.start or self.labeller or self.label_command:
                raise ValueError("give labeller or label_command (one of them)")
        if self.label_command is not None:
            missing = [k for k in ("{input}", "{output}") if k not in self.label_command]
            if missing:
                raise ValueError(f"label_command needs {' and '.join(missing)}: "
                                 f"{self.label_command!r}")
        if self.trust_lo >= self.trust_hi:
            raise ValueError(f"trust_lo ({self.trust_lo}) must be below trust_hi "
                             f"({self.trust_hi})")
        return self

    @field_validator("labeller")
    @classmethod
    def _known_labeller(cls, value):
        if value is not None:
            try:
                labelling_factory(value)
            except GdfnnError as exc:
                raise ValueError(str(exc)) from None
        return value


class OutputConfig(StrictModel):
    directory: str = Field("results", description="where potential, logs and plots go "
                           "(relative to the config)")
    checkpoint_every: int = Field(50, gt=0, description="epochs between checkpoints")
    plots: bool = Field(True, description="write PNG plots")
    progress: bool = Field(True, description="show progress bars")
    properties: bool = Field(True, description="after training, the lattice constant and "
                             "bulk modulus (Å, GPa) of a one-element potential's ground-state "
                             "crystal (diamond, fcc, bcc or hcp) in metrics.json and the log")


class Config(StrictModel):
    """The whole configuration of a gdfnn run."""

    data: DataConfig = Field(default_factory=DataConfig)
    descriptor: DescriptorConfig = Field(default_factory=DescriptorConfig)
    gdf: GdfConfig = Field(default_factory=GdfConfig)
    coverage: CoverageConfig = Field(default_factory=CoverageConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    learn: LearnConfig = Field(default_factory=LearnConfig)

    @model_validator(mode="after")
    def _per_element_values_cover_the_elements(self):
        elements = self.descriptor.elements
        if elements:
            check_per_element(self, elements)
        return self

    def weighting(self) -> WeightingPolicy:
        """How the GDF weights enter the loss (``gdf`` and ``training.gdf_from_epoch``)."""
        return WeightingPolicy(forces=self.gdf.enabled, energies=self.gdf.energy_weighting,
                               from_epoch=self.training.gdf_from_epoch,
                               force_coeff_scaling=self.gdf.force_coeff_scaling)


def check_per_element(config: Config, elements: list[str]) -> None:
    """Per-element settings (``gdf.sigma`` as a mapping, ``descriptor.params``) must name
    every element; raises ``ValueError`` naming the key and the missing elements."""
    for key, mapping in (("gdf.sigma", config.gdf.sigma), ("descriptor.params",
                                                         config.descriptor.params)):
        if isinstance(mapping, dict):
            missing = sorted(set(elements) - set(mapping))
            if missing:
                raise ValueError(f"{key} has no value for element(s) {', '.join(missing)}")


def _format_errors(source: str, error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        # pydantic adds the tried union member or the literal to the location: drop them
        loc = [str(p) for p in item["loc"] if not (isinstance(p, str) and (
            "[" in p or p in {"float", "str", "int", "dict[str,float]"}))]
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{'.'.join(loc)}: {message}" if loc else message)
    return f"{source}: " + "; ".join(parts)


def _absolute(entry: str, base: Path) -> str:
    path, _, rest = entry.strip().partition(" ")
    if is_dataset(path):  # a packaged file, resolved where it is read
        return entry.strip()
    full = path if os.path.isabs(path) else str((base / path).resolve())
    return f"{full} {rest.strip()}".strip()


def config_from_dict(values: dict, *, source: str = "config", base_dir: str | Path = ".") -> Config:
    """Validate ``values``; relative paths become absolute against ``base_dir``."""
    try:
        config = Config.model_validate(values or {})
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None
    base = Path(base_dir).resolve()
    config.data.train = [_absolute(e, base) for e in config.data.train]
    config.data.test = [_absolute(e, base) for e in config.data.test]
    if config.descriptor.n2p2:
        config.descriptor.n2p2 = _absolute(config.descriptor.n2p2, base)
    if config.descriptor.params:
        config.descriptor.params = {k: _absolute(v, base)
                                    for k, v in config.descriptor.params.items()}
    if config.descriptor.store:
        config.descriptor.store = _absolute(config.descriptor.store, base)
    if config.gdf.cache:
        config.gdf.cache = _absolute(config.gdf.cache, base)
    if config.training.init_from:
        config.training.init_from = _absolute(config.training.init_from, base)
    config.learn.structures = [_absolute(e, base) for e in config.learn.structures]
    config.learn.start = [_absolute(e, base) for e in config.learn.start]
    config.output.directory = _absolute(config.output.directory, base)
    return config


def with_overrides(config: Config, overrides: dict[str, dict[str, Any]], *,
                   source: str = "command line") -> Config:
    """A copy of ``config`` with ``{section: {key: value}}`` replaced (``None`` values are
    skipped), validated as a whole: a bad value is a :class:`ConfigError` naming the key."""
    values = config.model_dump(mode="json")
    for section, updates in overrides.items():
        if section not in values:
            raise ConfigError(f"{source}: unknown config section {section!r}")
        values[section].update({k: v for k, v in updates.items() if v is not None})
    return config_from_dict(values, source=source)


def load_config(path: str | os.PathLike) -> Config:
    """Read and validate a YAML config file (paths relative to the file)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    values = read_yaml(path, ConfigError)
    if values is not None and not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(values).__name__}")
    return config_from_dict(values or {}, source=str(path), base_dir=path.parent)


def write_resolved_config(config: Config, directory: str | os.PathLike) -> Path:
    """Write ``config_resolved.yaml`` (every key, defaults filled in) into ``directory``."""
    target = Path(directory) / RESOLVED_CONFIG_NAME
    with atomic_write(target) as out:
        yaml.safe_dump(config.model_dump(mode="json"), out, sort_keys=False)
    return target


def defaults_yaml() -> str:
    """The full schema as commented YAML: every key, its default and its meaning."""
    lines = ["# gdfnn configuration: defaults (units: eV, Å, eV/Å, eV/Å^3)"]
    for section, field in Config.model_fields.items():
        lines.append(f"{section}:")
        lines += _documented(field.annotation, "  ")
    return "\n".join(lines) + "\n"


def _documented(model: type[BaseModel], indent: str) -> list[str]:
    """``model``'s keys as commented YAML lines, a nested section's keys indented below it."""
    lines = []
    for key, sub in model.model_fields.items():
        if isinstance(sub.annotation, type) and issubclass(sub.annotation, BaseModel):
            lines.append(f"{indent}{key}:  # {sub.description}")
            lines += _documented(sub.annotation, indent + "  ")
            continue
        default = sub.get_default(call_default_factory=True)
        value = yaml.safe_dump(default, default_flow_style=True).strip()
        value = value.removesuffix("\n...").removesuffix("...").strip()
        lines.append(f"{indent}{key}: {value}  # {sub.description}")
    return lines

"""The steps of a training run, each reusable on its own: start (device, ranks), prepare the
data, fit the feature transforms, compute the GDF, build the data sets, build the networks,
fit, report. ``gdfnn train``, ``gdfnn gdf`` and ``gdfnn reproduce`` compose them.

Under ``torchrun`` every rank calls every step; a step that writes a file (the feature store,
its GDF columns) does so once, on rank 0, behind barriers, and the other ranks read only after.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from gdfnn.analysis.metrics import ENERGY, FORCE, FORCE_GDF, STRESS
from gdfnn.config import Config, ModelConfig, TrainingConfig
from gdfnn.data.store import ATOM_ROW, FEATURES, GDF_WEIGHT, SPECIES, FeatureSet, FeatureStore
from gdfnn.data.store import ENERGY as STORE_ENERGY
from gdfnn.errors import ConfigError, GdfnnError
from gdfnn.export import load_potential
from gdfnn.fileio import atomic_save
from gdfnn.gdf.dataset import ElementGdf, dataset_gdf, scatter_to_atoms, weight_warning
from gdfnn.gdf.reference import compress_reference
from gdfnn.gdf.settings import GdfSettings
from gdfnn.model.network import DTYPES, AtomicEnergies, fit_reference_energies
from gdfnn.model.potential import Potential
from gdfnn.model.scaling import ElementTransform, fit_transforms
from gdfnn.training import distributed
from gdfnn.training.batches import StreamedSet, TrainingSet, stress_labelled
from gdfnn.training.distributed import Shard
from gdfnn.training.metrics import merge, residuals, summarize
from gdfnn.training.trainer import TrainOptions
from gdfnn.training.weighting import WeightingPolicy
from gdfnn.workflows.memory import GB, available_memory, evaluation_chunk, plan_memory
from gdfnn.workflows.prepare import PreparedData, prepare

log = logging.getLogger("gdfnn")

#: The potential file keeps its GDF reference (scaled training features) up to this size.
GDF_REFERENCE_LIMIT_BYTES = 50 * 2**20


@dataclass(frozen=True)
class RunContext:
    """Where a run computes: its device and its data-parallel position."""

    device: torch.device
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def pick_device(name: str) -> torch.device:
    """``auto`` is CUDA when present, else the CPU; other names as torch reads them."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def start(device_name: str) -> RunContext:
    """The device (``training.device``), and the process group when torchrun launched this
    process."""
    device = pick_device(device_name)
    rank, world = distributed.init(device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return RunContext(device, rank, world)


def finish(ctx: RunContext) -> None:
    """Wait for every rank, then leave the process group."""
    if ctx.world > 1:
        dist.barrier()
        dist.destroy_process_group()


def rank0_first(ctx: RunContext, step: Callable[[], object]):
    """Run ``step`` on rank 0, then on the other ranks (which then find what it wrote)."""
    if not ctx.is_main:
        ctx.barrier()
    result = step()
    if ctx.is_main:
        ctx.barrier()
    return result


def prepare_data(config: Config, ctx: RunContext) -> PreparedData:
    """Read, validate, split and featurise (rank 0 writes the store; the others reuse it)."""
    return rank0_first(ctx, lambda: prepare(config))


@dataclass
class TrainingFeatures:
    """Raw features of every structure of the store and which atoms are training atoms."""

    data: FeatureSet  # features only: G, species and per-structure labels
    is_train: torch.Tensor  # (N,) bool

    @property
    def species(self) -> torch.Tensor:
        return self.data.arrays[SPECIES]


def load_features(prepared: PreparedData) -> TrainingFeatures:
    data = prepared.store.load(features_only=True)
    is_train = torch.zeros(data.n_structures, dtype=torch.bool)
    is_train[torch.as_tensor(prepared.split.train)] = True
    return TrainingFeatures(data, is_train[data.structure_of_atom()])


def fit_feature_transforms(features: TrainingFeatures, prepared: PreparedData,
                           model: ModelConfig) -> dict[str, ElementTransform]:
    """Scaling (and PCA) per element, fitted on the training atoms."""
    sf = prepared.descriptor
    return fit_transforms(features.data.arrays[FEATURES][features.is_train],
                          features.species[features.is_train], sf.n_features, sf.elements,
                          model.scaling, model.pca, model.pca_min_whiten_level)


def warm_start(path: str, prepared: PreparedData) -> Potential:
    """The potential at ``path`` whose scaling and network weights a training starts from
    (``training.init_from``); its symmetry functions must be this run's."""
    try:
        start = load_potential(path)
    except GdfnnError as exc:
        raise ConfigError(f"training.init_from: {exc}") from None
    if start.descriptor != prepared.descriptor:
        raise ConfigError(f"training.init_from: {path}: its symmetry functions (elements "
                          f"{', '.join(start.elements)}) are not this run's")
    return start


def scaled_features(features: TrainingFeatures, transforms: dict[str, ElementTransform],
                    elements: list[str]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per element: scaled pre-PCA features ``(n_e, D_e)`` float64 of all its atoms (data
    order) and the ``(n_e,)`` training mask: what the GDF is computed on."""
    out = {}
    for n, element in enumerate(elements):
        mine = features.species == n
        t = transforms[element]
        x = t.scaled(features.data.arrays[FEATURES][mine][:, : t.n_features].to(torch.float64))
        out[element] = (x, features.is_train[mine])
    return out


def compute_gdf(scaled: dict[str, tuple[torch.Tensor, torch.Tensor]], settings: GdfSettings,
                ctx: RunContext, *, cache: str | Path | None = None, chunk: int | None = None,
                progress: bool = False) -> dict[str, ElementGdf]:
    """GDF rho and weights of every atom per element (:func:`gdfnn.gdf.dataset.dataset_gdf`);
    with several ranks the kernel sums are split across them. ``cache``: a directory where
    results are kept per data and settings, so that runs differing only in other keys (seeds,
    training) compute the GDF once."""
    path = None
    if cache is not None:
        h = hashlib.sha256(settings.key().encode())
        for e, (x, train) in scaled.items():
            h.update(e.encode() + x.numpy().tobytes() + train.numpy().tobytes())
        path = Path(cache) / f"gdf_{h.hexdigest()[:20]}.pt"
    if path is not None and path.is_file():
        per_element = {e: ElementGdf(**r)
                       for e, r in torch.load(path, weights_only=True).items()}
    else:
        per_element = dataset_gdf(scaled, settings, chunk=chunk,
                                  progress=progress and ctx.is_main, distributed=ctx.world > 1)
        if path is not None and ctx.is_main:
            atomic_save({e: vars(r) for e, r in per_element.items()}, path)
    if ctx.is_main:
        report_weights(per_element)
    return per_element


def report_weights(per_element: dict[str, ElementGdf]) -> None:
    """Log each element's weight spread and effective sample size, and warn when the
    weighting is inert or extreme (:func:`gdfnn.gdf.dataset.weight_warning`)."""
    for gdf in per_element.values():
        stats = gdf.stats()
        log.info("GDF weights of %s: min %.3g, median %.3g, max %.3g, effective sample size "
                 "%.3f", stats["element"], stats["min"], stats["median"], stats["max"],
                 stats["effective_sample_size"])
        warning = weight_warning(stats)
        if warning:
            log.warning("%s", warning)


def training_weights(per_element: dict[str, ElementGdf]) -> torch.Tensor:
    """The GDF weights of every training atom, all elements."""
    return torch.cat([r.weights[r.is_train] for r in per_element.values()])


def gdf_metadata(settings: GdfSettings, enabled: bool,
                 scaled: dict[str, tuple[torch.Tensor, torch.Tensor]],
                 per_element: dict[str, ElementGdf] | None) -> dict:
    """What the potential records of its GDF (:meth:`GdfSettings.metadata`): the widths used
    in training, or without GDF weighting the configured ones with ``auto`` resolved on the
    training atoms (the width its coverage reference is read with)."""
    if per_element:
        return settings.metadata(enabled, {e: r.sigma for e, r in per_element.items()},
                                 {e: r.c for e, r in per_element.items()})
    return settings.metadata(enabled, {e: settings.resolved_sigma(e, x[train])
                                       for e, (x, train) in scaled.items()})


def store_gdf(prepared: PreparedData, per_element: dict[str, ElementGdf],
              features: TrainingFeatures, ctx: RunContext) -> None:
    """Write rho and weights into the feature store (``gdfnn gdf``): rank 0 alone, while the
    others wait (HDF5 refuses a writer while another process holds the file open)."""
    ctx.barrier()
    if ctx.is_main:
        prepared.store.write_gdf(*scatter_to_atoms(per_element, features.species,
                                                   prepared.descriptor.elements))
    ctx.barrier()


def gdf_reference(scaled: dict[str, tuple[torch.Tensor, torch.Tensor]],
                  sigma: dict[str, float]) -> dict[str, dict]:
    """The GDF reference the potential file carries, as keyword arguments of
    :class:`Potential` (``gdf_reference`` and, when compressed, ``gdf_reference_counts`` and
    ``gdf_reference_range``): the scaled training features per element when they fit in
    :data:`GDF_REFERENCE_LIMIT_BYTES`, else their compressed set (cluster centroids with
    counts, compressed at ``sigma``, the coverage width, with rho's measured error logged);
    none when even that does not fit."""
    reference = {e: x[train].contiguous() for e, (x, train) in scaled.items()}
    if _size(reference) <= GDF_REFERENCE_LIMIT_BYTES:
        return {"gdf_reference": reference}
    compressed = {e: compress_reference(x, sigma[e]) for e, x in reference.items()}
    centroids = {e: c.centroids for e, c in compressed.items()}
    for e, c in compressed.items():
        log.info("GDF reference of %s compressed: %d atoms -> %d centroids, rho error <= "
                 "%.2g relative (%d atoms checked)", e, reference[e].shape[0],
                 c.centroids.shape[0], c.max_rel_error, c.checked)
    if _size(centroids) > GDF_REFERENCE_LIMIT_BYTES:
        log.warning("GDF reference (%.0f MB compressed) exceeds %.0f MB: not stored in the "
                    "potential", _size(centroids) / 2**20, GDF_REFERENCE_LIMIT_BYTES / 2**20)
        return {}
    return {"gdf_reference": centroids,
            "gdf_reference_counts": {e: c.counts for e, c in compressed.items()},
            "gdf_reference_range": {e: c.range for e, c in compressed.items()}}


def _size(tensors: dict[str, torch.Tensor]) -> int:
    return sum(x.numel() * x.element_size() for x in tensors.values())


@dataclass
class DataSets:
    """What the trainer reads: the training source (in memory or streamed), the validation
    set, and the function that turns stored structures into a :class:`TrainingSet`
    (``make_set(data, with_stress)``; ``with_stress=None``: when ``data`` has stress labels)."""

    train: TrainingSet | StreamedSet
    valid: TrainingSet
    make_set: Callable[[FeatureSet, bool | None], TrainingSet]
    use_stress: bool


def has_stress_labels(data: FeatureSet) -> bool:
    """Whether any structure of ``data`` has a stress label and a 3-D periodic cell."""
    return bool(stress_labelled(data.arrays).any())


def build_sets(prepared: PreparedData, transforms: dict[str, ElementTransform], ctx: RunContext,
               *, dtype: str, stream_chunk: int | None, weighting: WeightingPolicy,
               weights: np.ndarray | None = None, memory_limit_gb: float | None = None
               ) -> DataSets:
    """Training and validation sets (``model.dtype``); the training set held in memory
    where it fits, else streamed from the store (``training.stream_chunk``,
    ``training.memory_limit_gb``: :func:`gdfnn.workflows.memory.plan_memory`, decided before
    anything large is read). Data-parallel, each rank holds only its share of the training
    structures (a :class:`~gdfnn.training.distributed.Shard`: N ranks hold N times the data),
    and every rank plans on the least memory any rank has and the largest share, so that all
    decide alike; a streamed set is read whole by every rank, each training on its share of
    every batch. The training set keeps stress when the run trains on it
    (``prepared.use_stress``), the validation set whenever it has stress labels (its stress
    errors are reported); ``weights``: the ``(N,)`` GDF weight of every atom of the store
    (kept in memory: the store is not rewritten by training runs), used as ``weighting``
    says."""
    elements = prepared.descriptor.elements

    def make_set(data: FeatureSet, with_stress: bool | None = None) -> TrainingSet:
        if weights is not None:
            data.arrays[GDF_WEIGHT] = torch.from_numpy(weights[data.arrays[ATOM_ROW].numpy()])
        with_stress = has_stress_labels(data) if with_stress is None else with_stress
        return TrainingSet(data, transforms, elements, DTYPES[dtype], with_stress,
                           weighting, consume=True).to(ctx.device)

    split, use_stress = prepared.split, prepared.use_stress
    if ctx.world > 1:  # one decision for all ranks: the least memory, the largest share
        least = torch.tensor([memory_limit_gb * GB if memory_limit_gb is not None
                              else float(available_memory())], dtype=torch.float64)
        dist.all_reduce(least, op=dist.ReduceOp.MIN)
        memory_limit_gb = float(least) / GB
    plan = plan_memory(prepared.store, split.train[::ctx.world], split.valid, DTYPES[dtype],
                       use_stress, stream_chunk=stream_chunk, limit_gb=memory_limit_gb)
    valid = make_set(prepared.store.load(split.valid))
    if plan.chunk:
        train = StreamedSet(prepared.store, split.train, plan.chunk,
                            lambda data: make_set(data, use_stress), virial=use_stress)
    else:
        mine = split.train[ctx.rank::ctx.world]
        train = make_set(prepared.store.load(mine, virial=use_stress), use_stress)
        train.shard = Shard(ctx.rank, ctx.world, torch.from_numpy(
            np.diff(prepared.store.atom_offset)[split.train]))
    return DataSets(train, valid, make_set, use_stress)


def build_networks(prepared: PreparedData, features: TrainingFeatures, model: ModelConfig,
                   seed: int, ctx: RunContext) -> AtomicEnergies:
    """Per-element networks, seeded, output biases at the per-atom energies fitted on the
    training structures (counted from the already loaded ``features``)."""
    sf = prepared.descriptor
    torch.manual_seed(seed)
    networks = AtomicEnergies(sf.elements, sf.n_features, model.hidden,
                              model.activation).to(DTYPES[model.dtype])
    data = features.data
    counts = torch.zeros(data.n_structures, len(sf.elements), dtype=torch.float64)
    counts.index_put_((data.structure_of_atom(), data.arrays[SPECIES]),
                      torch.ones(data.arrays[SPECIES].numel(), dtype=torch.float64),
                      accumulate=True)
    train = torch.as_tensor(prepared.split.train)
    networks.set_reference_energies(fit_reference_energies(data.arrays[STORE_ENERGY][train],
                                                           counts[train], sf.elements))
    return networks.to(ctx.device)


def build_potential(prepared: PreparedData, transforms: dict[str, ElementTransform],
                    networks: AtomicEnergies, metadata: dict, reference: dict[str, dict]
                    ) -> Potential:
    """The potential around the (shared, trained in place) networks; its transforms are
    copies in the networks' dtype and device (the training sets keep theirs in float64)."""
    own = {e: copy.deepcopy(t) for e, t in transforms.items()}
    potential = Potential(prepared.descriptor, own, networks, metadata, **reference)
    parameter = next(networks.parameters())
    for t in potential.transforms.values():
        t.to(device=parameter.device, dtype=parameter.dtype)
    return potential


def train_options(training: TrainingConfig) -> TrainOptions:
    return TrainOptions.from_mapping(training.model_dump())


def error_report(networks: AtomicEnergies, sets: DataSets, prepared: PreparedData,
                 transforms: dict[str, ElementTransform], ctx: RunContext, *, dtype: str,
                 force_coeff: float, stress_coeff: float) -> dict:
    """Error tables (see docs/metrics.md) of the trained networks on the training,
    validation and test sets (loss with ``training.force_coeff`` and, when the run trains on
    stress, ``training.stress_coeff``): ``test`` is ``data.test``, else the frames
    ``data.test_rate`` split off (``test_split`` when there are both). Stress errors (GPa)
    wherever a set has stress labels (the training set: when trained on stress)."""
    mu, nu = force_coeff, stress_coeff if sets.use_stress else 0.0
    elements = prepared.descriptor.elements

    def in_chunks(store: FeatureStore, indices: np.ndarray, chunk: int, make, virial: bool = True
                  ) -> dict:
        parts = store.iter_chunks(indices, chunk, virial=virial)
        return summarize(merge([residuals(networks, make(c), mu, nu) for c in parts]), elements)

    report = {}
    if isinstance(sets.train, StreamedSet) or sets.train.shard.world > 1:
        # errors chunk by chunk from the store (a rank holds only its share)
        chunk = (sets.train.chunk if isinstance(sets.train, StreamedSet) else evaluation_chunk(
            prepared.store, prepared.split.train, DTYPES[dtype]))
        report["train"] = in_chunks(prepared.store, prepared.split.train, chunk,
                                    lambda c: sets.make_set(c, sets.use_stress),
                                    sets.use_stress)
    else:
        report["train"] = summarize(residuals(networks, sets.train, mu, nu), elements)
    if sets.valid.n_structures:
        report["valid"] = summarize(residuals(networks, sets.valid, mu, nu), elements)
    if prepared.test_store is not None:
        store = prepared.test_store
        everything = np.arange(store.n_structures)
        report["test"] = in_chunks(store, everything, evaluation_chunk(
            store, everything, DTYPES[dtype]), lambda c: TrainingSet(
                c, transforms, elements, DTYPES[dtype], has_stress_labels(c),
                consume=True).to(ctx.device))
    if prepared.split.test.size:
        held = prepared.split.test
        report["test_split" if "test" in report else "test"] = in_chunks(
            prepared.store, held, evaluation_chunk(prepared.store, held, DTYPES[dtype]),
            sets.make_set)
    return report


def format_report(report: dict) -> str:
    """The error table of a training report: one row per set (eV, Å, GPa)."""
    lines = ["set        energy RMSE (meV/atom)  force RMSE (eV/Å)  force RMSE GDF-weighted  "
             "stress RMSE (GPa)"]
    for name in ("train", "valid", "test", "test_split"):
        if name in report:
            m = report[name]
            weighted = f"{m[FORCE_GDF]['rmse']:.4f}" if FORCE_GDF in m else "-"
            stress = f"{m[STRESS]['rmse']:.3f}" if STRESS in m else "-"
            lines.append(f"{name:<10} {m[ENERGY]['rmse']:<23.3f} {m[FORCE]['rmse']:<18.4f} "
                         f"{weighted:<24} {stress}")
    return "\n".join(lines)


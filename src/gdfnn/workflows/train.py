"""``gdfnn train``: featurise (cached), GDF weights (when enabled), train, write the potential,
the learning curve, error tables and the resolved config."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import torch
import torch.distributed as dist

from gdfnn.config import Config, load_config, write_resolved_config
from gdfnn.data.store import ENERGY, FEATURES, SPECIES, FeatureSet
from gdfnn.fileio import atomic_write
from gdfnn.gdf.dataset import dataset_gdf, scatter_to_atoms
from gdfnn.model.network import AtomicEnergies, fit_reference_energies
from gdfnn.model.potential import Potential
from gdfnn.model.scaling import fit_transforms
from gdfnn.pipeline import DTYPES, PreparedData, prepare
from gdfnn.training import distributed
from gdfnn.training.batches import StreamedSet, TrainingSet
from gdfnn.training.metrics import merge, residuals, summarize
from gdfnn.training.trainer import Trainer
from gdfnn.workflows.gdf import training_atom_mask

log = logging.getLogger("gdfnn")
POTENTIAL_FILE = "potential.pt"
METRICS_FILE = "metrics.json"


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _element_counts(data: FeatureSet, n_elements: int) -> torch.Tensor:
    counts = torch.zeros(data.n_structures, n_elements, dtype=torch.float64)
    counts.index_put_((data.structure_of_atom(), data.arrays[SPECIES]),
                      torch.ones(data.arrays[SPECIES].numel(), dtype=torch.float64),
                      accumulate=True)
    return counts


def _prepare_once(config: Config, rank: int) -> PreparedData:
    """Rank 0 featurises; the other ranks then find the cache."""
    if rank != 0:
        dist.barrier()
    prepared = prepare(config)
    if rank == 0 and dist.is_available() and dist.is_initialized():
        dist.barrier()
    return prepared


def train(config: Config | str | os.PathLike, *, resume: bool = False) -> Potential:
    """Train a potential as ``config`` (a :class:`Config` or a YAML path) says.

    Writes into ``output.directory``: ``potential.pt``, ``checkpoint.pt``,
    ``learning_curve.csv``, ``metrics.json`` and ``config_resolved.yaml``.
    """
    if not isinstance(config, Config):
        config = load_config(config)
    device = pick_device(config.training.device)
    if config.training.threads:
        torch.set_num_threads(config.training.threads)
    rank, world = distributed.init(device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    out = Path(config.output.directory)
    prepared = _prepare_once(config, rank)
    sf, split = prepared.descriptor, prepared.split
    everything = prepared.store.load(features_only=True)
    is_train = training_atom_mask(everything, split.train)
    transforms = fit_transforms(everything.arrays[FEATURES][is_train],
                                everything.arrays[SPECIES][is_train], sf.n_features, sf.elements,
                                config.model.scaling, config.model.pca,
                                config.model.pca_min_whiten_level)
    gdf_summary = None
    if config.gdf.enabled:
        per_element = dataset_gdf(everything, is_train, transforms, sf.elements, config.gdf,
                                  progress=config.output.progress and rank == 0)
        rho, weights = scatter_to_atoms(per_element, everything.arrays[SPECIES], sf.elements)
        if rank == 0:
            prepared.store.write_gdf(rho, weights)
        gdf_summary = [r.stats() for r in per_element.values()]
    dtype = DTYPES[config.model.dtype]

    def make_set(data: FeatureSet) -> TrainingSet:
        return TrainingSet(data, transforms, sf.elements, dtype, config.data.use_stress,
                           config.gdf.enabled).to(device)

    sets = {"valid": make_set(prepared.store.load(split.valid))}
    if config.training.stream_chunk:
        train_source = StreamedSet(prepared.store, split.train, config.training.stream_chunk,
                                   make_set)
    else:
        sets["train"] = train_source = make_set(prepared.store.load(split.train))
    torch.manual_seed(config.training.seed)
    model = AtomicEnergies(sf.elements, sf.n_features, config.model.hidden,
                           config.model.activation).to(dtype)
    train_data = prepared.store.load(split.train, features_only=True)
    model.set_reference_energies(fit_reference_energies(
        train_data.arrays[ENERGY], _element_counts(train_data, len(sf.elements)), sf.elements))
    model.to(device)

    def save_potential() -> None:
        potential = Potential(sf, transforms, model, {"config": config.model_dump(mode="json")})
        potential.save(out / POTENTIAL_FILE)

    trainer = Trainer(model, train_source, sets["valid"], config.training, out,
                      save_potential=save_potential,
                      checkpoint_every=config.output.checkpoint_every,
                      use_stress=config.data.use_stress, progress=config.output.progress,
                      rank=rank, world=world)
    if resume:
        trainer.resume()
    if rank == 0:
        write_resolved_config(config, out)
    state = trainer.run()
    potential = Potential.load(out / POTENTIAL_FILE, device) if rank == 0 else None
    if rank == 0:
        report = final_report(model, sets, prepared, transforms, config, dtype, device)
        if "train" not in report:  # streamed: errors chunk by chunk
            chunks = prepared.store.iter_chunks(split.train, config.training.stream_chunk)
            report["train"] = summarize(merge([residuals(
                model, make_set(c), config.training.force_coeff) for c in chunks]), sf.elements)
        report.update(best_epoch=state.best_epoch, epochs=state.epoch, gdf=gdf_summary)
        with atomic_write(out / METRICS_FILE) as f:
            json.dump(report, f, indent=2)
        log.info("%s", format_report(report))
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return potential


def final_report(model, sets, prepared, transforms, config, dtype, device) -> dict:
    """Errors of the best model on train, validation and test sets."""
    report = {}
    for name, data in sorted(sets.items()):
        if data.n_structures:
            report[name] = summarize(residuals(model, data, config.training.force_coeff),
                                     data.elements)
    if prepared.test_store is not None:
        test = TrainingSet(prepared.test_store.load(), transforms, prepared.descriptor.elements,
                           dtype, False, False).to(device)
        report["test"] = summarize(residuals(model, test, config.training.force_coeff),
                                   test.elements)
    return report


def format_report(report: dict) -> str:
    lines = ["set    energy RMSE (meV/atom)  force RMSE (eV/Å)  force RMSE GDF-weighted"]
    for name in ("train", "valid", "test"):
        if name in report:
            m = report[name]
            # test atoms carry no GDF weights (see gdfnn evaluate for errors per GDF bin)
            weighted = "-" if name == "test" else f"{m['force_rmse_gdf']:.4f}"
            lines.append(f"{name:<6} {m['energy_rmse_mev_atom']:<23.3f} {m['force_rmse']:<18.4f} "
                         f"{weighted}")
    return "\n".join(lines)

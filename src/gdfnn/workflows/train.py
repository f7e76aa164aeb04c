"""``gdfnn train``: featurise (cached), GDF weights (when enabled), train, write the potential,
the learning curve, error tables and the resolved config."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import replace
from pathlib import Path

from gdfnn.calculator import NNPCalculator
from gdfnn.config import Config, load_config, write_resolved_config
from gdfnn.errors import ConfigError
from gdfnn.fileio import atomic_write, folder_lock
from gdfnn.gdf.coverage import coverage_metadata
from gdfnn.gdf.dataset import scatter_to_atoms
from gdfnn.model.potential import Potential
from gdfnn.training.trainer import CHECKPOINT, LEARNING_CURVE, Trainer, TrainingDiverged
from gdfnn.workflows import run_inputs, steps
from gdfnn.workflows.coverage import calibrate_coverage, fit_coverage, record_rigidity
from gdfnn.workflows.prepare import PreparedData
from gdfnn.workflows.properties.run import format_summary, ground_state_summary

log = logging.getLogger("gdfnn")
POTENTIAL_FILE = "potential.pt"
METRICS_FILE = "metrics.json"


def train(config: Config | str | os.PathLike, *, resume: bool = False) -> Potential:
    """Train a potential as ``config`` (a :class:`Config` or a YAML path) says; returns it
    (on every rank of a data-parallel run).

    Writes into ``output.directory``: ``potential.pt``, ``checkpoint.pt``,
    ``learning_curve.csv``, ``metrics.json``, ``config_resolved.yaml`` and
    ``run_inputs.json``, each whole or not at all. The folder is locked while the run lasts
    (a second run on it stops at once). ``resume``: continue from ``checkpoint.pt``
    bit-identically; without one, start from the beginning (said in one line); refused,
    naming what changed, when the inputs changed (:mod:`gdfnn.workflows.run_inputs`). A
    diverging training stops with :class:`~gdfnn.training.trainer.TrainingDiverged` and
    writes no potential. CPU threads are left as they are (the command line sets
    ``training.threads``).
    """
    if not isinstance(config, Config):
        config = load_config(config)
    ctx = steps.start(config.training.device)
    out = Path(config.output.directory)
    with folder_lock(out) if ctx.is_main else contextlib.nullcontext():
        inputs = run_inputs.run_inputs(config)
        resume = resume and resumable(out, inputs)
        prepared = steps.prepare_data(config, ctx)  # bad input stops here, leaving nothing
        ctx.barrier()  # every rank decided before rank 0 clears the folder
        if ctx.is_main:
            if not resume:
                start_anew(out)
            run_inputs.write(out, inputs)
        return _train(config, ctx, out, prepared, resume)


def resumable(out: Path, inputs: dict) -> bool:
    """Whether a run in ``out`` can continue: its checkpoint exists (else it starts anew,
    said in one line) and its inputs are ``inputs`` but for :data:`run_inputs.RESUMABLE`
    (else :class:`ConfigError` naming what changed)."""
    if not (out / CHECKPOINT).is_file():
        log.info("--resume: no %s in %s: training from the beginning", CHECKPOINT, out)
        return False
    before = run_inputs.read(out)
    changed = [] if before is None else run_inputs.changes(before, inputs, run_inputs.RESUMABLE)
    if changed:
        raise ConfigError(f"{out}: cannot resume, the inputs changed since {CHECKPOINT} was "
                          f"written: {'; '.join(changed)} (train without --resume to start "
                          "anew)")
    return True


#: What a run leaves in its folder and another run must not be mistaken for.
RUN_FILES = (POTENTIAL_FILE, METRICS_FILE, CHECKPOINT, LEARNING_CURVE, run_inputs.RUN_INPUTS)


def start_anew(out: Path) -> None:
    """Remove a previous run's results from ``out`` (a new run's are not to be mixed with
    them)."""
    found = [name for name in RUN_FILES if (out / name).is_file()]
    if found:
        log.info("%s: a new run replaces the previous one's %s", out, ", ".join(found))
    for name in found:
        (out / name).unlink()


def _train(config: Config, ctx: steps.RunContext, out: Path, prepared: PreparedData,
           resume: bool) -> Potential:
    sf = prepared.descriptor
    features = steps.load_features(prepared)
    warm = (steps.warm_start(config.training.init_from, prepared)
            if config.training.init_from else None)
    transforms = (dict(warm.transforms) if warm is not None
                  else steps.fit_feature_transforms(features, prepared, config.model))
    scaled = steps.scaled_features(features, transforms, sf.elements)
    settings, weighting = config.gdf.settings(), config.weighting()
    per_element, weights, options = None, None, steps.train_options(config.training)
    if weighting.forces:
        per_element = steps.compute_gdf(scaled, settings, ctx, cache=config.gdf.cache,
                                        chunk=config.gdf.chunk, progress=config.output.progress)
        weights = scatter_to_atoms(per_element, features.species, sf.elements)[1]
        options = replace(options, force_coeff=weighting.force_coeff(
            options.force_coeff, steps.training_weights(per_element)))
    sets = steps.build_sets(prepared, transforms, ctx, dtype=config.model.dtype,
                            stream_chunk=config.training.stream_chunk, weighting=weighting,
                            weights=weights, memory_limit_gb=config.training.memory_limit_gb)
    networks = steps.build_networks(prepared, features, config.model, config.training.seed, ctx)
    if warm is not None:
        networks.load_state_dict(warm.networks.state_dict())
    gdf = steps.gdf_metadata(settings, config.gdf.enabled, scaled, per_element)
    coverage_settings = config.coverage.settings(config.training.seed)
    coverage = fit_coverage(features, prepared, scaled, coverage_settings)
    potential = steps.build_potential(
        prepared, transforms, networks,
        {"config": config.model_dump(mode="json"), "gdf": gdf,
         "coverage": coverage_metadata(coverage, coverage_settings)},
        steps.gdf_reference(scaled, {e: c.sigma for e, c in coverage.items()}))
    trainer = Trainer(networks, sets.train, sets.valid, options, out,
                      save_potential=lambda: potential.save(out / POTENTIAL_FILE),
                      checkpoint_every=config.output.checkpoint_every, weighting=weighting,
                      use_stress=prepared.use_stress, progress=config.output.progress,
                      rank=ctx.rank, world=ctx.world)
    # the set the trainer holds (``shuffle: batches`` reorders it once): the loaded order is
    # not kept beside it
    sets = replace(sets, train=trainer.train_set)
    if resume:
        trainer.resume()
    if ctx.is_main:
        write_resolved_config(config, out)
    try:
        state = trainer.run()
    except TrainingDiverged as exc:
        if config.model.scaling == "none":
            raise TrainingDiverged(f"{exc}; model.scaling is none: unscaled features") from None
        raise
    if ctx.is_main:
        report = steps.error_report(networks, sets, prepared, transforms, ctx,
                                    dtype=config.model.dtype,
                                    force_coeff=config.training.force_coeff,
                                    stress_coeff=config.training.stress_coeff)
        report.update(best_epoch=state.best_epoch, epochs=state.epoch,
                      trained_on_stress=prepared.use_stress,
                      gdf=[r.stats() for r in per_element.values()] if per_element else None)
        grams = record_rigidity(potential, features, prepared)
        if potential.gdf_reference:
            report["coverage"] = calibrate_coverage(potential, sets.valid, features, prepared,
                                                    coverage_settings, grams)
        potential.save(out / POTENTIAL_FILE)
        summary = ground_state_summary(potential.elements, lambda: NNPCalculator(potential)) \
            if config.output.properties else None
        if summary is not None:
            report["properties"] = summary
        with atomic_write(out / METRICS_FILE) as f:
            json.dump(report, f, indent=2)
        log.info("%s", steps.format_report(report))
        if summary is not None:
            log.info("%s", format_summary(summary))
    steps.finish(ctx)
    return potential

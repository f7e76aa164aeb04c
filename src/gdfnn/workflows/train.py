"""``gdfnn train``: featurise (cached), GDF weights (when enabled), train, write the potential,
the learning curve, error tables and the resolved config."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from pathlib import Path

from gdfnn.config import Config, load_config, write_resolved_config
from gdfnn.fileio import atomic_write
from gdfnn.gdf.dataset import scatter_to_atoms
from gdfnn.model.potential import Potential
from gdfnn.training.trainer import Trainer
from gdfnn.workflows import steps

log = logging.getLogger("gdfnn")
POTENTIAL_FILE = "potential.pt"
METRICS_FILE = "metrics.json"


def train(config: Config | str | os.PathLike, *, resume: bool = False) -> Potential:
    """Train a potential as ``config`` (a :class:`Config` or a YAML path) says; returns it
    (on every rank of a data-parallel run).

    Writes into ``output.directory``: ``potential.pt``, ``checkpoint.pt``,
    ``learning_curve.csv``, ``metrics.json`` and ``config_resolved.yaml``. CPU threads are
    left as they are (the command line sets ``training.threads``).
    """
    if not isinstance(config, Config):
        config = load_config(config)
    ctx = steps.start(config.training.device)
    out = Path(config.output.directory)
    prepared = steps.prepare_data(config, ctx)
    sf = prepared.descriptor
    features = steps.load_features(prepared)
    transforms = steps.fit_feature_transforms(features, prepared, config.model)
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
                            use_stress=config.data.use_stress,
                            stream_chunk=config.training.stream_chunk, weighting=weighting,
                            weights=weights)
    networks = steps.build_networks(prepared, features, config.model, config.training.seed, ctx)
    gdf = steps.gdf_metadata(settings, config.gdf.enabled, scaled, per_element)
    potential = steps.build_potential(prepared, transforms, networks,
                                      {"config": config.model_dump(mode="json"), "gdf": gdf},
                                      steps.gdf_reference(scaled, gdf["sigma"]))
    trainer = Trainer(networks, sets.train, sets.valid, options, out,
                      save_potential=lambda: potential.save(out / POTENTIAL_FILE),
                      checkpoint_every=config.output.checkpoint_every, weighting=weighting,
                      use_stress=config.data.use_stress, progress=config.output.progress,
                      rank=ctx.rank, world=ctx.world)
    if resume:
        trainer.resume()
    if ctx.is_main:
        write_resolved_config(config, out)
    state = trainer.run()
    if ctx.is_main:
        report = steps.error_report(networks, sets, prepared, transforms, ctx,
                                    dtype=config.model.dtype,
                                    force_coeff=config.training.force_coeff,
                                    stream_chunk=config.training.stream_chunk)
        report.update(best_epoch=state.best_epoch, epochs=state.epoch,
                      gdf=[r.stats() for r in per_element.values()] if per_element else None)
        with atomic_write(out / METRICS_FILE) as f:
            json.dump(report, f, indent=2)
        log.info("%s", steps.format_report(report))
    steps.finish(ctx)
    return potential

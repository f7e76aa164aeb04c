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
    ctx = steps.start(config)
    out = Path(config.output.directory)
    prepared = steps.prepare_data(config, ctx)
    sf = prepared.descriptor
    features = steps.load_features(prepared)
    transforms = steps.fit_feature_transforms(features, prepared, config)
    scaled = steps.scaled_features(features, transforms, sf.elements)
    per_element, weights, options = None, None, steps.train_options(config)
    if config.gdf.enabled:
        per_element = steps.compute_gdf(scaled, config, ctx, config.gdf.cache)
        weights = scatter_to_atoms(per_element, features.species, sf.elements)[1]
        if config.gdf.force_coeff_scaling == "ess":
            options = replace(options, force_coeff=options.force_coeff
                              * steps.effective_sample_size(per_element))
    sets = steps.build_sets(prepared, transforms, config, ctx, weights)
    networks = steps.build_networks(prepared, features, config, ctx)
    gdf_metadata = steps.gdf_metadata(config, per_element, sf.elements)
    potential = steps.build_potential(prepared, transforms, networks, config,
                                      {"gdf": gdf_metadata},
                                      steps.gdf_reference(scaled, gdf_metadata["sigma"]))
    trainer = Trainer(networks, sets.train, sets.valid, options, out,
                      save_potential=lambda: potential.save(out / POTENTIAL_FILE),
                      checkpoint_every=config.output.checkpoint_every,
                      use_stress=config.data.use_stress, progress=config.output.progress,
                      rank=ctx.rank, world=ctx.world)
    if resume:
        trainer.resume()
    if ctx.is_main:
        write_resolved_config(config, out)
    state = trainer.run()
    if ctx.is_main:
        report = steps.error_report(networks, sets, prepared, transforms, config, ctx)
        report.update(best_epoch=state.best_epoch, epochs=state.epoch,
                      gdf=[r.stats() for r in per_element.values()] if per_element else None)
        with atomic_write(out / METRICS_FILE) as f:
            json.dump(report, f, indent=2)
        log.info("%s", steps.format_report(report))
    steps.finish(ctx)
    return potential

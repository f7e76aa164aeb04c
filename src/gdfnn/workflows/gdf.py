"""``gdfnn gdf``: compute and store GDF weights of a data set, print statistics, plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from gdfnn.analysis.plots import feature_count_map, inverse_rho_histogram
from gdfnn.config import Config, write_resolved_config
from gdfnn.descriptors import SymmetryFunctions
from gdfnn.descriptors.params import RADIAL
from gdfnn.fileio import atomic_write, folder_lock
from gdfnn.gdf.dataset import ElementGdf
from gdfnn.workflows import steps


def default_components(sf: SymmetryFunctions, element: str, x: np.ndarray) -> tuple[int, int]:
    """The radial and the angular component with the largest spread (Figure 1b's axes)."""
    kinds = np.array([f.kind for f in sf.functions[element]])
    spread = x.std(0)
    radial = np.flatnonzero(kinds == RADIAL)
    angular = np.flatnonzero(kinds != RADIAL)
    first = int(radial[np.argmax(spread[radial])])
    second = int(angular[np.argmax(spread[angular])]) if angular.size else int(
        np.argsort(spread)[-2])
    return first, second


def transition(result: ElementGdf, modifier: str, b: float) -> float | None:
    """x = 1/rho where the sigmoid switches on: c/b (eq. 4) or c (shifted form)."""
    if result.c is None:
        return None
    return result.c / b if modifier == "sigmoid-paper" else result.c


def run_gdf(config: Config, components: tuple[int, int] | None = None,
            split_group: str | None = None) -> dict:
    """Compute GDF weights of ``config``'s data, store them, write summary and plots (the
    output folder locked while it runs)."""
    with folder_lock(config.output.directory):
        return _run_gdf(config, components, split_group)


def _run_gdf(config: Config, components: tuple[int, int] | None,
             split_group: str | None) -> dict:
    ctx = steps.RunContext(torch.device("cpu"))
    prepared = steps.prepare_data(config, ctx)
    features = steps.load_features(prepared)
    transforms = steps.fit_feature_transforms(features, prepared, config.model)
    scaled = steps.scaled_features(features, transforms, prepared.descriptor.elements)
    per_element = steps.compute_gdf(scaled, config.gdf.settings(), ctx, chunk=config.gdf.chunk,
                                    progress=config.output.progress)
    steps.store_gdf(prepared, per_element, features, ctx)
    out = Path(config.output.directory)
    write_resolved_config(config, out)
    summary = {"modifier": config.gdf.modifier, "b": config.gdf.b,
               "elements": [r.stats() for r in per_element.values()],
               "store": str(prepared.store.path), "files": {}}
    if config.output.plots:
        summary["files"] = _plots(config, prepared, features, scaled, per_element, components,
                                  split_group, out)
    with atomic_write(out / "gdf_summary.json") as f:
        json.dump(summary, f, indent=2)
    return summary


def _plots(config, prepared, features, scaled, per_element, components, split_group,
           out) -> dict:
    sf = prepared.descriptor
    hist = out / "gdf_inverse_rho_hist.png"
    inverse_rho_histogram(
        {e: (1.0 / r.rho[r.is_train]).numpy() for e, r in per_element.items()},
        {e: transition(r, config.gdf.modifier, config.gdf.b) for e, r in per_element.items()},
        hist)
    files = {"inverse_rho_histogram": str(hist)}
    structure = features.data.structure_of_atom()
    for n, element in enumerate(sf.elements):
        x_all, is_train = scaled[element]
        x = x_all[is_train].numpy()
        i, j = components or default_components(sf, element, x)
        panels = {"training atoms": x[:, [i, j]]}
        if split_group:
            mine = (features.species == n) & features.is_train
            tags = np.array(features.data.group)[structure[mine].numpy()]
            chosen = tags == split_group
            panels = {f"group {split_group}": x[chosen][:, [i, j]],
                      "other groups": x[~chosen][:, [i, j]]}
        path = out / f"gdf_feature_map_{element}.png"
        names = tuple(f"G[{k}] (type {sf.functions[element][k].kind}, scaled)" for k in (i, j))
        feature_count_map(panels, names, path)
        files[f"feature_map_{element}"] = str(path)
    return files


def format_gdf_summary(summary: dict) -> str:
    lines = [f"GDF weights (modifier {summary['modifier']}), over training atoms:",
             "element  sigma     c         atoms   min      median   max       >1     ESS"]
    for s in summary["elements"]:
        c = "-" if s["c"] is None else f"{s['c']:.4g}"
        lines.append(f"{s['element']:<8} {s['sigma']:<9.4g} {c:<9} {s['atoms']:<7d} "
                     f"{s['min']:<8.3g} {s['median']:<8.3g} {s['max']:<9.4g} "
                     f"{s['fraction_above_1']:<6.3f} {s['effective_sample_size']:.3f}")
        if s["approximate_max_rel_error"] is not None:
            lines.append(f"  {s['element']}: approximate mode, max relative error of the "
                         f"weights on the checked sample {s['approximate_max_rel_error']:.2e}")
    lines.append(f"weights stored in {summary['store']}")
    lines += [f"plot: {p}" for p in summary["files"].values()]
    return "\n".join(lines)

"""The coverage steps of a training run: width and floor per element before training (on the
scaled features), see :mod:`gdfnn.gdf.coverage`; after it, the last-layer rigidity of the
trained networks (on the training atoms), see :mod:`gdfnn.model.rigidity`, and the error map
on it (on the validation atoms)."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import torch

from gdfnn.data.store import FEATURES
from gdfnn.gdf.coverage import (
    ATOMS_PER_BIN,
    LLPR,
    RHO,
    CoverageSettings,
    ElementCoverage,
    coverage_metadata,
    fit_element_coverage,
    fit_error_map,
)
from gdfnn.model.potential import Potential
from gdfnn.model.rigidity import fit_rigidity, rigidity_metadata
from gdfnn.training.batches import TrainingSet
from gdfnn.training.metrics import residuals
from gdfnn.workflows.prepare import PreparedData
from gdfnn.workflows.steps import TrainingFeatures

log = logging.getLogger("gdfnn")
#: Training atoms per pass of the rigidity fit (network inputs and hidden layers of this many).
RIGIDITY_CHUNK = 65_536


def validation_atoms(features: TrainingFeatures, prepared: PreparedData) -> torch.Tensor:
    """``(N,)`` bool: the atoms of the validation frames (data order)."""
    is_valid = torch.zeros(features.data.n_structures, dtype=torch.bool)
    is_valid[torch.as_tensor(prepared.split.valid, dtype=torch.long)] = True
    return is_valid[features.data.structure_of_atom()]


def fit_coverage(features: TrainingFeatures, prepared: PreparedData,
                 scaled: dict[str, tuple[torch.Tensor, torch.Tensor]],
                 settings: CoverageSettings) -> dict[str, ElementCoverage]:
    """Width and floor of each element (:func:`gdfnn.gdf.coverage.fit_element_coverage`) from
    its scaled training atoms, their frames, and its validation atoms; one log line each."""
    frame = features.data.structure_of_atom()
    valid = validation_atoms(features, prepared)
    out = {}
    for n, element in enumerate(prepared.descriptor.elements):
        mine = features.species == n
        x, train = scaled[element]
        out[element] = c = fit_element_coverage(x[train], frame[mine][train].numpy(),
                                                x[valid[mine]], settings)
        width = (f"{settings.neighbours}th-neighbour rule" if settings.width == "knn"
                 else "coverage.width")
        log.info("coverage of %s: width %.4g (%s), floor %.3g (%.3g %% of %d held-out atoms "
                 "below it)", element, c.sigma, width, c.floor, 100 * settings.quantile,
                 c.heldout_atoms)
    return out


def calibrate_coverage(potential: Potential, valid: TrainingSet, features: TrainingFeatures,
                       prepared: PreparedData, settings: CoverageSettings) -> dict:
    """Fit each element's error map on the validation atoms (force-error norms of the trained
    potential against their last-layer rigidity where the potential records it, see
    :func:`record_rigidity`, else against their coverage rho) and record it in
    ``potential.metadata``; an element with fewer than ``2 * ATOMS_PER_BIN`` validation atoms
    gets none (said in one line). Returns per element the width, the floor, the validation
    atoms, the share flagged, the RMS force-error norm ``|F_pred - F_ref|`` (eV/Å) of the
    flagged and the other atoms, and the error map's signal, for metrics.json."""
    mask = validation_atoms(features, prepared)
    values, species = features.data.arrays[FEATURES][mask], features.species[mask]
    rho = potential.coverage(values, species)[0]
    signals = {RHO: rho, LLPR: potential.rigidity(values, species)}
    error = np.linalg.norm(residuals(potential.networks, valid, 0.0).forces, axis=1)
    flagged = potential.uncovered(rho, species)
    elements, summary = {}, {}
    for n, element in enumerate(potential.elements):
        if element not in potential.gdf_reference:
            continue
        mine = (species == n).numpy()
        coverage = potential.coverage_of(element)
        signal = LLPR if np.isfinite(signals[LLPR][mine]).all() else RHO
        if mine.sum() >= 2 * ATOMS_PER_BIN:
            coverage = replace(coverage, error=fit_error_map(signals[signal][mine], error[mine],
                                                             signal))
        else:
            log.info("coverage of %s: no error map (%d validation atoms, %d needed)", element,
                     int(mine.sum()), 2 * ATOMS_PER_BIN)
        elements[element] = coverage
        summary[element] = {
            "sigma": coverage.sigma, "floor": coverage.floor,
            "valid_atoms": int(mine.sum()),
            "valid_flagged": float(flagged[mine].mean()) if mine.any() else None,
            "force_error_flagged": _rms(error[mine & flagged]),
            "force_error_covered": _rms(error[mine & ~flagged]),
            "error_map_signal": signal if coverage.error is not None else None}
    potential.metadata["coverage"] = coverage_metadata(elements, settings)
    return summary


def _rms(norms: np.ndarray) -> float | None:
    return float(np.sqrt(np.mean(norms**2))) if norms.size else None


def record_rigidity(potential: Potential, features: TrainingFeatures,
                    prepared: PreparedData) -> None:
    """Record each element's last-layer rigidity (``C^-1`` over the training atoms, not the
    validation ones) in ``potential.metadata["rigidity"]``; the atoms pass through the
    trained networks :data:`RIGIDITY_CHUNK` at a time."""
    rows = torch.nonzero(~validation_atoms(features, prepared)).flatten()

    def batches():
        for start in range(0, len(rows), RIGIDITY_CHUNK):
            part = rows[start:start + RIGIDITY_CHUNK]
            values = torch.as_tensor(features.data.arrays[FEATURES][part]).to(potential.dtype)
            species = features.species[part]
            yield potential.network_inputs(values, species), species

    potential.metadata["rigidity"] = rigidity_metadata(fit_rigidity(potential.networks,
                                                                    batches()))

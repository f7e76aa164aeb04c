"""The coverage steps of a training run: width and floor per element before training (on the
scaled features), see :mod:`gdfnn.gdf.coverage`; after it, the last-layer rigidity of the
trained networks (on the training atoms), see :mod:`gdfnn.model.rigidity`, its ceiling (on
held-out atoms) and the error map on it (on the validation atoms)."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import torch

from gdfnn.data.store import FEATURES
from gdfnn.gdf.coverage import (
    ATOMS_PER_BIN,
    HELDOUT_SAMPLE,
    LLPR,
    RHO,
    CoverageSettings,
    ElementCoverage,
    coverage_metadata,
    fit_element_coverage,
    fit_error_map,
    heldout_ceiling,
)
from gdfnn.model.potential import Potential
from gdfnn.model.rigidity import heldout_rigidity, last_hidden, rigidity_gram, rigidity_metadata
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
                       prepared: PreparedData, settings: CoverageSettings,
                       grams: dict[str, torch.Tensor]) -> dict:
    """Fit each element's rigidity ceiling and error map and record them in
    ``potential.metadata``: the ceiling on held-out atoms (the validation atoms, if any, and
    training atoms of sampled frames held out with their frame,
    :func:`heldout_training_rigidity`, from the training ``grams`` of
    :func:`record_rigidity`), the error map on the validation atoms
    (force-error norms against their rigidity where the potential records it, else against
    their coverage rho). The verdict reads ``settings.signal`` where the element has both
    (else rho). An element with fewer than ``2 * ATOMS_PER_BIN`` validation atoms gets no
    error map (said in one line). Returns per element the width, the floor, the ceiling, the
    verdict's signal, the validation atoms, the share flagged, the RMS force-error norm
    ``|F_pred - F_ref|`` (eV/Å) of the flagged and the other atoms, and the error map's
    signal, for metrics.json."""
    mask = validation_atoms(features, prepared)
    values, species = features.data.arrays[FEATURES][mask], features.species[mask]
    rho = potential.coverage(values, species)[0]
    signals = {RHO: rho, LLPR: potential.rigidity(values, species)}
    error = (np.linalg.norm(residuals(potential.networks, valid, 0.0).forces, axis=1)
             if valid.n_structures else np.empty(0))
    held_out = heldout_training_rigidity(potential, grams, features, prepared, settings.seed)
    elements = {}
    for n, element in enumerate(potential.elements):
        if element not in potential.gdf_reference:
            continue
        mine = (species == n).numpy()
        coverage = potential.coverage_of(element)
        signal = LLPR if np.isfinite(signals[LLPR][mine]).all() else RHO
        rigidities = np.concatenate([signals[LLPR][mine], held_out[element]])
        if signal == LLPR and rigidities.size:
            ceiling = heldout_ceiling(rigidities, coverage.quantile)
            coverage = replace(coverage, ceiling=ceiling, signal=settings.signal)
            log.info("coverage of %s: rigidity ceiling %.3g (%.3g %% of %d held-out atoms above "
                     "it); the verdict reads %s", element, ceiling, 100 * coverage.quantile,
                     rigidities.size, settings.signal)
        if mine.sum() >= 2 * ATOMS_PER_BIN:
            coverage = replace(coverage, error=fit_error_map(signals[signal][mine], error[mine],
                                                             signal))
        else:
            log.info("coverage of %s: no error map (%d validation atoms, %d needed)", element,
                     int(mine.sum()), 2 * ATOMS_PER_BIN)
        elements[element] = coverage
    potential.metadata["coverage"] = coverage_metadata(elements, settings)
    flagged = potential.uncovered(rho, species, signals[LLPR])
    summary = {}
    for n, element in enumerate(potential.elements):
        if element not in elements:
            continue
        mine, coverage = (species == n).numpy(), elements[element]
        summary[element] = {
            "sigma": coverage.sigma, "floor": coverage.floor, "ceiling": coverage.ceiling,
            "signal": coverage.signal, "valid_atoms": int(mine.sum()),
            "valid_flagged": float(flagged[mine].mean()) if mine.any() else None,
            "force_error_flagged": _rms(error[mine & flagged]),
            "force_error_covered": _rms(error[mine & ~flagged]),
            "error_map_signal": None if coverage.error is None else coverage.error.signal}
    return summary


def heldout_training_rigidity(potential: Potential, grams: dict[str, torch.Tensor],
                              features: TrainingFeatures, prepared: PreparedData, seed: int
                              ) -> dict[str, np.ndarray]:
    """Per element, the rigidity signal of the training atoms of randomly chosen training
    frames (about :data:`~gdfnn.gdf.coverage.HELDOUT_SAMPLE` atoms, ``seed``), each held out
    with its frame (:func:`gdfnn.model.rigidity.heldout_rigidity`, against the element's
    training ``grams``)."""
    frame_of = features.data.structure_of_atom()
    training = ~validation_atoms(features, prepared)
    frames = torch.unique(frame_of[training])
    frames = frames[torch.randperm(len(frames), generator=torch.Generator().manual_seed(seed))]
    sizes = torch.bincount(frame_of, minlength=features.data.n_structures)[frames]
    frames = frames[:int(torch.searchsorted(sizes.cumsum(0), HELDOUT_SAMPLE)) + 1]
    rows = torch.nonzero(torch.isin(frame_of, frames) & training).flatten()
    out = {e: np.empty(0) for e in potential.elements}
    if rows.numel() == 0:
        return out
    values = torch.as_tensor(features.data.arrays[FEATURES][rows]).to(potential.dtype)
    species = features.species[rows]
    hidden = last_hidden(potential.networks, potential.network_inputs(values, species), species)
    for n, element in enumerate(potential.elements):
        mine = species == n
        if mine.any() and element in grams:
            out[element] = heldout_rigidity(hidden[mine].cpu(), frame_of[rows][mine],
                                            grams[element]).numpy()
    return out


def _rms(norms: np.ndarray) -> float | None:
    return float(np.sqrt(np.mean(norms**2))) if norms.size else None


def record_rigidity(potential: Potential, features: TrainingFeatures,
                    prepared: PreparedData) -> dict[str, torch.Tensor]:
    """Record each element's last-layer rigidity (``C^-1`` over the training atoms, not the
    validation ones) in ``potential.metadata["rigidity"]``; the atoms pass through the
    trained networks :data:`RIGIDITY_CHUNK` at a time. Returns each element's ``C``
    (:func:`gdfnn.model.rigidity.rigidity_gram`), for the held-out rigidity."""
    rows = torch.nonzero(~validation_atoms(features, prepared)).flatten()

    def batches():
        for start in range(0, len(rows), RIGIDITY_CHUNK):
            part = rows[start:start + RIGIDITY_CHUNK]
            values = torch.as_tensor(features.data.arrays[FEATURES][part]).to(potential.dtype)
            species = features.species[part]
            yield potential.network_inputs(values, species), species

    grams = rigidity_gram(potential.networks, batches())
    potential.metadata["rigidity"] = rigidity_metadata({e: torch.linalg.inv(c)
                                                        for e, c in grams.items()})
    return grams

"""Shared preparation of a run: read, validate, split and featurise (cached) the data."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from gdfnn.config import Config, check_per_element
from gdfnn.data.sources import load_sources
from gdfnn.data.split import Split, split_by_group
from gdfnn.data.store import FeatureStore, store_digest, write_store
from gdfnn.data.structure import Structure
from gdfnn.data.validation import validate_structures
from gdfnn.descriptors import SymmetryFunctions
from gdfnn.errors import ConfigError, InputError
from gdfnn.export.n2p2 import read_n2p2_descriptor
from gdfnn.model.network import DTYPES

log = logging.getLogger("gdfnn")


@dataclass
class PreparedData:
    """Frames, split, featuriser and feature stores of a run, and whether it trains on
    stress (``data.use_stress`` resolved on the training frames)."""

    structures: list[Structure]
    split: Split
    descriptor: SymmetryFunctions
    store: FeatureStore
    test_structures: list[Structure]
    test_store: FeatureStore | None
    use_stress: bool = False


def read_frames(entries: list[str], config: Config, elements: list[str] | None) -> list[Structure]:
    """Read and validate labelled frames (one-line :class:`InputError` naming file and frame)."""
    frames = load_sources(entries, length_unit=config.data.length_unit,
                          energy_unit=config.data.energy_unit, progress=config.output.progress)
    validate_structures(frames, elements=elements)
    return frames


def has_stress(frame: Structure) -> bool:
    """Whether ``frame`` can teach stress: a stress label and a 3-D periodic cell."""
    return frame.stress is not None and bool(frame.atoms.pbc.all())


def resolve_stress(setting: bool | str, frames: list[Structure]) -> bool:
    """``data.use_stress`` for the training ``frames``: ``"auto"`` is true when every frame
    has stress (:func:`has_stress`), and says in one line when only some have; ``True``
    needs at least one (the others are masked)."""
    labelled = sum(has_stress(f) for f in frames)
    if setting is True and labelled == 0:
        raise InputError("data.use_stress is true, but no training frame has stress and a "
                         "3-D periodic cell")
    if setting == "auto" and 0 < labelled < len(frames):
        log.info("stress: %d of %d training frames have it; not trained on (data.use_stress: "
                 "true trains on those, the others masked)", labelled, len(frames))
    use = labelled > 0 if setting is True else setting == "auto" and labelled == len(frames)
    if use:
        log.info("stress: training on the stress of %d of %d training frames", labelled,
                 len(frames))
    return use


def build_descriptor(config: Config, frames: list[Structure]) -> SymmetryFunctions:
    """The configured symmetry functions for the elements of the config or, if it names
    none, of the data (sorted); per-element settings must cover them all."""
    elements = config.descriptor.elements or sorted(
        {s for f in frames for s in f.atoms.get_chemical_symbols()})
    try:
        check_per_element(config, elements)
    except ValueError as exc:
        raise ConfigError(f"config: {exc}") from None
    d = config.descriptor
    if d.n2p2:
        sf = read_n2p2_descriptor(d.n2p2, config.data.length_unit)
        missing = sorted(set(elements) - set(sf.elements))
        if missing:
            raise ConfigError(f"config: descriptor.n2p2 {d.n2p2} has no functions for "
                              f"{', '.join(missing)} (its elements: {' '.join(sf.elements)})")
        return sf
    if d.params:
        return SymmetryFunctions.from_simple_nn({e: d.params[e] for e in elements},
                                                d.cutoff_type, d.cutoff_alpha)
    return SymmetryFunctions.default(elements, d.cutoff, d.cutoff_type, d.cutoff_alpha)


def cached_store(path: Path, frames: list[Structure], sf: SymmetryFunctions, dtype: str,
                 progress: bool) -> FeatureStore:
    """The store at ``path`` if it matches the frames and descriptor, else a new one."""
    digest = store_digest(frames, sf.to_dict(), dtype)
    if path.is_file():
        try:
            store = FeatureStore(path)
            if store.digest == digest:
                log.info("features: reusing %s", path)
                return store
        except InputError:
            pass
        log.info("features: %s is stale, re-featurising", path)
    write_store(path, frames, sf, dtype=DTYPES[dtype], digest=digest, progress=progress)
    return FeatureStore(path)


def prepare(config: Config) -> PreparedData:
    """Read and validate the data, split it per group, featurise it (or reuse the cache)."""
    if not config.data.train:
        raise InputError("config: data.train names no data")
    frames = read_frames(config.data.train, config, config.descriptor.elements)
    sf = build_descriptor(config, frames)
    split = split_by_group(frames, config.data.valid_rate, config.data.test_rate,
                           config.data.split_seed)
    if split.train.size == 0:
        raise InputError("the training split is empty: lower data.valid_rate/test_rate")
    out = Path(config.output.directory)
    store_path = Path(config.descriptor.store) if config.descriptor.store else out / "features.h5"
    store = cached_store(store_path, frames, sf, config.model.dtype, config.output.progress)
    test_frames, test_store = [], None
    if config.data.test:
        test_frames = read_frames(config.data.test, config, sf.elements)
        test_store = cached_store(store_path.with_name(store_path.stem + "_test.h5"),
                                  test_frames, sf, config.model.dtype, config.output.progress)
    use_stress = resolve_stress(config.data.use_stress, [frames[i] for i in split.train])
    return PreparedData(frames, split, sf, store, test_frames, test_store, use_stress)

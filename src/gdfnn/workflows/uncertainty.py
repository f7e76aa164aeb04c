"""Does a signal predict the force error? GDF coverage against n2p2's range test and an
ensemble's spread, per atom, on labelled frames (``gdfnn uncertainty``).

Signals, each read as "larger = less trustworthy":
    - ``gdf``: -log10(rho), rho the GDF of the atom against the potential's training atoms
      at its coverage width (one model, no extra network evaluation);
    - ``outside``: how many of its symmetry functions lie outside the training range (n2p2);
    - ``llpr``: its last-layer prediction rigidity signal (:mod:`gdfnn.model.rigidity`; one
      model, the force call's own hidden layer), for potentials that record it;
    - ``ensemble``: sqrt(mean_m |F_m - mean F|^2) over the potential and the ``ensemble``
      potentials (DeePMD's force deviation), eV/Å.
Each is scored against the true force error |F_pred - F_ref| (eV/Å, the main potential's):
Spearman's rank correlation, and the recall of the worst ``fraction`` of atoms among the
``fraction`` of atoms the signal flags. Costs are measured: seconds per atom of each signal
beside the main potential's force call. Where the potential carries an error map (see
:mod:`gdfnn.gdf.coverage`), its calibration: predicted against observed RMS error per decile of
the prediction.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from gdfnn.analysis import plots
from gdfnn.analysis.tables import markdown_table
from gdfnn.data.structure import Structure
from gdfnn.errors import InputError
from gdfnn.fileio import atomic_write
from gdfnn.model.potential import Potential

#: Share of atoms flagged by a signal and counted as worst, for the recall.
FLAG_FRACTION = 0.05
#: Bins (of equal atom count, by the predicted error) of the error map's calibration, and
#: the relative deviation of a bin's predicted RMS error from its observed one that the
#: calibration aims to stay within.
CALIBRATION_BINS = 10
CALIBRATION_TOLERANCE = 0.25
GDF, OUTSIDE, LLPR, ENSEMBLE = "gdf", "outside", "llpr", "ensemble"


@dataclass
class AtomSignals:
    """Per atom ``(N,)``: its frame, index, element, group, force error (eV/Å), and the
    signals; ``seconds``: wall time of the force call and of each signal."""

    frame: np.ndarray
    atom: np.ndarray
    element: np.ndarray
    group: np.ndarray
    force_error: np.ndarray
    rho: np.ndarray
    outside: np.ndarray
    ensemble_std: np.ndarray | None
    predicted_error: np.ndarray | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    rigidity: np.ndarray | None = None

    def signals(self) -> dict[str, np.ndarray]:
        """The signals, larger = less trustworthy."""
        out = {GDF: -np.log10(np.maximum(self.rho, 1e-300)), OUTSIDE: self.outside.astype(float)}
        if self.rigidity is not None:
            out[LLPR] = self.rigidity
        if self.ensemble_std is not None:
            out[ENSEMBLE] = self.ensemble_std
        return out


def atom_signals(potential: Potential, frames: list[Structure],
                 ensemble: list[Potential] = (), sigma: float | None = None) -> AtomSignals:
    """Force errors and signals of every atom of ``frames`` (which need forces)."""
    if not potential.gdf_reference:
        raise InputError("the potential carries no GDF reference (imported, or trained with a "
                         "reference over the size limit): no coverage to test")
    atoms = [s.atoms for s in frames]
    start = time.perf_counter()
    preds = potential.predict_many(atoms)
    seconds = {"force call": time.perf_counter() - start}
    forces = np.concatenate([p["forces"] for p in preds])
    error = np.linalg.norm(forces - np.concatenate([s.forces for s in frames]), axis=1)
    blocks = potential.descriptor.compute_many(atoms, progress=False)
    values, species = torch.cat([b.values for b in blocks]), torch.cat([b.species for b in blocks])
    start = time.perf_counter()
    rho, outside = potential.coverage(values, species, sigma)
    seconds[GDF] = time.perf_counter() - start
    start = time.perf_counter()
    rigidity = potential.rigidity(values, species)
    seconds[LLPR] = time.perf_counter() - start
    # (a map on rho reads the coverage width's rho: none when another sigma was asked for)
    predicted = potential.force_error(species, rho if sigma is None else None, rigidity)
    std = None
    if ensemble:
        start = time.perf_counter()
        members = [forces] + [np.concatenate([p["forces"] for p in member.predict_many(atoms)])
                              for member in ensemble]
        seconds[ENSEMBLE] = time.perf_counter() - start
        stacked = np.stack(members)
        std = np.sqrt(((stacked - stacked.mean(0)) ** 2).sum(2).mean(0))
    frame = np.repeat(np.arange(len(frames)), [s.n_atoms for s in frames])
    return AtomSignals(frame, np.concatenate([np.arange(s.n_atoms) for s in frames]),
                       np.concatenate([s.atoms.get_chemical_symbols() for s in frames]),
                       np.array([s.group for s in frames])[frame], error, rho, outside, std,
                       predicted if np.isfinite(predicted).any() else None, seconds,
                       rigidity if np.isfinite(rigidity).any() else None)


def score(error: np.ndarray, signal: np.ndarray, fraction: float = FLAG_FRACTION
          ) -> dict[str, float]:
    """Spearman's rho of ``signal`` with ``error`` and the recall of the worst ``fraction``
    of atoms among the ``fraction`` with the largest signal (ties broken by atom order)."""
    n = max(1, round(fraction * len(error)))
    worst = set(np.argsort(-error, kind="stable")[:n].tolist())
    flagged = set(np.argsort(-signal, kind="stable")[:n].tolist())
    correlation = spearmanr(signal, error).statistic if np.ptp(signal) > 0 else float("nan")
    return {"spearman": float(correlation), "recall": len(worst & flagged) / n, "atoms": len(error)}


def calibration(predicted: np.ndarray, error: np.ndarray, bins: int = CALIBRATION_BINS
                ) -> dict:
    """How well predicted per-atom force errors ``(N,)`` match the observed ``(N,)`` (eV/Å):
    atoms sorted by the prediction into ``bins`` of equal count; per bin the RMS predicted and
    observed error; ``max_deviation``: the largest ``|predicted / observed - 1|``."""
    keep = np.isfinite(predicted)
    order = np.argsort(predicted[keep], kind="stable")
    parts = np.array_split(order, min(bins, keep.sum()))
    pred = [float(np.sqrt(np.mean(predicted[keep][b] ** 2))) for b in parts]
    seen = [float(np.sqrt(np.mean(error[keep][b] ** 2))) for b in parts]
    deviation = [p / o - 1 if o > 0 else float("inf") for p, o in zip(pred, seen, strict=True)]
    return {"predicted_rms": pred, "observed_rms": seen, "atoms": [len(b) for b in parts],
            "deviation": deviation, "max_deviation": max(abs(d) for d in deviation)}


def uncertainty(potential: Potential, frames: list[Structure], ensemble: list[Potential] = (),
                *, sigma: float | None = None, output: str | Path | None = None,
                plot: bool = True) -> dict:
    """Scores of every signal on all atoms and per group; with ``output``, writes
    ``uncertainty.csv`` (per atom), ``uncertainty.json``, ``uncertainty.md`` and a plot."""
    data = atom_signals(potential, list(frames), list(ensemble), sigma)
    signals = data.signals()
    scopes = {"all": np.ones(len(data.force_error), bool)}
    scopes.update({f"group {g}": data.group == g for g in dict.fromkeys(data.group)})
    n_atoms = len(data.force_error)
    result = {"atoms": n_atoms, "ensemble_size": 1 + len(ensemble), "flag_fraction": FLAG_FRACTION,
              "ms_per_atom": {k: 1e3 * v / n_atoms for k, v in data.seconds.items()},
              "scores": {scope: {name: score(data.force_error[mask], s[mask])
                                 for name, s in signals.items()}
                         for scope, mask in scopes.items() if mask.sum() >= 2}}
    if data.predicted_error is not None:
        result["calibration"] = calibration(data.predicted_error, data.force_error)
    if output is not None:
        _write(Path(output), data, result, plot)
    return result


def format_uncertainty(result: dict) -> str:
    """The markdown table of the scores and costs."""
    cost = result["ms_per_atom"]
    rows = [[scope, name, s["atoms"], s["spearman"], s["recall"],
             cost[name] if name != OUTSIDE else "(in gdf's)"]
            for scope, by_signal in result["scores"].items() for name, s in by_signal.items()]
    head = (f"{result['atoms']} atoms; ensemble of {result['ensemble_size']}; recall: worst "
            f"{100 * result['flag_fraction']:.0f} % of atoms among the "
            f"{100 * result['flag_fraction']:.0f} % flagged; force call "
            f"{cost['force call']:.3f} ms/atom\n\n")
    table = markdown_table(["atoms", "signal", "n", "Spearman with |dF|", "recall of worst",
                            "signal cost (ms/atom)"], rows)
    if "calibration" not in result:
        return head + table
    c = result["calibration"]
    bins = markdown_table(["bin", "atoms", "predicted RMS |dF| (eV/Å)",
                           "observed RMS |dF| (eV/Å)", "predicted / observed - 1"],
                          [[k + 1, n, p, o, d] for k, (n, p, o, d) in enumerate(zip(
                              c["atoms"], c["predicted_rms"], c["observed_rms"],
                              c["deviation"], strict=True))])
    return (head + table + "\n\nCalibration of the potential's error map (bins of the "
            f"predicted error): largest deviation {100 * c['max_deviation']:.0f} % (aim: "
            f"within {100 * CALIBRATION_TOLERANCE:.0f} %)\n\n" + bins)


def _write(out: Path, data: AtomSignals, result: dict, plot: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "uncertainty.csv") as f:
        writer = csv.writer(f)
        writer.writerow(["frame", "atom", "element", "group", "force_error_eV_per_A", "rho",
                         "outside", "ensemble_std_eV_per_A", "predicted_error_eV_per_A",
                         "llpr"])
        for k in range(len(data.force_error)):
            writer.writerow([data.frame[k], data.atom[k], data.element[k], data.group[k],
                             f"{data.force_error[k]:.6f}", f"{data.rho[k]:.6e}",
                             data.outside[k], "" if data.ensemble_std is None
                             else f"{data.ensemble_std[k]:.6f}",
                             "" if data.predicted_error is None
                             else f"{data.predicted_error[k]:.6f}",
                             "" if data.rigidity is None else f"{data.rigidity[k]:.6e}"])
    with atomic_write(out / "uncertainty.json") as f:
        json.dump(result, f, indent=2)
    with atomic_write(out / "uncertainty.md") as f:
        f.write(format_uncertainty(result) + "\n")
    if plot:
        panels = {"GDF rho": (data.rho, True), "functions outside the range": (data.outside,
                                                                                False)}
        if data.rigidity is not None:
            panels["last-layer rigidity signal (LLPR)"] = (data.rigidity, True)
        if data.ensemble_std is not None:
            panels["ensemble force std (eV/Å)"] = (data.ensemble_std, True)
        plots.error_vs_signals(panels, data.force_error, out / "uncertainty.png")
        if "calibration" in result:
            c = result["calibration"]
            plots.calibration(np.array(c["predicted_rms"]), np.array(c["observed_rms"]),
                              out / "calibration.png", CALIBRATION_TOLERANCE)

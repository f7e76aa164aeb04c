"""Plots of the GDF analysis (paper Figures 1b, 1c), parity plots and weights: PNG files.

Figures are made with matplotlib's object API (``Figure`` and its Agg canvas), never through
``pyplot``: no global backend is chosen or changed, so a notebook's inline plots keep working.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from gdfnn.fileio import atomic_write


def _subplots(ncols: int = 1, figsize: tuple[float, float] = (5.0, 4.0)):
    """A figure and a ``(1, ncols)`` array of axes, without pyplot."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(1, ncols, squeeze=False)


def _save(fig: Figure, path: str | os.PathLike) -> None:
    """The figure at ``path`` (its suffix the format: png, pdf, svg), whole or not at all."""
    fig.tight_layout()
    with atomic_write(path, "wb") as out:
        fig.savefig(out, dpi=120, format=os.path.splitext(path)[1].lstrip(".") or "png")


def inverse_rho_histogram(inverse_rho: dict[str, np.ndarray], markers: dict[str, float | None],
                          path: str | os.PathLike, marker_label: str = "sigmoid midpoint") -> None:
    """Histogram of 1/rho per element on log-log axes, the modifier's transition marked."""
    fig, axes = _subplots(len(inverse_rho), (5 * len(inverse_rho), 3.6))
    for ax, (element, x) in zip(axes[0], inverse_rho.items(), strict=True):
        bins = np.logspace(np.log10(x.min()), np.log10(x.max()) + 1e-9, 50)
        ax.hist(x, bins=bins, color="tab:blue")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("1 / rho")
        ax.set_ylabel("training atoms")
        ax.set_title(element)
        if markers.get(element) is not None:
            ax.axvline(markers[element], color="tab:red", ls="--", label=marker_label)
            ax.legend()
    _save(fig, path)


def feature_count_map(points: dict[str, np.ndarray], axis_names: tuple[str, str],
                      path: str | os.PathLike, bins: int = 20) -> None:
    """Paper Figure 1b: counts of training points on a ``bins x bins`` mesh of two feature
    components, log colour scale; one panel per subset (e.g. bulk and defect atoms)."""
    every = np.concatenate(list(points.values()))
    edges = [np.linspace(every[:, k].min(), every[:, k].max() + 1e-12, bins + 1) for k in (0, 1)]
    fig, axes = _subplots(len(points), (4.6 * len(points), 4))
    for ax, (label, xy) in zip(axes[0], points.items(), strict=True):
        counts, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=edges)
        counts = np.ma.masked_equal(counts.T, 0)
        mesh = ax.pcolormesh(edges[0], edges[1], counts, norm=LogNorm(vmin=1, vmax=max(
            2, counts.max())), cmap="viridis")
        fig.colorbar(mesh, ax=ax, label="training points")
        ax.set_xlabel(axis_names[0])
        ax.set_ylabel(axis_names[1])
        ax.set_title(f"{label} ({len(xy)} atoms)")
    _save(fig, path)


COLORS = ["tab:blue", "tab:red", "tab:green", "tab:purple"]


def parity(pairs: dict[str, tuple[np.ndarray, np.ndarray]], quantity: str, unit: str,
           path: str | os.PathLike) -> None:
    """Predicted vs reference values, one colour per potential, with the identity line."""
    fig, axes = _subplots(1, (4.6, 4.4))
    ax = axes[0, 0]
    every = np.concatenate([np.concatenate(p) for p in pairs.values()])
    low, high = every.min(), every.max()
    ax.plot([low, high], [low, high], color="0.5", lw=1)
    for color, (label, (ref, pred)) in zip(COLORS, pairs.items(), strict=False):
        rmse = np.sqrt(((pred - ref) ** 2).mean())
        ax.scatter(ref, pred, s=4, alpha=0.5, color=color, label=f"{label} (RMSE {rmse:.3g})")
    ax.set_xlabel(f"reference {quantity} ({unit})")
    ax.set_ylabel(f"predicted {quantity} ({unit})")
    ax.legend(fontsize=8)
    _save(fig, path)


def error_vs_gdf(curves: dict[str, list[dict]], path: str | os.PathLike,
                 ylabel: str = "|F_ref - F| (eV/Å)") -> None:
    """Paper Figure 1c: mean error norm per log-spaced GDF bin, quartile band shaded."""
    fig, axes = _subplots(1, (5.2, 3.8))
    ax = axes[0, 0]
    for color, (label, rows) in zip(COLORS, curves.items(), strict=False):
        rows = [r for r in rows if r["n"] > 0]
        centre = np.sqrt([r["low"] * r["high"] for r in rows])
        ax.plot(centre, [r["mean_norm"] for r in rows], "o-", color=color, label=label)
        ax.fill_between(centre, [r["q25"] for r in rows], [r["q75"] for r in rows],
                        color=color, alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("GDF rho")
    ax.set_ylabel(ylabel)
    ax.legend()
    _save(fig, path)


def error_vs_gdf_bands(curves: dict[str, list[list[dict]]], path: str | os.PathLike) -> None:
    """Figure 1c over seeds: per setting, the force RMSE per GDF bin, mean over seeds (line)
    and its spread (band: mean ± std)."""
    fig, axes = _subplots(1, (6.0, 4.2))
    ax = axes[0, 0]
    for k, (label, runs) in enumerate(curves.items()):
        centre = np.sqrt([r["low"] * r["high"] for r in runs[0]])
        table = np.array([[r.get("rmse", np.nan) if r["n"] else np.nan for r in rows]
                          for rows in runs])
        count = np.isfinite(table).sum(0)  # bins empty in every run stay NaN, silently
        filled = np.where(np.isfinite(table), table, 0.0)
        mean = np.where(count > 0, filled.sum(0) / np.maximum(count, 1), np.nan)
        std = np.sqrt(np.where(count > 0, (np.where(np.isfinite(table), table - mean, 0.0) ** 2)
                               .sum(0) / np.maximum(count, 1), np.nan))
        color = f"C{k}"
        ax.plot(centre, mean, "o-", color=color, label=label, ms=3)
        ax.fill_between(centre, mean - std, mean + std, color=color, alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("GDF rho of the test atom")
    ax.set_ylabel("force RMSE (eV/Å)")
    ax.legend(fontsize=6)
    _save(fig, path)


def rare_vs_bulk(points: dict[str, tuple], path: str | os.PathLike) -> None:
    """One point per setting: force RMSE of the rarest atoms against that of the densest,
    each (mean, std) over seeds, with error bars."""
    fig, axes = _subplots(1, (5.0, 4.4))
    ax = axes[0, 0]
    for k, (label, (rare, bulk)) in enumerate(points.items()):
        if rare is None or bulk is None:
            continue
        ax.errorbar(bulk[0], rare[0], xerr=bulk[1], yerr=rare[1], fmt="o", color=f"C{k}",
                    label=label, capsize=3)
    ax.set_xlabel("force RMSE, densest 50 % (eV/Å)")
    ax.set_ylabel("force RMSE, rarest 10 % (eV/Å)")
    ax.legend(fontsize=6)
    _save(fig, path)


def error_vs_signals(panels: dict[str, tuple[np.ndarray, bool]], error: np.ndarray,
                     path: str | os.PathLike) -> None:
    """One panel per signal: the per-atom force error |dF| (eV/Å) against the signal's value
    (``{label: (values (N,), log x axis)}``)."""
    fig, axes = _subplots(len(panels), (4.2 * len(panels), 3.6))
    for ax, (label, (values, log_x)) in zip(axes[0], panels.items(), strict=True):
        shown = values > 0 if log_x else np.ones(len(values), bool)
        ax.scatter(values[shown], error[shown], s=3, alpha=0.4, color="tab:blue")
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("|F_pred - F_ref| (eV/Å)")
    _save(fig, path)


def calibration(predicted: np.ndarray, observed: np.ndarray, path: str | os.PathLike,
                tolerance: float = 0.25) -> None:
    """Predicted against observed RMS force error (eV/Å) per bin of the prediction, with the
    diagonal and a band of +- ``tolerance`` (relative) around it."""
    fig, axes = _subplots(1, (4.4, 4.0))
    ax = axes[0][0]
    low = 0.8 * min(predicted.min(), observed.min())
    high = 1.25 * max(predicted.max(), observed.max())
    line = np.array([low, high])
    ax.fill_between(line, line * (1 - tolerance), line * (1 + tolerance), color="0.9",
                    label=f"±{100 * tolerance:.0f} %")
    ax.plot(line, line, color="0.5", lw=1)
    ax.plot(predicted, observed, "o-", color="tab:blue", label="decile of the prediction")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted RMS |F_pred - F_ref| (eV/Å)")
    ax.set_ylabel("observed RMS |F_pred - F_ref| (eV/Å)")
    ax.legend(fontsize=8)
    _save(fig, path)


def learning_rounds(curves: dict[str, tuple[list[int], dict[str, list[float]]]],
                    path: str | os.PathLike,
                    spread: dict[str, dict[str, list[float]]] | None = None) -> None:
    """Force RMSE (eV/Å) against labelled frames, one panel per metric, one line per
    ``{label: (labelled frames, {metric: values})}``; ``spread`` (same keys): a band of
    +- that much around each line (the standard deviation over seeds)."""
    metrics = list(next(iter(curves.values()))[1])
    fig, axes = _subplots(len(metrics), (4.6 * len(metrics), 3.6))
    for ax, metric in zip(axes[0], metrics, strict=True):
        for k, (label, (x, values)) in enumerate(curves.items()):
            color = COLORS[k % len(COLORS)]
            ax.plot(x, values[metric], "o-" if "coverage" in label else "s--", color=color,
                    label=label)
            if spread is not None:
                y, dy = np.asarray(values[metric]), np.asarray(spread[label][metric])
                ax.fill_between(x, y - dy, y + dy, color=color, alpha=0.15)
        ax.set_xlabel("labelled frames")
        ax.set_ylabel(f"force RMSE, {metric} atoms (eV/Å)")
    axes[0, 0].legend()
    _save(fig, path)


def energy_maps(maps: dict[str, np.ndarray], axes_values: tuple[np.ndarray, np.ndarray],
                axis_names: tuple[str, str], unit: str, path: str | os.PathLike) -> None:
    """One panel per ``{title: (len(y), len(x)) values}`` on a shared colour scale (the
    paper's Figure 2b-d); ``axes_values``: the x and y grid values."""
    x, y = axes_values
    lo = min(float(m.min()) for m in maps.values())
    hi = max(float(m.max()) for m in maps.values())
    fig, axes = _subplots(len(maps), (4.2 * len(maps), 3.4))
    for ax, (title, values) in zip(axes[0], maps.items(), strict=True):
        image = ax.pcolormesh(x, y, values, vmin=lo, vmax=hi, shading="nearest",
                              cmap="viridis")
        ax.set_title(title)
        ax.set_xlabel(axis_names[0])
        ax.set_ylabel(axis_names[1])
    fig.colorbar(image, ax=axes[0, -1], label=unit)
    _save(fig, path)


def phonon_dispersion(lines: dict[str, dict], labels: list[str], path: str | os.PathLike
                      ) -> None:
    """Phonon bands of several potentials on one path (one colour each) and their densities
    of states; ``lines``: ``{label: phonons dict}`` of
    :func:`gdfnn.workflows.properties.phonons.phonons`; ``labels``: the path's point names."""
    fig = Figure(figsize=(8.0, 4.2))
    band_ax, dos_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
    for k, (label, ph) in enumerate(lines.items()):
        color = COLORS[k % len(COLORS)]
        for segment, (x, freqs) in enumerate(zip(ph["band_distances"], ph["band_THz"],
                                                 strict=True)):
            band_ax.plot(x, freqs, color=color, lw=1, label=label if segment == 0 else None)
        dos_ax.plot(ph["dos"], ph["dos_THz"], color=color, lw=1)
    ticks = [ph["band_distances"][0][0]] + [seg[-1] for seg in ph["band_distances"]]
    band_ax.set_xticks(ticks, labels)
    for t in ticks:
        band_ax.axvline(t, color="0.8", lw=0.5)
    band_ax.set_xlim(ticks[0], ticks[-1])
    band_ax.set_ylabel("frequency (THz)")
    handles, names = band_ax.get_legend_handles_labels()
    unique = dict(zip(names, handles, strict=True))
    band_ax.legend(unique.values(), unique.keys(), fontsize=8)
    dos_ax.set_xlabel("DOS")
    _save(fig, path)


def equation_of_state(curves: dict[str, dict], path: str | os.PathLike) -> None:
    """E(V) of several potentials (points and fitted curve, energies from each minimum, per
    atom); ``curves``: ``{label: {volumes, energies, fit_volumes, fit_energies, v0}}``."""
    fig, axes = _subplots(1, (5.5, 4.2))
    ax = axes[0, 0]
    for k, (label, c) in enumerate(curves.items()):
        color = COLORS[k % len(COLORS)]
        ax.plot(c["fit_volumes"], c["fit_energies"], color=color, lw=1, label=label)
        ax.plot(c["volumes"], c["energies"], "o", color=color, ms=3)
        ax.axvline(c["v0"], color=color, lw=0.5, ls=":")
    ax.set_xlabel("volume per atom (Å$^3$)")
    ax.set_ylabel("E - E$_0$ per atom (eV)")
    ax.legend(fontsize=8)
    _save(fig, path)

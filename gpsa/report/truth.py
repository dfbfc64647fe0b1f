"""Simulated runs: the PSA position error against the simulation truth — per axis (events with
one true interaction and one hit), and the 3D centroid error vs the true energy and radius."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gpsa.report.data import RunData
from gpsa.report.figures import Figure, new_figure, no_data, save
from gpsa.report.numbers import TruthErrors, all_truth_errors


def binned_median(x: np.ndarray, y: np.ndarray,
                  bins: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median of ``y`` per distinct value of ``x`` (to 0.1) when it has at most ``bins`` (e.g.
    the full-energy lines of a source), else in ``bins`` equal-population bins of ``x``:
    (centres, medians, counts)."""
    values = np.unique(np.round(x, 1))
    if values.size <= bins:
        which = np.searchsorted(values, np.round(x, 1))
        n = values.size
    else:
        edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, bins + 1)))
        which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        n = len(edges) - 1
    centres, medians, counts = [], [], []
    for i in range(n):
        sel = which == i
        if sel.any():
            centres.append(float(np.median(x[sel])))
            medians.append(float(np.median(y[sel])))
            counts.append(int(sel.sum()))
    return np.asarray(centres), np.asarray(medians), np.asarray(counts, np.int64)


def _per_axis(errors: TruthErrors, folder: Path) -> Figure:
    fig, axes = new_figure(3, 1, width=4.0, height=3.4)
    d = errors.single_d
    for i, axis in enumerate("xyz"):
        ax = axes[0][i]
        ax.set_xlabel(f"PSA − true {axis} (mm)")
        ax.set_ylabel("events")
        if d.shape[0] == 0:
            no_data(ax, "single-interaction events")
            continue
        ax.hist(d[:, i], bins=30, histtype="stepfilled", alpha=0.7)
        ax.set_title(f"median |d{axis}| {np.median(np.abs(d[:, i])):.2f} mm")
    caption = ("single-interaction events (1 true interaction, 1 hit): " + ", ".join(
        f"median |d{a}| {np.median(np.abs(d[:, i])):.2f} mm" for i, a in enumerate("xyz"))
        + f" over {d.shape[0]} events") if d.shape[0] else "no single-interaction events"
    return save(fig, folder / "truth_axes.png", "Position error per axis", caption)


def _versus(errors: TruthErrors, folder: Path) -> Figure:
    fig, axes = new_figure(2, 1, width=5.0, height=3.6)
    dist = errors.distance
    for ax, x, label in ((axes[0][0], errors.centroid_energy, "true energy (keV)"),
                         (axes[0][1], errors.centroid_radius, "true radius (mm)")):
        ax.set_xlabel(label)
        ax.set_ylabel("3D centroid error (mm)")
        if dist.size == 0:
            no_data(ax, "events")
            continue
        ax.scatter(x, dist, s=4, alpha=0.4, label="events")
        cx, my, _ = binned_median(x, dist)
        ax.plot(cx, my, "o-", color="C3", label="median")
        ax.legend(fontsize="small")
    if dist.size:
        def medians(x: np.ndarray, unit: str) -> str:
            cx, my, n = binned_median(x, dist, bins=4)
            return ", ".join(f"{c:.0f} {unit}: {m:.2f} mm (n={k})"
                             for c, m, k in zip(cx, my, n, strict=True))

        caption = (f"{dist.size} events: median 3D centroid error {np.median(dist):.2f} mm "
                   f"(90th percentile {np.percentile(dist, 90):.2f} mm); median by true energy "
                   f"{medians(errors.centroid_energy, 'keV')}; by true radius "
                   f"{medians(errors.centroid_radius, 'mm')}")
    else:
        caption = "no event with both hits and truth"
    return save(fig, folder / "truth_versus.png", "Position error vs energy and radius", caption)


def plot_truth(run: RunData, folder: Path) -> list[Figure]:
    """The truth figures, or none when the run has no truth."""
    errors = all_truth_errors(run)
    if errors is None:
        return []
    return [_per_axis(errors, folder), _versus(errors, folder)]

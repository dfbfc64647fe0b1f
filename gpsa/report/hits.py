"""What the hits look like: their positions per crystal (x–y, x–z and r–z, mm, as the run wrote
them: crystal frame, or lab frame after a post-psa ``lab_transform``; one PNG per crystal), the
energy spectra (core e0, sum of the hits per event, tracked gammas), the hit multiplicity and
the figure-of-merit distribution, all crystals overlaid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gpsa.block import PsaHits
from gpsa.report.data import RunData
from gpsa.report.figures import Figure, new_figure, no_data, save
from gpsa.report.numbers import hit_sums, multiplicity

VIEWS: tuple[tuple[str, str], ...] = (("x", "y"), ("x", "z"), ("r", "z"))


def _column(hits: PsaHits, name: str) -> np.ndarray:
    if name == "r":
        return np.hypot(hits.x, hits.y)
    return np.asarray(getattr(hits, name))


def plot_positions(run: RunData, folder: Path) -> list[Figure]:
    """One figure per crystal with hits: the three projections as 2D histograms."""
    figures: list[Figure] = []
    for crystal in run.crystals:
        if crystal.psa is None:
            continue
        hits = crystal.psa.hits
        fig, axes = new_figure(3, 1, width=4.2, height=3.8)
        for ax, (a, b) in zip(axes[0], VIEWS, strict=True):
            ax.set_xlabel(f"{a} (mm)")
            ax.set_ylabel(f"{b} (mm)")
            if len(hits) == 0:
                no_data(ax, "hits")
                continue
            u, v = _column(hits, a), _column(hits, b)
            ax.hist2d(u, v, bins=40, cmin=1, cmap="viridis")
            if a == "x" and b == "y":
                ax.set_aspect("equal")
        fig.suptitle(f"{crystal.name}: {len(hits)} hits in {len(crystal.psa)} events")
        r = np.hypot(hits.x, hits.y)
        caption = (f"{crystal.name}: hits span x {np.min(hits.x):.1f}…{np.max(hits.x):.1f} mm, "
                   f"z {np.min(hits.z):.1f}…{np.max(hits.z):.1f} mm, r ≤ {np.max(r):.1f} mm"
                   if len(hits) else f"{crystal.name}: no hits")
        figures.append(save(fig, folder / f"positions_{crystal.name}.png",
                            f"Hit positions, {crystal.name}", caption))
    return figures


BIN_KEV = 10.0


def peak_kev(values: np.ndarray, bin_kev: float = BIN_KEV) -> float:
    """Centre of the fullest ``bin_kev`` bin above 20 keV (NaN without entries)."""
    values = values[np.isfinite(values) & (values > 20.0)]
    if values.size == 0:
        return float("nan")
    edges = np.arange(0.0, float(values.max()) + 2 * bin_kev, bin_kev)
    counts, edges = np.histogram(values, bins=edges)
    i = int(np.argmax(counts))
    return float(0.5 * (edges[i] + edges[i + 1]))


def _edges(values: list[np.ndarray]) -> np.ndarray:
    top = max((float(np.nanmax(v)) for v in values if v.size and np.isfinite(v).any()),
              default=100.0)
    return np.arange(0.0, top + 2 * BIN_KEV, BIN_KEV)


def plot_spectra(run: RunData, folder: Path) -> Figure:
    """Core energy and hit-sum spectra per crystal, and the tracked gammas when present."""
    blocks = [(c.name, c.psa) for c in run.crystals if c.psa is not None]
    tracked = run.tracked_energies.size > 0
    fig, axes = new_figure(3 if tracked else 2, 1, width=5.0, height=3.8)
    core = [np.asarray(b.events.e0, np.float64) for _, b in blocks]
    sums = [hit_sums(b) for _, b in blocks]
    edges = _edges(core + sums)
    for ax, what, series in ((axes[0][0], "core energy e0", core),
                             (axes[0][1], "sum of hits per event", sums)):
        ax.set_title(what)
        ax.set_xlabel("energy (keV)")
        ax.set_ylabel(f"events / {BIN_KEV:g} keV")
        if not any(v.size for v in series):
            no_data(ax, "events")
            continue
        for (name, _), values in zip(blocks, series, strict=True):
            ax.hist(values[np.isfinite(values)], bins=edges, histtype="step", label=name)
        ax.legend(fontsize="small")
    if tracked:
        ax = axes[0][2]
        ax.set_title("tracked gammas")
        ax.set_xlabel("energy (keV)")
        ax.set_ylabel(f"gammas / {BIN_KEV:g} keV")
        ax.hist(run.tracked_energies, bins=_edges([run.tracked_energies]), histtype="step")
    all_core = np.concatenate(core) if core else np.zeros(0)
    all_sums = np.concatenate(sums) if sums else np.zeros(0)
    caption = (f"highest {BIN_KEV:g} keV bin above 20 keV: core e0 at {peak_kev(all_core):.0f} "
               f"keV, sum of hits at {peak_kev(all_sums):.0f} keV")
    if tracked:
        caption += (f", tracked ({run.tracked_energies.size} gammas) at "
                    f"{peak_kev(run.tracked_energies):.0f} keV")
    return save(fig, folder / "spectra.png", "Energy spectra", caption)


def plot_fom(run: RunData, folder: Path) -> Figure | None:
    """The figure of merit of every hit, per crystal; None when no hit has one (data:psa does
    not store it: hits read from an ADF file have NaN)."""
    blocks = [(c.name, c.psa) for c in run.crystals if c.psa is not None]
    finite = [f[np.isfinite(f)] for f in (np.asarray(b.hits.fom, np.float64) for _, b in blocks)]
    if not any(f.size for f in finite):
        return None
    fig, axes = new_figure()
    ax = axes[0][0]
    ax.set_xlabel("figure of merit")
    ax.set_ylabel("hits")
    allf = np.concatenate(finite)
    edges = np.linspace(float(allf.min()), float(allf.max()) + 1e-9, 41)
    for (name, _), f in zip(blocks, finite, strict=True):
        if f.size:
            ax.hist(f, bins=edges, histtype="step", label=name)
    ax.legend(fontsize="small")
    caption = (f"{allf.size} hits: median {np.median(allf):.3g}, "
               f"90th percentile {np.percentile(allf, 90):.3g}")
    return save(fig, folder / "fom.png", "Figure of merit", caption)


def plot_multiplicity(run: RunData, folder: Path) -> Figure:
    """Hits per event, per crystal."""
    fig, axes = new_figure()
    ax = axes[0][0]
    ax.set_xlabel("hits per event")
    ax.set_ylabel("events")
    blocks = [(c.name, c.psa) for c in run.crystals if c.psa is not None and len(c.psa)]
    mults = [multiplicity(b) for _, b in blocks]
    if not mults:
        no_data(ax, "events")
        caption = "no events"
    else:
        allm = np.concatenate(mults)
        edges = np.arange(-0.5, int(allm.max()) + 1.5)
        for (name, _), m in zip(blocks, mults, strict=True):
            ax.hist(m, bins=edges, histtype="step", label=name)
        ax.legend(fontsize="small")
        share = ", ".join(f"{k}: {np.mean(allm == k):.1%}" for k in range(int(allm.max()) + 1)
                          if np.any(allm == k))
        caption = f"{allm.size} events, mean {allm.mean():.2f} hits per event ({share})"
    return save(fig, folder / "multiplicity.png", "Hit multiplicity", caption)

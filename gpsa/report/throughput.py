"""Throughput: per stage (events per busy second and busy seconds, from each crystal's
``gpsa-run.json``), over time (events per second and queue depths from the monitor's history in
the Central Memory, ``gpsa:{RUN}:monitor:history``: one snapshot per process every
``monitor_interval`` seconds, see docs/monitoring.md), and the alarms of the run summary."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from gpsa.report.data import RunData
from gpsa.report.figures import Figure, new_figure, no_data, save
from gpsa.report.numbers import finite

log = logging.getLogger(__name__)

ALARM_COLUMNS: tuple[str, ...] = ("alarm", "metric", "condition", "threshold", "value",
                                  "crystal", "stage", "worker", "fired", "cleared")


def stage_table(run: RunData) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Stage labels (in chain order), crystal names, and (crystals × stages) arrays of events
    per busy second and busy seconds (NaN where a crystal lacks the stage)."""
    labels: list[str] = []
    for crystal in run.crystals:
        for stage in crystal.stages:
            if stage.get("label") not in labels:
                labels.append(str(stage.get("label")))
    names = [c.name for c in run.crystals]
    rate = np.full((len(names), len(labels)), np.nan)
    busy = np.full_like(rate, np.nan)
    for i, crystal in enumerate(run.crystals):
        for stage in crystal.stages:
            j = labels.index(str(stage.get("label")))
            rate[i, j] = float(stage.get("events_per_busy_second") or np.nan)
            busy[i, j] = float(stage.get("busy_seconds") or 0.0)
    return labels, names, rate, busy


def plot_throughput(run: RunData, folder: Path) -> Figure:
    """Grouped bars: events per busy second (log scale) and busy seconds, per stage."""
    labels, names, rate, busy = stage_table(run)
    fig, axes = new_figure(2, 1, width=5.5, height=3.8)
    if not labels:
        for ax in axes[0]:
            no_data(ax, "stage counters")
        return save(fig, folder / "throughput.png", "Throughput per stage",
                    "no stage counters in gpsa-run.json")
    x = np.arange(len(labels))
    width = 0.8 / max(len(names), 1)
    for ax, values, ylabel in ((axes[0][0], rate, "events per busy second"),
                               (axes[0][1], busy, "busy seconds")):
        for i, name in enumerate(names):
            ax.bar(x + (i - (len(names) - 1) / 2) * width, np.nan_to_num(values[i]), width,
                   label=name)
        ax.set_xticks(x, labels, rotation=30, ha="right")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize="small")
    if finite(rate, "max") > 0:
        axes[0][0].set_yscale("log")
    mean_rate = np.array([finite(rate[:, j], "mean") for j in range(len(labels))])
    busy_sum = ", ".join(f"{s} {np.nansum(busy[:, j]):.2f} s" for j, s in enumerate(labels))
    if np.isfinite(mean_rate).any():
        j = int(np.nanargmin(mean_rate))
        caption = (f"slowest stage: {labels[j]} at {mean_rate[j]:.0f} events per busy second "
                   f"(mean over {len(names)} crystal(s)); busy seconds summed over crystals: "
                   f"{busy_sum}")
    else:
        caption = f"busy seconds summed over crystals: {busy_sum}"
    return save(fig, folder / "throughput.png", "Throughput per stage", caption)


def alarm_rows(run: RunData) -> list[list[str]]:
    """The alarms as table rows (columns :data:`ALARM_COLUMNS`)."""
    def cell(value: Any) -> str:
        return "" if value is None else (f"{value:.4g}" if isinstance(value, float) else
                                         str(value))

    return [[cell(alarm.get(c)) for c in ALARM_COLUMNS] for alarm in run.alarms]


#: Snapshots read from a run's history (the stream keeps about 15000).
MAX_SNAPSHOTS = 20_000


def read_snapshots(url: str, run: str) -> list[dict[str, Any]]:
    """The run's monitor snapshots in the Central Memory at ``url``, oldest first."""
    from gpsa.central.connection import connect
    from gpsa.monitor.publish import read_history

    client = connect(url)
    try:
        snaps = read_history(client, run, count=MAX_SNAPSHOTS)
    finally:
        client.close()
    log.info("report: %d monitor snapshot(s) of run %s", len(snaps), run)
    return snaps


def series(snapshots: list[dict[str, Any]], field: str) -> dict[tuple[str, str], np.ndarray]:
    """Per (crystal, stage): an (n, 2) array of (seconds since the first snapshot, value of
    ``field``) over the snapshots that have it (a process's snapshots hold its crystals)."""
    if not snapshots:
        return {}
    t0 = min(float(s.get("time", 0.0)) for s in snapshots)
    out: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for snap in snapshots:
        t = float(snap.get("time", 0.0)) - t0
        for crystal, c in (snap.get("crystals") or {}).items():
            for stage, values in (c.get("stages") or {}).items():
                if field in values:
                    out.setdefault((crystal, stage), []).append((t, float(values[field])))
    return {k: np.asarray(sorted(v)) for k, v in out.items()}


def rates(events: dict[tuple[str, str], np.ndarray]) -> dict[tuple[str, str], np.ndarray]:
    """Events per second between successive snapshots, per (crystal, stage): (n − 1, 2) arrays
    of (mid time, rate)."""
    out: dict[tuple[str, str], np.ndarray] = {}
    for key, v in events.items():
        dt = np.diff(v[:, 0])
        ok = dt > 0
        if ok.any():
            mid = 0.5 * (v[1:, 0] + v[:-1, 0])
            out[key] = np.c_[mid[ok], np.diff(v[:, 1])[ok] / dt[ok]]
    return out


def plot_timeline(snapshots: list[dict[str, Any]], folder: Path) -> Figure | None:
    """Events per second of each crystal's producer-to-consumer stages and the queue depths over
    time; None without snapshots."""
    events = series(snapshots, "events")
    if not events:
        return None
    queues = series(snapshots, "queue")
    rate = rates(events)
    fig, axes = new_figure(2, 1, width=6.0, height=3.8)
    ax_r, ax_q = axes[0]
    for (crystal, stage), v in sorted(rate.items()):
        ax_r.plot(v[:, 0], v[:, 1], label=f"{crystal} {stage}", lw=1)
    for (crystal, stage), v in sorted(queues.items()):
        ax_q.step(v[:, 0], v[:, 1], where="post", label=f"{crystal} {stage}", lw=1)
    for ax, ylabel in ((ax_r, "events per second"), (ax_q, "blocks queued in front")):
        ax.set_xlabel("seconds since the first snapshot")
        ax.set_ylabel(ylabel)
        if ax.lines:
            ax.legend(fontsize="x-small", ncol=2)
    peak = max((float(v[:, 1].max()) for v in rate.values()), default=0.0)
    deepest = max((float(v[:, 1].max()) for v in queues.values()), default=0.0)
    span = max(float(v[-1, 0]) for v in events.values())
    caption = (f"{len(snapshots)} snapshots over {span:.1f} s: peak {peak:.0f} events/s in a "
               f"stage, deepest queue {deepest:.0f} block(s)")
    return save(fig, folder / "timeline.png", "Throughput and queue depth over time", caption)

"""What ``gpsa monitor`` shows, from the latest snapshot of each process of a run
(:mod:`gpsa.monitor.snapshot`): crystals × stages with rates, queue depths and errors; the
workers with host, device and heartbeat age; the alarms. As rows (plain lines, JSON) and as rich
tables (the live screen)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

Snapshots = Mapping[str, dict[str, Any]]

STAGE_COLUMNS = ["crystal", "stage", "worker", "events", "of", "events/s", "queue", "errors",
                 "busy s", "state"]
WORKER_COLUMNS = ["worker", "host", "pid", "device", "state", "heartbeat age s", "metrics"]
ALARM_COLUMNS = ["alarm", "crystal", "stage", "worker", "fired", "state"]


def stage_rows(snaps: Snapshots) -> list[list[Any]]:
    """One row per crystal × stage, crystals in name order, stages in chain order."""
    rows = []
    for crystal, worker, c in sorted(((name, s.get("worker", ""), c) for s in snaps.values()
                                      for name, c in s.get("crystals", {}).items()),
                                     key=lambda x: (x[0], x[1])):
        state = "running" if c.get("running") else "idle"
        for stage, st in c.get("stages", {}).items():
            rows.append([crystal, stage, worker, int(st.get("events", 0)),
                         int(c.get("expected") or 0) or "-", f"{st.get('rate', 0.0):,.1f}",
                         int(st.get("queue", 0)), int(st.get("errors", 0)),
                         f"{st.get('busy_seconds', 0.0):.2f}", state])
    return rows


def worker_rows(snaps: Snapshots, batch: list[dict[str, Any]] | None = None,
                now: float | None = None) -> list[list[Any]]:
    """One row per process: from the batch run's registry when there is one (heartbeat age
    as the Central Memory sees it; ``STALE`` after the state of a worker whose age is past
    :func:`gpsa.monitor.sources.stale_after`), else from the snapshots (age of the last
    snapshot)."""
    if batch:
        return [[w["worker"], w["host"], w["pid"], w["device"],
                 f"{w['state']} STALE" if w.get("stale") else w["state"],
                 f"{w['heartbeat_age']:.1f}", w.get("metrics", "")] for w in batch]
    now = time.time() if now is None else now
    return [[s.get("worker", ""), s.get("host", ""), s.get("pid", ""), s.get("device", ""),
             "running" if any(c.get("running") for c in s.get("crystals", {}).values())
             else "idle", f"{max(0.0, now - float(s.get('time', now))):.1f}",
             s.get("metrics_url", "")] for _, s in sorted(snaps.items())]


def alarm_rows(snaps: Snapshots) -> list[list[Any]]:
    return [[a["alarm"], a["crystal"], a["stage"], s.get("worker", ""), a["fired"],
             "ACTIVE" if a["active"] else "cleared"]
            for s in snaps.values() for a in s.get("alarms", [])]


def tables(snaps: Snapshots, batch: list[dict[str, Any]] | None = None
           ) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(title, columns, rows) of the three tables."""
    return [("Crystals x stages", STAGE_COLUMNS, stage_rows(snaps)),
            ("Workers", WORKER_COLUMNS, worker_rows(snaps, batch)),
            ("Alarms", ALARM_COLUMNS, alarm_rows(snaps))]


def plain(snaps: Snapshots, batch: list[dict[str, Any]] | None = None,
          title: str = "") -> str:
    """The tables as tab-separated lines under ``# title`` headers (one screen of the plain
    mode)."""
    out = [f"== {title} {time.strftime('%H:%M:%S')}"] if title else []
    for name, columns, rows in tables(snaps, batch):
        if name == "Alarms" and not rows:
            continue
        out.append(f"# {name}")
        out.append("\t".join(columns))
        out += ["\t".join(str(v) for v in r) for r in rows]
    return "\n".join(out) + "\n"


def rich_view(snaps: Snapshots, batch: list[dict[str, Any]] | None = None,
              title: str = "") -> Any:
    """The tables as a rich renderable (for ``Live``); active alarms in red."""
    from rich.console import Group
    from rich.table import Table

    parts = []
    for name, columns, rows in tables(snaps, batch):
        table = Table(title=f"{title}: {name}" if title and not parts else name)
        for col in columns:
            table.add_column(col, justify="right" if col in (
                "events", "of", "events/s", "queue", "errors", "busy s") else "left")
        for r in rows:
            style = None
            if name == "Alarms" and r[-1] == "ACTIVE":
                style = "bold red"
            elif name == "Workers" and str(r[4]).endswith(" STALE"):
                style = "bold red"  # its heartbeat is late
            elif name == "Crystals x stages" and r[7] != 0:
                style = "yellow"  # the stage has errors
            table.add_row(*(str(v) for v in r), style=style)
        parts.append(table)
    return Group(*parts)

"""What ``gpsa batch status`` and ``gpsa batch report`` show, computed from one
:class:`~gpsa.central.workqueue.Snapshot` (two pipelined round trips, whatever the number of
workers).

A workload is ``pending`` (in the stream, not held: never delivered, or released), ``running``
(held by a worker whose heartbeat is fresh), ``stalled`` (held, idle past the lease: the next
claim reclaims it), ``done`` (committed) or ``failed`` (dead-lettered). The final step is
``waiting`` until every crystal workload is settled.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

from gpsa.central.workqueue import Snapshot, stream_id
from gpsa.central.workscripts import RELEASED


def _time(entry_id: str) -> str:
    ms = stream_id(entry_id)[0]
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).isoformat(timespec="seconds")


def workload_rows(snap: Snapshot) -> list[dict[str, Any]]:
    """One row per workload, final step last."""
    lease_ms = int(snap.meta["lease_ms"])
    dead = {d["workload"]: d for d in snap.dead}
    rows = []
    for entry, f in snap.entries:
        wl = f["workload"]
        row: dict[str, Any] = {"workload": wl, "kind": f["kind"], "state": "pending",
                               "deliveries": 0, "worker": "", "events": None, "rate": None,
                               "error": snap.errors.get(wl, "")}
        p = snap.pending.get(entry)
        if wl in snap.done:
            rec = snap.done[wl]
            row.update(state="done", deliveries=rec.get("deliveries", 0),
                       worker=rec.get("worker", ""), events=rec.get("events"),
                       rate=rec.get("rate"))
        elif wl in dead:
            d = dead[wl]
            row.update(state="failed", deliveries=int(d["deliveries"]), worker=d["worker"],
                       error=f"{d['reason']}: {d['error']}")
        elif p is not None:
            row["deliveries"] = p["deliveries"]
            if p["consumer"] == RELEASED:
                row["state"] = "pending"
            else:
                row.update(worker=p["consumer"],
                           state="stalled" if p["idle_ms"] >= lease_ms else "running")
                w = snap.workers.get(p["consumer"], {})
                if w.get("entry") == entry:
                    row.update(events=int(w.get("events") or 0), rate=float(w.get("rate") or 0))
        rows.append(row)
    if not any(r["kind"] == "final" for r in rows):
        settled = sum(r["state"] in ("done", "failed") for r in rows)
        rows.append({"workload": "_final", "kind": "final", "state": "waiting",
                     "deliveries": 0, "worker": "", "events": None, "rate": None,
                     "error": f"{settled} of {len(rows)} crystal workloads settled"})
    return rows


def worker_rows(snap: Snapshot) -> list[dict[str, Any]]:
    """One row per registered worker (registrations expire when heartbeats stop)."""
    return [{"worker": w, "host": f.get("host", ""), "pid": int(f.get("pid") or 0),
             "device": f.get("device", ""), "state": f.get("state", ""),
             "heartbeat_age": round(f["heartbeat_age"], 1), "workload": f.get("workload", ""),
             "events": int(f.get("events") or 0), "rate": float(f.get("rate") or 0),
             "done": int(f.get("done") or 0), "failed": int(f.get("failed") or 0)}
            for w, f in sorted(snap.workers.items())]


def status(snap: Snapshot) -> dict[str, Any]:
    rows = workload_rows(snap)
    return {"run": snap.run, "state": snap.meta.get("state"),
            "lease_seconds": int(snap.meta["lease_ms"]) / 1000,
            "max_reassign": int(snap.meta["max_reassign"]),
            "counts": dict(Counter(r["state"] for r in rows if r["kind"] == "crystal")),
            "workloads": rows, "workers": worker_rows(snap),
            "round_trips": snap.round_trips, "seconds": round(snap.seconds, 4)}


def report(snap: Snapshot) -> dict[str, Any]:
    """Failed workloads by reason and worker, reassignments, refused commits (needs a snapshot
    taken with ``events=True``)."""
    rows = workload_rows(snap)
    dead = [{"workload": d["workload"], "reason": d["reason"], "error": d["error"],
             "deliveries": int(d["deliveries"]), "worker": d["worker"], "time": _time(d["id"])}
            for d in snap.dead]
    by_worker: dict[str, Counter[str]] = {}
    reassign = []
    for e in snap.events:
        kind, who = e["ev"], e["worker"]
        if kind == "failed":
            by_worker.setdefault(who, Counter())["failed"] += 1
        elif kind == "reclaimed":
            by_worker.setdefault(e["previous"], Counter())["lease expired"] += 1
        elif kind == "refused":
            by_worker.setdefault(who, Counter())["commit refused"] += 1
        elif kind == "released":
            by_worker.setdefault(who, Counter())["released"] += 1
        if kind in ("reclaimed", "taken"):
            reassign.append({"workload": e["workload"], "time": _time(e["id"]),
                             "from": e["previous"], "to": who, "how": kind,
                             "delivery": int(e["deliveries"]), "detail": e["detail"]})
    final = snap.done.get("_final", {})
    return {"run": snap.run, "state": snap.meta.get("state"),
            "counts": dict(Counter(r["state"] for r in rows if r["kind"] == "crystal")),
            "flushed": final.get("flushed"), "missing": final.get("missing"),
            "dead_letters": dead,
            "failures_by_reason": dict(Counter(d["reason"] for d in dead)),
            "failures_by_worker": {w: dict(c) for w, c in sorted(by_worker.items())},
            "reassignments": reassign,
            "commits": sum(e["ev"] == "commit" for e in snap.events),
            "refused_commits": sum(e["ev"] == "refused" for e in snap.events)}


def text_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with aligned columns (for a file to mail or post)."""
    cells = [[str(c) for c in columns]] + [["" if v is None else str(v) for v in r]
                                           for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [title, "-" * len(title)]
    for i, r in enumerate(cells):
        lines.append("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    if not rows:
        lines.append("(none)")
    return "\n".join(lines) + "\n"


def report_tables(rep: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The report as (title, columns, rows) tables."""
    return [
        ("Dead letters", ["workload", "reason", "deliveries", "last worker", "time", "error"],
         [[d["workload"], d["reason"], d["deliveries"], d["worker"], d["time"], d["error"]]
          for d in rep["dead_letters"]]),
        ("Failures by reason", ["reason", "workloads"],
         [[k, v] for k, v in rep["failures_by_reason"].items()]),
        ("Failures by worker", ["worker", "failed", "lease expired", "commit refused",
                                "released"],
         [[w, c.get("failed", 0), c.get("lease expired", 0), c.get("commit refused", 0),
           c.get("released", 0)] for w, c in rep["failures_by_worker"].items()]),
        ("Reassignments", ["workload", "time", "from", "to", "how", "delivery", "detail"],
         [[r["workload"], r["time"], r["from"], r["to"], r["how"], r["delivery"], r["detail"]]
          for r in rep["reassignments"]]),
    ]


def report_text(rep: dict[str, Any]) -> str:
    """The whole report as plain text."""
    counts = ", ".join(f"{v} {k}" for k, v in sorted(rep["counts"].items()))
    head = [f"gpsa batch report: run {rep['run']} ({rep['state']})", f"crystals: {counts}",
            f"commits {rep['commits']}, refused commits {rep['refused_commits']}"]
    if rep["flushed"]:
        head.append(f"final step flushed without: {', '.join(rep['missing'])}")
    return "\n".join(head) + "\n\n" + "\n".join(text_table(*t) for t in report_tables(rep))

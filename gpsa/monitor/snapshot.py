"""Snapshots: the small JSON record of one process's metrics that is published every
``monitor_interval`` seconds, checked by the alarms and shown by ``gpsa monitor``.

Built from prometheus samples (an :class:`~gpsa.monitor.observe.Observer`'s, or a scraped
``/metrics`` page), so the live monitor reads a remote process exactly as the process reads
itself::

    {"v": 1, "run": "out", "worker": "main", "host": "h", "pid": 7, "time": 1700000000.0,
     "metrics_url": "http://h:9108/metrics",
     "crystals": {"00A": {"running": 1, "expected": 5000, "stages": {"sim": {
         "events": 3000, "blocks": 60, "bytes": 9120000, "busy_seconds": 1.2, "errors": 0,
         "queue": 2, "rate": 1010.0, "error_rate": 0.0}}}},
     "process": {"cpu_seconds": 3.1, "rss_bytes": 2.1e8, "heartbeat_age": 0.4},
     "gpus": [{"gpu": "0", "utilization": 0.93, "memory_used_bytes": 1.1e9}],
     "alarms": [{"alarm": "slow", "crystal": "00A", "stage": "sim", "active": true, ...}]}

``process.heartbeat_age`` (seconds since the last heartbeat) is only in a batch worker's
snapshots. ``rate`` and ``error_rate`` are per second over the last :data:`WINDOW` seconds
(:class:`RateTracker`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from typing import Any

#: seconds over which rates are computed
WINDOW = 5.0
_STAGE_FIELDS = {"gpsa_events_total": "events", "gpsa_blocks_total": "blocks",
                 "gpsa_bytes_total": "bytes", "gpsa_busy_seconds_total": "busy_seconds",
                 "gpsa_errors_total": "errors", "gpsa_queue_depth": "queue",
                 "gpsa_block_seconds_sum": "block_seconds_sum",
                 "gpsa_block_seconds_count": "block_seconds_count"}
_CRYSTAL_FIELDS = {"gpsa_crystal_running": "running", "gpsa_events_expected": "expected"}
_PROCESS_FIELDS = {"gpsa_process_cpu_seconds_total": "cpu_seconds",
                   "gpsa_process_resident_memory_bytes": "rss_bytes",
                   "gpsa_heartbeat_age_seconds": "heartbeat_age"}
_GPU_FIELDS = {"gpsa_gpu_utilization_ratio": "utilization",
               "gpsa_gpu_memory_used_bytes": "memory_used_bytes",
               "gpsa_gpu_memory_total_bytes": "memory_total_bytes"}

Sample = tuple[str, dict[str, str], float]


def _number(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(float(v), 6)


def build_snapshot(samples: Iterable[Sample], **head: Any) -> dict[str, Any]:
    """A snapshot (without rates) from prometheus samples; ``head`` (run, worker, host, pid,
    metrics_url, ...) goes in front, ``time`` defaults to now."""
    snap: dict[str, Any] = {"v": 1, **head}
    snap.setdefault("time", round(time.time(), 3))
    crystals: dict[str, Any] = {}
    gpus: dict[str, dict[str, Any]] = {}
    process: dict[str, Any] = {}
    alarms: dict[tuple[str, str, str], dict[str, Any]] = {}
    for name, labels, value in samples:
        crystal, stage = labels.get("crystal", ""), labels.get("stage", "")
        if name in _STAGE_FIELDS and crystal:
            c = crystals.setdefault(crystal, {"running": 0, "expected": 0, "stages": {}})
            c["stages"].setdefault(stage, {})[_STAGE_FIELDS[name]] = _number(value)
        elif name in _CRYSTAL_FIELDS and crystal:
            c = crystals.setdefault(crystal, {"running": 0, "expected": 0, "stages": {}})
            c[_CRYSTAL_FIELDS[name]] = _number(value)
        elif name in _PROCESS_FIELDS:
            process[_PROCESS_FIELDS[name]] = _number(value)
        elif name in _GPU_FIELDS:
            gpus.setdefault(labels.get("gpu", ""), {"gpu": labels.get("gpu", "")})[
                _GPU_FIELDS[name]] = _number(value)
        elif name in ("gpsa_alarms_total", "gpsa_alarm_active"):
            a = alarms.setdefault((labels.get("alarm", ""), crystal, stage), {
                "alarm": labels.get("alarm", ""), "crystal": crystal, "stage": stage,
                "fired": 0, "active": False})
            if name == "gpsa_alarms_total":
                a["fired"] = int(value)
            else:
                a["active"] = bool(value)
    snap.update(crystals=crystals, process=process, gpus=list(gpus.values()),
                alarms=list(alarms.values()))
    return snap


class RateTracker:
    """Adds ``rate`` and ``error_rate`` to each stage of successive snapshots of one process
    (differences over the last :data:`WINDOW` seconds)."""

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self.history: dict[tuple[str, str], deque[tuple[float, float, float]]] = {}

    def add(self, snap: dict[str, Any]) -> dict[str, Any]:
        now = float(snap["time"])
        for crystal, c in snap.get("crystals", {}).items():
            for stage, st in c["stages"].items():
                h = self.history.setdefault((crystal, stage), deque())
                h.append((now, float(st.get("events", 0)), float(st.get("errors", 0))))
                while len(h) > 2 and now - h[1][0] >= self.window:
                    h.popleft()
                t0, e0, f0 = h[0]
                dt = now - t0
                st["rate"] = round((h[-1][1] - e0) / dt, 3) if dt > 0 else 0.0
                st["error_rate"] = round((h[-1][2] - f0) / dt, 6) if dt > 0 else 0.0
        return snap


def parse_metrics_text(text: str) -> list[Sample]:
    """Samples of a ``/metrics`` page (Prometheus text format)."""
    from prometheus_client.parser import text_string_to_metric_families

    return [(s.name, dict(s.labels), float(s.value))
            for family in text_string_to_metric_families(text) for s in family.samples]


def merge(snapshots: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest snapshot of each worker (by ``worker``, then ``pid``)."""
    latest: dict[str, dict[str, Any]] = {}
    for snap in snapshots:
        key = f"{snap.get('worker', '')}@{snap.get('host', '')}:{snap.get('pid', '')}"
        if key not in latest or float(snap.get("time", 0)) >= float(latest[key].get("time", 0)):
            latest[key] = snap
    return latest

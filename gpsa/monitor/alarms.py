"""Alarms: the ``[[alarm]]`` thresholds (:mod:`gpsa.monitor.settings`) checked on each snapshot.

An alarm is checked per running crystal (``gpsa_crystal_running`` = 1; a crystal not started
yet or already done never fires a rate alarm). When its condition has held for ``for_seconds``
it **fires**: a log warning, ``gpsa_alarms_total{alarm, crystal, stage, worker}`` + 1,
``gpsa_alarm_active`` = 1 (the mark ``gpsa monitor`` shows), and an entry in :attr:`Alarms.log`
(the run summary's ``alarms``). When the condition no longer holds it clears (logged; the
entry gets ``cleared``); it may fire again later.

``heartbeat_age`` is the worker's, not a crystal's: a batch worker's
``gpsa_heartbeat_age_seconds`` (:mod:`gpsa.monitor.session`), checked for the crystal it runs
(so that a firing lands in that crystal's commit record), with no stage.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from gpsa.monitor.observe import Observer
from gpsa.monitor.settings import AlarmSpec

log = logging.getLogger(__name__)


def _iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).isoformat(timespec="seconds")


def measure(spec: AlarmSpec, crystal: dict[str, Any]) -> tuple[str, float] | None:
    """(stage, value) of ``spec``'s metric in one crystal of a snapshot; None when the stage
    it names is not (yet) there."""
    stages: dict[str, dict[str, Any]] = crystal.get("stages", {})
    if spec.stage:
        if spec.stage not in stages:
            return None
        chosen = {spec.stage: stages[spec.stage]}
    else:
        chosen = stages
    if not chosen:
        return None
    if spec.metric == "rate":
        stage = spec.stage or next(iter(chosen))
        return stage, float(chosen[stage].get("rate", 0.0))
    if spec.metric == "queue_depth":
        stage = max(chosen, key=lambda s: chosen[s].get("queue", 0))
        return stage, float(chosen[stage].get("queue", 0))
    if spec.metric == "errors":
        return spec.stage, float(sum(s.get("errors", 0) for s in chosen.values()))
    if spec.metric == "error_rate":
        return spec.stage, float(sum(s.get("error_rate", 0.0) for s in chosen.values()))
    return None  # a gpsa_ metric name: see Alarms.check


class Alarms:
    """The alarms of one process; :meth:`check` is called with each snapshot (with rates).
    ``on_fire(entry)`` is called for each alarm that fires (e.g. to send it to a parent)."""

    def __init__(self, specs: list[AlarmSpec], observer: Observer,
                 on_fire: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.specs, self.observer, self.on_fire = specs, observer, on_fire
        self.log: list[dict[str, Any]] = []
        self._since: dict[tuple[str, str], float] = {}  # (alarm, crystal) -> condition true since
        self._open: dict[tuple[str, str], dict[str, Any]] = {}  # fired, not cleared
        self._lock = threading.Lock()
        labels = ("alarm",)
        self.total = observer.labelled("counter", "gpsa_alarms_total", "alarms fired", labels)
        self.active = observer.labelled("gauge", "gpsa_alarm_active",
                                        "1 while the alarm's condition holds, after it fired",
                                        labels)

    def _value(self, spec: AlarmSpec, crystal: str, c: dict[str, Any],
               samples: list[tuple[str, dict[str, str], float]],
               process: dict[str, Any]) -> tuple[str, float] | None:
        if spec.metric == "heartbeat_age":
            age = process.get("heartbeat_age")
            return None if age is None else ("", float(age))
        if not spec.metric.startswith("gpsa_"):
            return measure(spec, c)
        found = [v for n, lab, v in samples if n == spec.metric and lab.get("crystal") == crystal
                 and (not spec.stage or lab.get("stage") == spec.stage)]
        return (spec.stage, float(sum(found))) if found else None

    def check(self, snap: dict[str, Any],
              samples: list[tuple[str, dict[str, str], float]] | None = None) -> None:
        """Check every alarm on ``snap`` (``samples``: the raw ones, for gpsa_ metric names)."""
        now = float(snap["time"])
        with self._lock:
            for spec in self.specs:
                for crystal, c in snap.get("crystals", {}).items():
                    if spec.crystal and crystal != spec.crystal:
                        continue
                    key = (spec.name, crystal)
                    got = self._value(spec, crystal, c, samples or [],
                                      snap.get("process", {})) if c.get("running") else None
                    holds = got is not None and (got[1] < spec.value if spec.condition == "below"
                                                 else got[1] > spec.value)
                    if not holds:
                        self._since.pop(key, None)
                        if key in self._open:
                            self._clear(key, now)
                        continue
                    since = self._since.setdefault(key, now)
                    if key not in self._open and now - since >= spec.for_seconds:
                        assert got is not None
                        self._fire(spec, crystal, got[0], got[1], since, now)

    def _fire(self, spec: AlarmSpec, crystal: str, stage: str, value: float, since: float,
              now: float) -> None:
        worker = self.observer.worker
        entry = {"alarm": spec.name, "metric": spec.metric, "condition": spec.condition,
                 "threshold": spec.value, "value": round(value, 6), "crystal": crystal,
                 "stage": stage, "worker": worker, "for_seconds": spec.for_seconds,
                 "since": _iso(since), "fired": _iso(now), "cleared": None}
        self.total.labels(crystal, stage, worker, spec.name).inc()
        self.active.labels(crystal, stage, worker, spec.name).set(1)
        self._open[(spec.name, crystal)] = entry
        self.log.append(entry)
        log.warning("alarm %s: crystal %s%s: %s = %g is %s %g for %g s", spec.name, crystal,
                    f" stage {stage}" if stage else "", spec.metric, value, spec.condition,
                    spec.value, now - since)
        if self.on_fire is not None:
            try:
                self.on_fire(dict(entry))
            except Exception:  # noqa: BLE001 - an alarm's delivery never stops the run
                log.exception("alarm %s: could not be passed on", spec.name)

    def _clear(self, key: tuple[str, str], now: float) -> None:
        entry = self._open.pop(key)
        entry["cleared"] = _iso(now)
        self.active.labels(entry["crystal"], entry["stage"], entry["worker"],
                           entry["alarm"]).set(0)
        log.info("alarm %s: crystal %s: cleared", entry["alarm"], entry["crystal"])

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self.log]

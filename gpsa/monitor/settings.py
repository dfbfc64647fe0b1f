"""The run file's monitoring settings: ``[run] metrics_port``, ``monitor_interval``,
``run_name`` (declared on :class:`gpsa.config.resolve.RunSettings`) and the ``[[alarm]]`` tables
(:class:`AlarmSettings`), checked before any data is read::

    [[alarm]]
    name = "slow-input"        # default: METRIC-CONDITION-VALUE
    metric = "rate"            # see METRICS, or any gpsa_ metric name
    condition = "below"        # below | above
    value = 500.0              # events/s, blocks, errors, errors/s, seconds, or the metric's unit
    for_seconds = 10.0         # the condition must hold this long (default 0)
    crystal = "00A"            # only this crystal (default: every crystal)
    stage = "psa"              # only this stage (default: see METRICS)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gpsa.config.files import Layer
from gpsa.config.params import Configurable, Param, _suggest
from gpsa.errors import ConfigError

#: built-in alarm metrics: what each measures, and over which stages by default
METRICS = {
    "rate": "events/s through a stage over the last 5 s (default stage: the producer)",
    "queue_depth": "blocks waiting in front of a stage (default: the deepest queue)",
    "errors": "failures of the crystal's stages so far (default: all stages)",
    "error_rate": "failures per second over the last 5 s (default: all stages)",
    "heartbeat_age": "seconds since a batch worker's last heartbeat taken by the Central Memory "
                     "(checked for the crystal it runs; never fires outside a batch worker)",
}
_NAME_OK = re.compile(r"[^A-Za-z0-9_.-]")


class AlarmSettings(Configurable):
    """An ``[[alarm]]`` table."""

    name = Param(str, "", "alarm name, the `alarm` label of gpsa_alarms_total (default: "
                 "METRIC-CONDITION-VALUE)")
    metric = Param(str, "", "rate | queue_depth | errors | error_rate | heartbeat_age (seconds "
                   "since a batch worker's last heartbeat), or a gpsa_ metric name "
                   "(its value summed over the crystal's stages)")
    condition = Param(str, "below", "fire when the metric is below or above the value",
                      choices=("below", "above"))
    value = Param(float, 0.0, "threshold")
    for_seconds = Param(float, 0.0, "seconds the condition must hold before the alarm fires",
                        min=0.0)
    crystal = Param(str, "", "only this crystal (default: each crystal)")
    stage = Param(str, "", "only this stage (default: see the metric)")


@dataclass(frozen=True)
class AlarmSpec:
    """A checked ``[[alarm]]`` table."""

    name: str
    metric: str
    condition: str
    value: float
    for_seconds: float = 0.0
    crystal: str = ""
    stage: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "metric": self.metric, "condition": self.condition,
                "value": self.value, "for_seconds": self.for_seconds, "crystal": self.crystal,
                "stage": self.stage}


@dataclass
class MonitorConfig:
    """What a process of the run publishes and watches (see docs/monitoring.md)."""

    #: /metrics port (0: off); parallel workers add their index, batch workers take any free one
    metrics_port: int = 0
    #: seconds between snapshots (Central Memory, alarms); 0: no snapshots
    interval: float = 1.0
    #: the run's name in the Central Memory keys gpsa:{NAME}:monitor[:history]
    run_name: str = "run"
    alarms: list[AlarmSpec] = field(default_factory=list)


def clean_name(name: str) -> str:
    """``name`` usable in a Redis key (letters, digits, '.', '_', '-'; at most 64)."""
    return _NAME_OK.sub("-", name)[:64] or "run"


def parse_alarms(layers: list[Layer]) -> list[AlarmSpec]:
    """Check the ``[[alarm]]`` tables as read (:class:`gpsa.config.files.Layer`); an unknown
    key raises ConfigError naming its file and line, a bad value naming the alarm and key."""
    params = AlarmSettings.params()
    specs = []
    for layer in layers:
        values, where = layer.values, layer.source
        for key in values:
            if key not in params:
                raise ConfigError(f"{layer.where(key)}: {where}: unknown key {key!r}"
                                  f"{_suggest(key, params)}")
        checked = AlarmSettings.check_config(values, where)
        metric = checked["metric"]
        if not metric:
            raise ConfigError(f"{where}: missing key 'metric' ({', '.join(METRICS)}, or a "
                              "gpsa_ metric name)")
        if metric not in METRICS and not re.match(r"^gpsa_[a-z0-9_]+$", metric):
            raise ConfigError(f"{where}.metric: unknown metric {metric!r} (built-in: "
                              f"{', '.join(METRICS)}; or a gpsa_ metric name)")
        name = checked["name"] or f"{metric}-{checked['condition']}-{checked['value']:g}"
        specs.append(AlarmSpec(name=clean_name(name), metric=metric,
                               condition=checked["condition"], value=checked["value"],
                               for_seconds=checked["for_seconds"], crystal=checked["crystal"],
                               stage=checked["stage"]))
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"[[alarm]]: name {dup[0]!r} used twice; give each alarm a distinct "
                          "'name'")
    return specs

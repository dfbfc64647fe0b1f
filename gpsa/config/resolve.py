"""Checking a run configuration against the registered actors, before any data is read.

:func:`resolve_config` reads the file or folder (:mod:`gpsa.config.files`), applies the command
line (``--crystal``, ``--out``, ``--device``, ``--psa``), merges each crystal's overrides and
checks every stage's settings against the parameters its actor declares: an unknown key, a
wrong type or value, a missing input file (basis, calibration) or a bad chain shape raises
:class:`gpsa.errors.ConfigError` naming the file, stage and key. The result holds only checked
values; :meth:`CrystalConfig.build` turns it into configured actors.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpsa.config.files import Layer, RawConfig, read_config, where_in
from gpsa.config.params import Configurable, Param, _suggest
from gpsa.device import device_problem
from gpsa.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - gpsa.runtime.actor imports gpsa.config
    from gpsa.config.global_stages import GlobalConfig
    from gpsa.monitor.settings import MonitorConfig
    from gpsa.runtime.actor import Actor

STAGE_KEYS = ("actor", "name", "workers")


def _unique(items: list[Any]) -> str | None:
    dup = sorted({x for x in items if items.count(x) > 1})
    return f"device {dup[0]} is listed twice" if dup else None


class RunSettings(Configurable):
    """The ``[run]`` table."""

    crystals = Param(list[str], [], "crystals to run (default: every crystal with overrides)")
    output = Param(Path, Path("out"), "output root; each crystal writes to OUTPUT/<crystal>/ "
                   "(relative to the run file)")
    device = Param(str, "cpu", "compute device: cpu, cuda (spread over `gpus`), cuda:N (device N) "
                   "or auto (CUDA when usable)", validate=device_problem)
    gpus = Param(list[int], [], "CUDA devices that the crystals of a parallel run and the batch "
                 "workers of a host spread over, round-robin, with device cuda or auto "
                 "(default: every visible device)", min=0, validate=_unique)
    queue_size = Param(int, 4, "blocks held between two stages (bounds memory)", min=1)
    redis = Param(str, "", "Central Memory URL (redis://, rediss://, unix://); overridden by "
                  "--redis and GPSA_REDIS_URL; empty: the local server of `gpsa redis start`, "
                  "else one embedded in the output folder")
    stop_timeout = Param(float, 5.0, "seconds from Ctrl-C or SIGTERM to the exit: blocks in "
                         "flight are finished for this long less 1 s, then abandoned (outputs "
                         "stay .partial)", min=0.1)
    metrics_port = Param(int, 0, "Prometheus /metrics port of the run's process (0: off); "
                         "parallel-mode worker i serves on metrics_port + i, batch workers on "
                         "a free port they announce (docs/monitoring.md)", min=0, max=65535)
    monitor_interval = Param(float, 1.0, "seconds between the monitoring snapshots published "
                             "to the Central Memory and between alarm checks (0: none)",
                             min=0.0)
    run_name = Param(str, "", "the run's name in the Central Memory's monitoring keys "
                     "gpsa:{NAME}:monitor (default: the output folder's name; batch runs: the "
                     "batch run's name)")


@dataclass
class StageConfig:
    """One checked stage: actor name and kind, thread count and checked settings."""

    name: str
    actor: str
    kind: str
    workers: int
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "actor": self.actor, "kind": self.kind,
                "workers": self.workers, "settings": _plain(self.settings)}


@dataclass
class CrystalConfig:
    """A checked chain for one crystal."""

    crystal: str
    stages: list[StageConfig]
    output_dir: Path
    config_dir: Path
    device: str
    queue_size: int
    source: str
    stop_timeout: float = 5.0
    #: ``[run] gpus``: the CUDA devices to spread over (empty: every visible one)
    gpus: list[int] = field(default_factory=list)
    #: the Central Memory URL for stream actors ("" = none given)
    redis: str = ""
    #: metrics port, snapshot interval, run name and alarms (not part of :meth:`to_dict`:
    #: monitoring never changes what a run computes)
    monitor: MonitorConfig = field(default_factory=lambda: _monitor_config())

    def build(self) -> list[Actor]:
        """Configured (not started) actors, in chain order."""
        from gpsa.plugins.catalogue import get_catalogue

        cat = get_catalogue()
        actors = []
        for st in self.stages:
            actor = cat.actor(st.actor)(**st.settings)
            actor.label = st.name
            actors.append(actor)
        return actors

    @property
    def workers(self) -> dict[str, int]:
        return {st.name: st.workers for st in self.stages if st.kind == "filter"}

    def to_dict(self) -> dict[str, Any]:
        return {"crystal": self.crystal, "source": self.source, "device": self.device,
                "gpus": list(self.gpus), "queue_size": self.queue_size,
                "stop_timeout": self.stop_timeout,
                "redis": _safe(self.redis),
                "output_dir": str(self.output_dir),
                "config_dir": str(self.config_dir),
                "stages": [st.to_dict() for st in self.stages]}


@dataclass
class RunConfig:
    source: Path
    settings: dict[str, Any]
    crystals: dict[str, CrystalConfig] = field(default_factory=dict)
    #: the ``[[global]]`` chain (:mod:`gpsa.config.global_stages`), None when there is none
    global_chain: GlobalConfig | None = None


def _monitor_config(**kwargs: Any) -> MonitorConfig:
    from gpsa.monitor.settings import MonitorConfig

    return MonitorConfig(**kwargs)


def _safe(url: str) -> str:
    from gpsa.central.connection import safe_url

    return safe_url(url) if url else ""


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _subst(value: Any, crystal: str) -> Any:
    if isinstance(value, str):
        return value.replace("{crystal}", crystal)
    if isinstance(value, list):
        return [_subst(v, crystal) for v in value]
    return value


def _anchor(param: Param[Any] | None, value: Any, base: Path) -> Any:
    """Relative input paths resolved against the folder of the file that set them."""
    if param is None or param.kind != "input" or not (param.type is Path or param.item is Path):
        return value
    if isinstance(value, list):
        return [v if not isinstance(v, str) or Path(v).is_absolute() else str(base / v)
                for v in value]
    if isinstance(value, str) and not Path(value).expanduser().is_absolute():
        return str(base / value)
    return value


def resolve_config(path: Path | str, *, crystals: list[str] | None = None,
                   output: Path | str | None = None, device: str | None = None,
                   psa: str | None = None, stop_timeout: float | None = None) -> RunConfig:
    """Read and check a run configuration; see the module docstring."""
    from gpsa.plugins.catalogue import get_catalogue

    raw = read_config(path)
    run_raw = dict(raw.run)
    if device is not None:
        run_raw["device"] = device
    if stop_timeout is not None:
        run_raw["stop_timeout"] = stop_timeout
    run_params = RunSettings.params()
    for key in raw.run:
        if key not in run_params:
            raise ConfigError(f"{where_in(raw.source, ('run', key))}: [run]: unknown key "
                              f"{key!r}{_suggest(key, run_params)}")
    run = RunSettings.check_config(run_raw, f"{raw.source}: [run]")
    out_root = Path(output) if output is not None else run["output"]
    if not out_root.is_absolute():
        out_root = (Path.cwd() if output is not None else raw.base_dir) / out_root
    names = list(run["crystals"]) or sorted(raw.overrides)
    if not names:
        raise ConfigError(f"{raw.source}: no crystals: list them in [run] crystals = [...] or "
                          "add [crystal.<name>] sections")
    unknown = sorted(set(raw.overrides) - set(names))
    if run["crystals"] and unknown:
        raise ConfigError(f"{raw.source}: overrides for crystal {unknown[0]!r} which is not in "
                          f"[run] crystals ({', '.join(names)})")
    if crystals:
        missing = [c for c in crystals if c not in names]
        if missing:
            raise ConfigError(f"--crystal {missing[0]}: not in the configuration "
                              f"(crystals: {', '.join(names)})")
        names = list(crystals)
    from gpsa.monitor.settings import clean_name, parse_alarms

    monitor = _monitor_config(metrics_port=run["metrics_port"], interval=run["monitor_interval"],
                              run_name=clean_name(run["run_name"] or out_root.name),
                              alarms=parse_alarms(raw.alarms))
    cat = get_catalogue()
    result = RunConfig(source=raw.source, settings=_plain(run | {"output": out_root}))
    # first the keys of every crystal (with file and line), then the values
    merged = {crystal: [_merge_stage(raw, layer, crystal, psa, cat) for layer in raw.stages]
              for crystal in names}
    for crystal in names:
        per_stage = raw.overrides.get(crystal, {})
        stage_names = [m.name for m in merged[crystal]]
        extra = sorted(set(per_stage) - set(stage_names))
        if extra and len(set(stage_names)) == len(stage_names):
            first = per_stage[extra[0]][0]
            raise ConfigError(f"{first.where(None)}: crystal {crystal}: overrides for unknown "
                              f"stage {extra[0]!r} (stages: {', '.join(stage_names)})")
    for crystal in names:
        stages = [_check_stage(m) for m in merged[crystal]]
        _check_shape(raw, stages, psa)
        result.crystals[crystal] = CrystalConfig(
            crystal=crystal, stages=stages, output_dir=out_root / crystal,
            config_dir=raw.base_dir, device=run["device"], queue_size=run["queue_size"],
            source=str(raw.source), stop_timeout=run["stop_timeout"], redis=run["redis"],
            gpus=list(run["gpus"]), monitor=monitor)
    if raw.global_stages:
        from gpsa.config.global_stages import resolve_global

        result.global_chain = resolve_global(raw, result.crystals, out_root, run["device"], cat)
    return result


@dataclass
class _Merged:
    """One stage's layers merged for a crystal, its unknown keys already refused."""

    name: str
    actor: str
    cls: Any
    values: dict[str, Any]
    workers: Any
    where: str


def _merge_stage(raw: RawConfig, layer: Layer, crystal: str, psa: str | None,
                 cat: Any) -> _Merged:
    """Merge a stage's table with the crystal's overrides; an unknown key raises naming the
    file and line that set it (before any value is checked, in every stage)."""
    values = layer.values
    if "actor" not in values:
        raise ConfigError(f"{layer.source}: missing key 'actor'")
    actor_name = values["actor"]
    if not isinstance(actor_name, str):
        raise ConfigError(f"{layer.source}.actor: expected str, got {actor_name!r}")
    name = values.get("name", actor_name)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{layer.source}.name: expected a non-empty str, got {name!r}")
    cls = cat.actor(actor_name, f"{layer.source} ({name!r}).actor")
    layers = [layer] + raw.overrides.get(crystal, {}).get(name, [])
    merged: dict[str, Any] = {}
    origin: dict[str, Layer] = {}
    for lay in layers:
        for key, value in lay.values.items():
            if lay is not layer and key in ("actor", "name"):
                raise ConfigError(f"{lay.source}: {key!r} cannot be overridden per crystal")
            merged[key] = copy.deepcopy(value)
            origin[key] = lay
    workers = merged.pop("workers", 1)
    merged.pop("actor")
    merged.pop("name", None)
    if psa is not None and actor_name == "psa":
        merged["algorithm"] = psa
    merged = {k: _subst(v, crystal) for k, v in merged.items()}
    who = f"stage {name!r}" + (f" (crystal {crystal})" if len(layers) > 1 else "")
    params = cls.params_for(merged)
    for key, value in merged.items():
        if key not in params:
            raise ConfigError(f"{origin[key].where(key)}: {who}: unknown key {key!r}"
                              f"{_suggest(key, params)}")
        merged[key] = _anchor(params[key], value, origin.get(key, layer).base_dir)
    return _Merged(name, actor_name, cls, merged, workers, f"{raw.source}: {who}")


def _check_stage(m: _Merged) -> StageConfig:
    """Check the merged values of a stage (types, ranges, input files, workers)."""
    cls, workers, where = m.cls, m.workers, m.where
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"{where}.workers: expected an integer >= 1, got {workers!r}")
    if workers > 1 and not (cls.kind == "filter" and cls.thread_safe):
        raise ConfigError(f"{where}.workers: {workers} threads not allowed: actor "
                          f"{m.actor!r} is not a thread-safe filter")
    settings = cls.check_config(m.values, where)
    return StageConfig(name=m.name, actor=m.actor, kind=cls.kind, workers=workers,
                       settings=settings)


def _check_shape(raw: RawConfig, stages: list[StageConfig], psa: str | None) -> None:
    kinds = [st.kind for st in stages]
    src = raw.source
    if kinds[0] != "producer":
        raise ConfigError(f"{src}: stage {stages[0].name!r}: the first stage must be a producer, "
                          f"got a {kinds[0]}")
    if kinds[-1] != "consumer":
        raise ConfigError(f"{src}: stage {stages[-1].name!r}: the last stage must be a consumer, "
                          f"got a {kinds[-1]}")
    n_cons = len(kinds) - kinds.index("consumer")
    for st in stages[1:len(stages) - n_cons]:
        if st.kind != "filter":
            raise ConfigError(f"{src}: stage {st.name!r}: a {st.kind} cannot stand between the "
                              "producer and the consumers (filters only)")
    for st in stages[len(stages) - n_cons:]:
        if st.kind != "consumer":
            raise ConfigError(f"{src}: stage {st.name!r}: only consumers may follow a consumer")
    names = [st.name for st in stages]
    for n in names:
        if names.count(n) > 1:
            raise ConfigError(f"{src}: stage name {n!r} used twice; give each stage a distinct "
                              "'name'")
    if psa is not None and not any(st.actor == "psa" for st in stages):
        raise ConfigError(f"--psa {psa}: the chain has no 'psa' stage")

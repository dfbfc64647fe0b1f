"""The global chain of a run file: its ``[[global]]`` tables, checked like the crystal stages.

A run file declares the global chain after the per-crystal ``[[stage]]`` tables::

    [[global]]
    actor = "time-sorter"          # first: gets every crystal's data:psa blocks

    [[global]]
    actor = "event-builder"
    window = 10

    [[global]]
    actor = "ancillary-simulator"  # a producer: feeds the next global actor (the merger)
    events = 20000

    [[global]]
    actor = "event-merger"
    offset = 50

    [[global]]
    actor = "event-writer"         # consumers last; outputs go to OUTPUT/global/
    path = "events.adf"

**Shape** (one line naming the stage otherwise): the first stage is a global actor (it gets the
blocks of every crystal, ``source`` = the crystal's name; normally the time sorter); then
global actors and producers, each producer feeding the first global actor after it; then one
or more consumers and nothing after them. Stage names are unique; a stage takes ``actor``,
``name`` and its actor's settings (no ``workers``, no per-crystal overrides).

**Inputs**: the data:psa file that each crystal's chain writes, its first ``adf-writer``
stage's ``path`` in ``OUTPUT/<crystal>/``. A crystal chain without an ``adf-writer``, or one
that plainly carries traces only (an ``adf-reader`` of data:crystal frames or the
``simulator``, and no ``psa`` stage), is refused here, as is a crystal named ``global`` (the
global chain's folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpsa.config.files import Layer, RawConfig
from gpsa.config.params import _suggest
from gpsa.config.resolve import CrystalConfig, StageConfig, _anchor
from gpsa.errors import ConfigError

GLOBAL_STAGE_KEYS = ("actor", "name")
#: the folder of the global chain's outputs, under the run's output root
GLOBAL_FOLDER = "global"
#: producers whose blocks are traces (data:crystal) unless a psa stage follows
_TRACE_PRODUCERS = {"simulator": None, "adf-reader": "crystal"}


@dataclass
class GlobalConfig:
    """A checked global chain: its stages, where it writes and what it reads (the actors are
    built by :func:`gpsa.runtime.global_run.build_actors`)."""

    stages: list[StageConfig]
    output_dir: Path
    config_dir: Path
    device: str
    source: str
    #: crystal -> the data:psa file its chain writes (final name)
    inputs: dict[str, Path]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "device": self.device,
                "output_dir": str(self.output_dir), "config_dir": str(self.config_dir),
                "inputs": {c: str(p) for c, p in self.inputs.items()},
                "stages": [st.to_dict() for st in self.stages]}


def resolve_global(raw: RawConfig, crystals: dict[str, CrystalConfig], out_root: Path,
                   device: str, cat: Any) -> GlobalConfig | None:
    """The checked global chain of ``raw`` (None without ``[[global]]`` tables)."""
    if not raw.global_stages:
        return None
    stages = [_check_stage(layer, cat) for layer in raw.global_stages]
    _check_shape(str(raw.source), stages)
    if GLOBAL_FOLDER in crystals:
        raise ConfigError(f"{raw.source}: crystal {GLOBAL_FOLDER!r}: that name is the global "
                          f"chain's output folder ({out_root / GLOBAL_FOLDER}); rename it")
    inputs = {name: psa_file(raw.source, c) for name, c in crystals.items()}
    return GlobalConfig(stages=stages, output_dir=out_root / GLOBAL_FOLDER,
                        config_dir=raw.base_dir, device=device, source=str(raw.source),
                        inputs=inputs)


def psa_file(source: Path, cfg: CrystalConfig) -> Path:
    """The data:psa file of a crystal's chain (its first adf-writer's path), or ConfigError."""
    writer = next((st for st in cfg.stages if st.actor == "adf-writer"), None)
    where = f"{source}: crystal {cfg.crystal}"
    if writer is None:
        raise ConfigError(f"{where}: the global chain reads each crystal's data:psa file, but "
                          "this chain writes none (add an adf-writer stage)")
    producer = cfg.stages[0]
    traces = producer.actor in _TRACE_PRODUCERS and (
        _TRACE_PRODUCERS[producer.actor] in (None, producer.settings.get("frames")))
    if traces and not any(st.actor == "psa" for st in cfg.stages):
        raise ConfigError(f"{where}: stage {writer.name!r} writes the traces of "
                          f"{producer.name!r}, not data:psa (add a psa stage, or read data:psa "
                          "with frames = \"psa\") for the global chain")
    path = Path(str(writer.settings["path"]).replace("{crystal}", cfg.crystal))
    return path if path.is_absolute() else cfg.output_dir / path


def _check_stage(layer: Layer, cat: Any) -> StageConfig:
    values = dict(layer.values)
    if "actor" not in values:
        raise ConfigError(f"{layer.where(None)}: global stage {int(layer.table[-1]) + 1}: "
                          "missing key 'actor'")
    actor_name = values.pop("actor")
    if not isinstance(actor_name, str):
        raise ConfigError(f"{layer.where('actor')}: global stage: expected a str, got "
                          f"{actor_name!r}")
    name = values.pop("name", actor_name)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{layer.where('name')}: global stage: expected a non-empty str, got "
                          f"{name!r}")
    cls = cat.actor(actor_name, f"{layer.where('actor')}: global stage {name!r}")
    who = f"global stage {name!r}"
    params = cls.params_for(values)
    for key, value in values.items():
        if key not in params:
            extra = "" if key != "workers" else " (global stages run in one thread)"
            raise ConfigError(f"{layer.where(key)}: {who}: unknown key {key!r}"
                              f"{_suggest(key, params)}{extra}")
        values[key] = _anchor(params[key], value, layer.base_dir)
    settings = cls.check_config(values, f"{layer.where(None)}: {who}")
    return StageConfig(name=name, actor=actor_name, kind=cls.kind, workers=1,
                       settings=settings)


def _check_shape(src: str, stages: list[StageConfig]) -> None:
    first = stages[0]
    if first.kind != "global":
        raise ConfigError(f"{src}: global stage {first.name!r}: the first [[global]] stage must "
                          f"be a global actor (e.g. the time-sorter), got a {first.kind}")
    if stages[-1].kind != "consumer":
        raise ConfigError(f"{src}: global stage {stages[-1].name!r}: the last [[global]] stage "
                          f"must be a consumer, got a {stages[-1].kind}")
    n_cons = len(stages) - [st.kind for st in stages].index("consumer")
    middle = stages[1:len(stages) - n_cons]
    for i, st in enumerate(middle):
        if st.kind not in ("global", "producer"):
            raise ConfigError(f"{src}: global stage {st.name!r}: a {st.kind} cannot stand in "
                              "the global chain (global actors and producers, then consumers)")
        if st.kind == "producer" and not any(m.kind == "global" for m in middle[i + 1:]):
            raise ConfigError(f"{src}: global stage {st.name!r}: a producer feeds the next "
                              "global actor, and none follows it")
    for st in stages[len(stages) - n_cons:]:
        if st.kind != "consumer":
            raise ConfigError(f"{src}: global stage {st.name!r}: only consumers may follow a "
                              "consumer")
    names = [st.name for st in stages]
    for n in names:
        if names.count(n) > 1:
            raise ConfigError(f"{src}: global stage name {n!r} used twice; give each stage a "
                              "distinct 'name'")

"""Built-in plugin: the soft trigger — the ``trigger`` global actor (fast path), the
``trigger-gate`` filter (slow path) and the built-in conditions ``fold`` and ``energy-sum``.

The fast path carries one record per crystal event (timestamp, crystal, event number, DAQ core
energy; no traces), sorts and builds events and decides them
(:mod:`gpsa.globallevel.trigger`); the slow path keeps the traces and its ``trigger-gate``,
put before ``psa``, passes on only the accepted crystal events
(:mod:`gpsa.globallevel.trigger_gate`). They meet through decision files, the Central Memory or
memory (:mod:`gpsa.globallevel.trigger_io`). A local run::

    [[stage]]
    actor = "trigger-gate"          # before "psa"
    conditions = ["energy-sum"]     # all must hold: "fold", "energy-sum", a plugin's
    min_energy_kev = 500.0
    window = 10                     # ticks (100 ns)
    source = "file"                 # decisions from OUTPUT/trigger/<crystal>.npz

    gpsa trigger run.toml           # the fast path: writes the decisions
    gpsa run run.toml               # the slow path: PSA on the accepted events only

With ``source = "redis"`` both run at once: ``gpsa trigger`` publishes to
``gpsa:{RUN:CRYSTAL}:decisions`` as it decides and the gate waits for them (at most
``max_held_events`` held, ``decision_timeout`` seconds, then the ``late`` policy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from gpsa.config.params import Param
from gpsa.errors import ConfigError
from gpsa.globallevel.trigger_conditions import BUILTIN_CONDITIONS
from gpsa.globallevel.trigger_gate import LATE_POLICIES
from gpsa.globallevel.window import RULES
from gpsa.plugins.hookspecs import hookimpl
from gpsa.runtime.actor import Block, Filter, GlobalActor, RunContext

#: the settings that define the decision (the gate checks the decisions were made with them)
TRIGGER_KEYS = ("conditions", "min_fold", "min_energy_kev", "window", "rule")
SOURCES = ("file", "redis", "memory")


class _TriggerSettings:
    conditions = Param(list[str], ["fold"], "trigger conditions, all must hold: 'fold', "
                       "'energy-sum' or one a plugin registered (see `gpsa plugins`)")
    min_fold = Param(int, 2, "condition 'fold': distinct crystals an event needs (k)", min=0)
    min_energy_kev = Param(float, 0.0, "condition 'energy-sum': summed energy estimate an "
                           "event needs, keV (E)")
    window = Param(int, 10, "coincidence window of the trigger's events, ticks (10 = 100 ns)",
                   min=0)
    rule = Param(str, "fixed", "window rule: 'fixed' (from the event's first record) or "
                 "'sliding' (from the previous one)", choices=RULES)
    source = Param(str, "file", "where the decisions meet: 'file' (OUTPUT/<decisions>/"
                   "<crystal>.npz, written by `gpsa trigger`), 'redis' (the stream "
                   "gpsa:{RUN:CRYSTAL}:decisions) or 'memory' (one process)", choices=SOURCES)
    decisions = Param(str, "trigger", "source 'file': folder of the decision files, relative "
                      "to the output root")
    run = Param(str, "gpsa", "run name in the Central Memory keys (and memory boards)")
    redis = Param(str, "", "Redis URL for source 'redis' (default: the run's, GPSA_REDIS_URL)")

    def trigger_settings(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in TRIGGER_KEYS}

    def check(self, context: RunContext) -> list[str]:
        """The conditions are registered."""
        self.selected_conditions()
        return []

    def selected_conditions(self) -> list[Any]:
        from gpsa.plugins.catalogue import get_catalogue

        cat = get_catalogue()
        return [cat.trigger_condition(n, f"stage {getattr(self, 'label', '')!r}.conditions")
                for n in self.conditions]

    def redis_url(self, context: RunContext) -> str:
        from gpsa.central.connection import resolve_url

        url = resolve_url(self.redis or None, context.extra.get("redis_url") or None)
        if not url:
            raise ConfigError(f"stage {getattr(self, 'label', '')!r}: source 'redis' needs a "
                              "Redis URL (the stage's 'redis', [run] redis or GPSA_REDIS_URL)")
        return url


class TriggerGate(_TriggerSettings, Filter):
    """Passes on only the crystal events the soft trigger accepted (before PSA)."""

    name = "trigger-gate"
    max_held_events = Param(int, 10_000, "events held at most while their decision is not "
                            "known (about 15 kB each with traces); over it the gate waits", min=0)
    decision_timeout = Param(float, 10.0, "seconds an event may wait for its decision; then "
                             "the 'late' policy applies", min=0.0)
    late = Param(str, "accept", "events whose decision comes too late (or never): 'accept' "
                 "runs PSA anyway, 'reject' drops them; counted either way",
                 choices=LATE_POLICIES)

    def start(self, context: RunContext) -> None:
        from gpsa.globallevel.trigger_gate import Gate

        super().start(context)
        self.selected_conditions()
        self.client: Any = None
        self.gate = Gate(self._source(context), max_held_events=self.max_held_events,
                         decision_timeout=self.decision_timeout, late=self.late,
                         crystal=context.crystal, stop=context.stop_event.is_set)

    def _source(self, context: RunContext) -> Any:
        from gpsa.globallevel import trigger_io

        if self.source == "file":
            folder = Path(self.decisions)
            if not folder.is_absolute():
                folder = context.output_dir.parent / folder
            return trigger_io.FileSource(folder / f"{context.crystal}.npz",
                                         self.trigger_settings())
        if self.source == "memory":
            return trigger_io.board(self.run, context.crystal)
        from gpsa.central.connection import connect

        self.client = connect(self.redis_url(context))
        return trigger_io.RedisSource(self.client, self.run, context.crystal)

    def process(self, block: Block) -> Block | None:
        return _one(self.gate.push(block))

    def flush(self) -> Iterable[Block]:
        return self.gate.flush()

    def counters(self) -> dict[str, int]:
        gate = getattr(self, "gate", None)
        return {} if gate is None else gate.counters.as_dict()

    def stop(self) -> None:
        if getattr(self, "client", None) is not None:
            self.client.close()


def _one(blocks: list[Block]) -> Block | None:
    if not blocks:
        return None
    return blocks[0] if len(blocks) == 1 else type(blocks[0]).concat(blocks)


class TriggerActor(_TriggerSettings, GlobalActor):
    """Soft trigger, fast path: records of every crystal sorted, built, decided, published."""

    name = "trigger"
    inputs = Param(list[str], [], "input (crystal) names: the sorter waits for them and a "
                   "decision file is written for each")
    idle_ticks = Param(int, 0, "the sorter's data-time idle timeout, ticks (0: off; "
                       "`gpsa trigger` reads the input furthest behind, nothing is idle)", min=0)
    idle_seconds = Param(float, 0.0, "the sorter's wall-time idle timeout (0: off)", min=0.0)
    emit_rows = Param(int, 1024, "records in time order before the sorter passes them to the "
                      "trigger (smaller: decisions sooner, more calls)", min=1)

    def start(self, context: RunContext) -> None:
        from gpsa.globallevel.trigger import SoftTrigger
        from gpsa.globallevel.trigger_run import FastPath

        super().start(context)
        trigger = SoftTrigger(self.selected_conditions(), self.trigger_settings(),
                              window=self.window, rule=self.rule)
        self.fast = FastPath(trigger, self._sink(context), list(self.inputs),
                             idle_ticks=self.idle_ticks, idle_seconds=self.idle_seconds,
                             emit_rows=self.emit_rows)

    def _sink(self, context: RunContext) -> Any:
        from gpsa.globallevel import trigger_io

        settings = self.trigger_settings()
        if self.source == "file":
            return trigger_io.FileSink(self.decisions_folder(context), list(self.inputs),
                                       settings)
        if self.source == "memory":
            trigger_io.drop_boards(self.run)
            return trigger_io.MemorySink(self.run, list(self.inputs))
        from gpsa.central.connection import connect

        self.client = connect(self.redis_url(context))
        return trigger_io.RedisSink(self.client, self.run, list(self.inputs), settings)

    def decisions_folder(self, context: RunContext) -> Path:
        folder = Path(self.decisions)
        return folder if folder.is_absolute() else context.output_dir / folder

    def process(self, block: Block, source: str = "") -> Iterable[Block]:
        self.fast.push(source or "input", block)
        return ()

    def end_input(self, source: str) -> list[Block]:
        self.fast.end(source)
        return []

    def flush(self) -> Iterable[Block]:
        self.fast.close(True)
        return ()

    def report(self) -> dict[str, Any]:
        return self.fast.report()

    def counters(self) -> dict[str, int]:
        fast = getattr(self, "fast", None)
        return {} if fast is None else fast.trigger.counters.as_dict()

    def stop(self) -> None:
        if getattr(self, "client", None) is not None:
            self.client.close()


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(TriggerGate)
    register(TriggerActor)


@hookimpl
def gpsa_register_trigger_conditions(register: Callable[..., None]) -> None:
    for c in BUILTIN_CONDITIONS:
        register(c.name, c.func, params=c.params)

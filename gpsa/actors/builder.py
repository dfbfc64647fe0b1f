"""Built-in plugin: the ``event-builder`` and ``event-merger`` global actors.

The builder reads time-ordered crystal events (PsaBlock, all crystals mixed: the time sorter's
output) and emits :class:`gpsa.globallevel.events.BuiltEvents` (event:data:psa); the merger
reads those and ancillary frames (:class:`gpsa.adf.codecs.ranc.AncillaryFrames`, data:ranc1)
and emits :class:`gpsa.globallevel.events.MergedEvents` (event:data). Both wait for
coincidences across blocks and emit what is still open at :meth:`flush`. Settings of two
global stages (the run-file table that holds global stages belongs to the global run)::

    actor = "event-builder"
    window = 10            # ticks (100 ns), AGATA's "Window 10"
    rule = "fixed"         # or "sliding"
    min_fold = 1

    actor = "event-merger"
    window = 20            # |t_ancillary - offset - t_agata| <= window, ticks
    offset = 50            # the ancillary delay, ticks
    min_fold = 2           # AGATA and ancillary both present

Window rules, fold and MinFold: ``docs/global-level.md``; frame layouts: FORMATS.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gpsa.config.params import Param
from gpsa.globallevel.builder import EventBuilder
from gpsa.globallevel.merger import EventMerger
from gpsa.globallevel.window import RULES
from gpsa.plugins.hookspecs import hookimpl
from gpsa.runtime.actor import Block, GlobalActor, RunContext


def _out(value: Block | None) -> list[Block]:
    return [] if value is None else [value]


class EventBuilderActor(GlobalActor):
    """Groups time-ordered crystal events into AGATA events (coincidence window, MinFold)."""

    name = "event-builder"
    window = Param(int, 10, "coincidence window, timestamp ticks (10 = 100 ns)", min=0)
    rule = Param(str, "fixed", "window rule: 'fixed' (from the event's first hit) or 'sliding' "
                 "(from the previous hit)", choices=RULES)
    min_fold = Param(int, 1, "events with fewer distinct crystals are rejected (counted)",
                     min=0)

    def start(self, context: RunContext) -> None:
        super().start(context)
        self.builder = EventBuilder(self.window, self.rule, self.min_fold)

    def process(self, block: Block, source: str = "") -> Iterable[Block]:
        return _out(self.builder.push(block))

    def flush(self) -> Iterable[Block]:
        return _out(self.builder.flush())

    def counters(self) -> dict[str, int]:
        builder = getattr(self, "builder", None)
        return {} if builder is None else builder.counters.as_dict()


class EventMergerActor(GlobalActor):
    """Merges AGATA events with ancillary frames (window and offset, MinFold)."""

    name = "event-merger"
    window = Param(int, 20, "|t_ancillary - offset - t_agata| <= window joins them, ticks",
                   min=0)
    offset = Param(int, 0, "ancillary delay subtracted from its timestamps, ticks")
    min_fold = Param(int, 2, "inputs present per event (AGATA, ancillary) to pass it on: 2 = "
                     "both, 1 = any", min=0, max=2)
    max_lag = Param(int, 0, "decide without waiting for an input lagging more than this in "
                    "data time, ticks (0: always wait)", min=0)

    def start(self, context: RunContext) -> None:
        super().start(context)
        self.merger = EventMerger(self.window, self.offset, self.min_fold, self.max_lag)

    def process(self, block: Block, source: str = "") -> Iterable[Block]:
        return _out(self.merger.push(block))

    def flush(self) -> Iterable[Block]:
        return _out(self.merger.flush())

    def counters(self) -> dict[str, int]:
        merger = getattr(self, "merger", None)
        return {} if merger is None else merger.counters.as_dict()


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(EventBuilderActor)
    register(EventMergerActor)

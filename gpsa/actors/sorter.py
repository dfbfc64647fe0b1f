"""Built-in plugin: the ``time-sorter`` global actor — every crystal's blocks merged in time.

A k-way merge of the crystal streams (:mod:`gpsa.globallevel.sorter`): ``process(block,
source)`` takes one crystal's block and returns the blocks that can go out, all crystals mixed
in timestamp order (ties: crystal id, then arrival). An input that stays idle stops holding the
others back after ``idle_ticks`` of data time, or ``idle_seconds`` of wall time while the
others send (the clock is read at every call, whichever input it is for). Frames that come
after later ones went out are late: counted per crystal and passed on flagged
``STATUS_LATE``, or kept for :meth:`TimeSorterActor.side_blocks`. Settings of a global
stage, for example::

    actor = "time-sorter"
    inputs = ["00A", "00B", "00C"]   # wait for these from the start
    idle_ticks = 100000000          # 1 s of data time
    idle_seconds = 2.0
    late = "flag"                   # or "side"
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from gpsa.config.params import Param
from gpsa.globallevel.sorter import LATE_POLICIES, TimeSorter
from gpsa.plugins.hookspecs import hookimpl
from gpsa.runtime.actor import Block, GlobalActor, RunContext

log = logging.getLogger(__name__)


class TimeSorterActor(GlobalActor):
    """K-way time merge of the crystal streams (watermark, idle timeouts, late frames)."""

    name = "time-sorter"
    inputs = Param(list[str], [], "input (crystal) names to wait for from the start; empty: "
                   "learn them as their first blocks come (frames of an input that starts "
                   "after the others may then be late)")
    idle_ticks = Param(int, 100_000_000, "data-time idle timeout: an input this many 10 ns "
                       "ticks behind the time the others passed (the highest first timestamp "
                       "of a block received) stops holding them back; keep it above a block's "
                       "data time plus the delays (0: off)", min=0)
    idle_seconds = Param(float, 2.0, "wall-time idle timeout: an input that sent nothing for "
                         "this long while the others kept sending stops holding them back (a "
                         "pause of every input releases nobody; 0: off)", min=0)
    late = Param(str, "flag", "late frames: 'flag' passes them on with the STATUS_LATE bit, "
                 "'side' keeps them (flagged) for the side output", choices=LATE_POLICIES)
    gap_ticks = Param(int, 100_000_000, "count and log a gap where an input's timestamps jump "
                      "forward by more than this many ticks (0: off)", min=0)
    emit_rows = Param(int, 4096, "emit once this many frames are in order (1: at once; more "
                      "makes fewer, larger blocks)", min=1)

    #: Monotonic clock in seconds used for the wall-time timeout (replace before start() in
    #: tests).
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def start(self, context: RunContext) -> None:
        super().start(context)
        self.sorter = TimeSorter(self.inputs, idle_ticks=self.idle_ticks,
                                 idle_seconds=self.idle_seconds, late=self.late,
                                 gap_ticks=self.gap_ticks, emit_rows=self.emit_rows,
                                 clock=self.clock)

    def process(self, block: Block, source: str = "") -> Iterable[Block]:
        return self.sorter.push(source or "input", block)

    def end_input(self, source: str) -> list[Block]:
        """Input ``source`` ended (it no longer holds the others back); blocks now out."""
        return self.sorter.end(source)

    def side_blocks(self) -> list[Block]:
        """Late blocks kept apart since the last call (``late = "side"``), flagged."""
        return self.sorter.take_side()

    def flush(self) -> Iterable[Block]:
        out = self.sorter.flush()
        for line in self.sorter.counters.lines():
            log.info("time-sorter: %s", line)
        return out

    def report(self) -> dict[str, Any]:
        """The counters for the summary JSON (per input and in total)."""
        return self.sorter.counters.to_dict()

    def counters(self) -> dict[str, int]:
        sorter = getattr(self, "sorter", None)
        if sorter is None:
            return {}
        d = sorter.counters.to_dict()
        out: dict[str, int] = {k: d[k] for k in ("emitted", "late_flagged", "late_side",
                                                 "blocks_out", "pending")}
        out.update(d["totals"])
        for src, c in sorter.counters.inputs.items():
            for name, value in c.to_dict().items():
                if value or name in ("frames_in", "late"):
                    out[f"{name}.{src}"] = value
        return out


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(TimeSorterActor)

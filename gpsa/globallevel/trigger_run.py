"""The fast path: every crystal's records → time sorter → soft trigger → decisions published.

:class:`FastPath` joins a :class:`~gpsa.globallevel.sorter.TimeSorter` of record
:class:`~gpsa.globallevel.rows.Columns`, a :class:`~gpsa.globallevel.trigger.SoftTrigger` and a
decision sink (:mod:`gpsa.globallevel.trigger_io`): :meth:`FastPath.push` takes one crystal's
block (a CrystalBlock — only its key data and DAQ core energy are kept, the traces are dropped at
once —, a PsaBlock, or records), :meth:`FastPath.end` marks an input's end, :meth:`FastPath.close`
decides the rest and closes the sink. :func:`run_inputs` drives it over N block iterators,
always reading the input furthest behind in time (as :func:`gpsa.globallevel.sortinputs
.sort_files` does), so no input is ever idle and memory stays within about one block per input
plus the sorter's ``emit_rows``.

Memory of the fast path: the sorter holds the records not yet in order (28 bytes each), the
trigger one open event; a file sink keeps 4 bytes per accepted crystal event until the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from gpsa.detector.naming import crystal_name
from gpsa.globallevel.sorter import TimeSorter
from gpsa.globallevel.trigger import Decided, SoftTrigger, records_from_block
from gpsa.globallevel.trigger_io import DecisionSink

log = logging.getLogger(__name__)


class FastPath:
    """Sorter + trigger + sink (see the module docstring)."""

    def __init__(self, trigger: SoftTrigger, sink: DecisionSink, inputs: list[str], *,
                 idle_ticks: int = 0, idle_seconds: float = 0.0, emit_rows: int = 4096) -> None:
        self.trigger, self.sink = trigger, sink
        self.sorter = TimeSorter(inputs, idle_ticks=idle_ticks, idle_seconds=idle_seconds,
                                 emit_rows=emit_rows, gap_ticks=0)
        self.names: dict[int, str] = {}  # crystal id -> input name, learned from the blocks
        self.decided_blocks = 0

    def push(self, source: str, block: Any) -> None:
        rec = records_from_block(block)
        if len(rec):
            for cid in np.unique(rec.crystal_ids).tolist():
                self.names.setdefault(int(cid), source)
        self._decide(self.sorter.push(source, rec))

    def end(self, source: str) -> None:
        self._decide(self.sorter.end(source))

    def close(self, complete: bool = True) -> None:
        """Decide everything still waiting, publish it and close the sink."""
        self._decide(self.sorter.flush())
        self._publish(self.trigger.flush())
        self.sink.close(complete)

    def _decide(self, blocks: list[Any]) -> None:
        for rows in blocks:
            self._publish(self.trigger.push(rows))

    def _publish(self, decided: Decided | None) -> None:
        if decided is None:
            return
        self.decided_blocks += 1
        for cid, (accepted, through, n) in decided.per_crystal().items():
            name = self.names.get(cid) or crystal_name(cid)
            self.sink.publish(name, accepted, through, n)

    def report(self) -> dict[str, Any]:
        """Counters: the trigger's and the sorter's."""
        return {"trigger": self.trigger.counters.as_dict(),
                "sorter": self.sorter.counters.to_dict()}


def run_inputs(fast: FastPath, inputs: Mapping[str, Iterator[Any]], *,
               stop: Any = None) -> dict[str, Any]:
    """Feed every input's blocks to ``fast``, the input furthest behind first; close it.
    Returns the report plus ``seconds`` and ``records``; ``stop`` (an Event) ends early (the
    decisions then are published as incomplete)."""
    from gpsa.globallevel.sortinputs import furthest_behind

    t0 = time.perf_counter()
    records = 0
    complete = True
    recs = {name: (records_from_block(block) for block in it) for name, it in inputs.items()}
    for name, rec in furthest_behind(
            recs, lambda _, rec: int(rec.timestamps[-1]) if len(rec) else None):
        if stop is not None and stop.is_set():
            complete = False
            break
        if rec is None:
            fast.end(name)
            continue
        records += len(rec)
        fast.push(name, rec)
    fast.close(complete)
    out = fast.report()
    out.update(seconds=time.perf_counter() - t0, records=records, complete=complete)
    log.info("fast path: %d records in %.2f s, %s", records, out["seconds"], out["trigger"])
    return out

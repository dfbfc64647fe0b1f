"""The time sorter: a k-way merge of N timestamp-ordered inputs into one time-ordered stream.

Inputs push blocks (a :class:`gpsa.block.PsaBlock`, or any table of
:mod:`gpsa.globallevel.rows`). Each pushed block is checked and unwrapped
(:mod:`~gpsa.globallevel.streamcheck`), sorted if it came out of order, cut into its late
part (below the frontier, see :mod:`~gpsa.globallevel.watermark`) and the rest, which waits
as one *chunk*. When at least ``emit_rows`` waiting frames lie below the watermark level, they
go out as **one block**: one slice per chunk, one concatenation, one stable argsort of the
keys, one gather per column — a few numpy calls per emitted block, no loop over frames.

**Output contract.** The blocks returned by :meth:`TimeSorter.push`, :meth:`~TimeSorter.end`
and :meth:`~TimeSorter.flush` hold the frames of every input in
non-decreasing (unwrapped) timestamp order, ties broken by crystal id, then by arrival order
(the order of the pushes, then the order in the block). Late frames are the exception: with
``late = "flag"`` they come in blocks of their own, every frame flagged
:data:`~gpsa.globallevel.flags.STATUS_LATE`, placed where they arrived; with ``late = "side"``
they are flagged and kept for :meth:`~TimeSorter.take_side`. Frames keep their 48-bit
timestamps; nothing is dropped (``counters``: in = emitted + late + pending).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsa.errors import ConfigError
from gpsa.globallevel.flags import STATUS_LATE
from gpsa.globallevel.rows import RowOps, row_ops
from gpsa.globallevel.sortcounters import SorterCounters
from gpsa.globallevel.streamcheck import SorterError, StreamCheck
from gpsa.globallevel.watermark import EVERYTHING, Watermark

log = logging.getLogger(__name__)

LATE_POLICIES = ("flag", "side")


@dataclass
class _Chunk:
    """The waiting rows ``[start:]`` of one pushed block, sorted by ``keys``."""

    table: Any
    keys: np.ndarray  # int64 unwrapped timestamps, non-decreasing
    ties: np.ndarray | None
    tag: Any
    start: int = 0


class TimeSorter:
    """Merge N inputs in time (see the module docstring).

    inputs:       names to wait for from the start (others are added when they first push:
                  frames of an input that starts late may then be late)
    idle_ticks:   data-time idle timeout (10 ns ticks; 0: off)
    idle_seconds: wall-time idle timeout (0: off); the clock is read at every push
    late:         ``"flag"`` (pass late frames on, flagged) or ``"side"`` (keep them apart)
    gap_ticks:    count a gap where an input jumps forward by more than this (0: off)
    emit_rows:    emit once this many frames are ready (1: as soon as any is)
    clock:        monotonic seconds (injectable for tests)
    """

    def __init__(self, inputs: Iterable[str] = (), *, idle_ticks: int = 100_000_000,
                 idle_seconds: float = 2.0, late: str = "flag", gap_ticks: int = 0,
                 emit_rows: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        if late not in LATE_POLICIES:
            raise ConfigError(f"late: {late!r} is not one of {', '.join(LATE_POLICIES)}")
        if emit_rows < 1 or idle_ticks < 0 or idle_seconds < 0 or gap_ticks < 0:
            raise ConfigError("emit_rows must be >= 1, the timeouts and gap_ticks >= 0")
        self.late, self.gap_ticks, self.emit_rows = late, gap_ticks, emit_rows
        self.counters = SorterCounters()
        self.watermark = Watermark(inputs, self.counters, idle_ticks=idle_ticks,
                                   idle_seconds=idle_seconds, clock=clock)
        self.checks = {name: StreamCheck(name, self.counters.input(name), gap_ticks=gap_ticks)
                       for name in self.watermark.inputs}
        self._chunks: list[_Chunk] = []
        self._ops: RowOps | None = None
        self._kind: type | None = None
        self._level: int | None = None  # level the ready count was made for
        self._ready = 0
        self._side: list[Any] = []
        self._done: list[Any] = []

    # -- the inputs -----------------------------------------------------------------------
    def push(self, source: str, table: Any, tag: Any = None) -> list[Any]:
        """Take in a block of input ``source``; the blocks that can be emitted now. ``tag``
        comes back from :meth:`take_done` once every frame of this block is out."""
        out: list[Any] = []
        check = self._input(source)
        n = len(table)
        self.counters.input(source).frames_in += n
        if n == 0:
            self.watermark.touch(source)
            self._done.append(tag)
            return self._emit_ready(out)
        ops = self._table_ops(table)
        u, unordered = check.unwrap(ops.timestamps(table), self.watermark.top)
        if unordered:
            order = np.argsort(u, kind="stable")
            table, u = ops.take(table, order), u[order]
        self.watermark.observe(source, int(u[0]), int(u[-1]))
        frontier = self.watermark.frontier
        k = 0 if frontier is None else int(np.searchsorted(u, frontier))
        if k:
            self._pass_late(source, ops, ops.take(table, slice(0, k)), u[:k], out)
        if k < n:
            rest = table if k == 0 else ops.take(table, slice(k, n))
            ties = ops.ties(rest)
            chunk = _Chunk(rest, u[k:], None if ties is None else np.asarray(ties), tag)
            self._chunks.append(chunk)
            if self._level is not None:
                self._ready += int(np.searchsorted(chunk.keys, self._level))
        else:
            self._done.append(tag)
        return self._emit_ready(out)

    def add_input(self, source: str) -> None:
        """Wait for input ``source`` from now on (as if named in ``inputs``)."""
        self._input(source)

    def end(self, source: str) -> list[Any]:
        """Input ``source`` ended: it no longer holds the others back."""
        self._input(source)
        self.watermark.end(source)
        return self._emit_ready([])

    def flush(self) -> list[Any]:
        """Emit every waiting frame (the end of the run)."""
        out: list[Any] = []
        if self._chunks:
            self._emit(EVERYTHING, out)
        return out

    def take_side(self) -> list[Any]:
        """The late blocks kept apart (``late = "side"``) since the last call."""
        side, self._side = self._side, []
        return side

    def take_done(self) -> list[Any]:
        """Tags of the pushed blocks whose frames are all out, since the last call."""
        done, self._done = self._done, []
        return done

    @property
    def pending(self) -> int:
        """Frames waiting in the sorter."""
        return sum(len(c.keys) - c.start for c in self._chunks)

    def _input(self, source: str) -> StreamCheck:
        check = self.checks.get(source)
        if check is None:
            self.watermark.add(source)
            check = self.checks[source] = StreamCheck(source, self.counters.input(source),
                                                      gap_ticks=self.gap_ticks)
        return check

    def _table_ops(self, table: Any) -> RowOps:
        if self._kind is None:
            self._kind = type(table)
        elif type(table) is not self._kind:
            raise SorterError(f"the time sorter merges {self._kind.__name__} blocks, got a "
                              f"{type(table).__name__}")
        self._ops = row_ops(table)
        return self._ops

    # -- late frames ------------------------------------------------------------------------
    def _pass_late(self, source: str, ops: RowOps, table: Any, keys: np.ndarray,
                   out: list[Any]) -> None:
        n = len(table)
        if ops.with_status is None and self.late == "flag":
            raise SorterError(f"input {source!r}: late frames cannot be flagged in a "
                              f"{type(table).__name__} (no status): use late = \"side\"")
        ties = ops.ties(table)
        if ties is not None:
            ties = np.asarray(ties)
            order = _merge_order(keys, ties)
            if order is not None:
                table, ties = ops.take(table, order), ties[order]
            ids, counts = np.unique(ties, return_counts=True)
            for i, c in zip(ids.tolist(), counts.tolist(), strict=True):
                self.counters.late_by_crystal[i] = self.counters.late_by_crystal.get(i, 0) + c
        c = self.counters.input(source)
        c.late += n
        (log.warning if c.late == n else log.debug)(
            "input %r: %d late frame(s), up to %d ticks behind the emitted frames (%s)", source,
            n, int(self.watermark.frontier or 0) - int(keys[0]),
            "passed on flagged" if self.late == "flag" else "to the side output")
        if ops.with_status is not None:
            table = ops.with_status(table, np.ones(n, bool), STATUS_LATE)
        if self.late == "flag":
            self.counters.late_flagged += n
            self.counters.blocks_out += 1
            out.append(table)
        else:
            self.counters.late_side += n
            self._side.append(table)

    # -- emission ---------------------------------------------------------------------------
    def _emit_ready(self, out: list[Any]) -> list[Any]:
        self.watermark.release_idle()
        level = self.watermark.level()
        if level is None or not self._chunks:
            return out
        if level != self._level:
            self._level = level
            self._ready = 0
            for c in self._chunks:
                if c.keys[-1] < level:
                    self._ready += len(c.keys) - c.start
                elif c.keys[c.start] < level:
                    self._ready += int(np.searchsorted(c.keys, level)) - c.start
        if self._ready >= self.emit_rows or (level == EVERYTHING and self._ready):
            self._emit(level, out)
        return out

    def _emit(self, level: int, out: list[Any]) -> None:
        """Emit every waiting frame below ``level`` as one block."""
        ops = self._ops
        if ops is None:  # nothing was pushed
            return
        pieces: list[tuple[Any, int, int]] = []
        keys: list[np.ndarray] = []
        ties: list[np.ndarray | None] = []
        kept: list[_Chunk] = []
        for c in self._chunks:
            stop = len(c.keys) if c.keys[-1] < level else int(np.searchsorted(c.keys, level))
            if stop > c.start:
                pieces.append((c.table, c.start, stop))
                keys.append(c.keys[c.start:stop])
                ties.append(None if c.ties is None else c.ties[c.start:stop])
                c.start = stop
            if c.start < len(c.keys):
                kept.append(c)
            else:
                self._done.append(c.tag)
        self._chunks, self._ready = kept, 0
        if not pieces:
            return
        k = np.concatenate(keys) if len(keys) > 1 else keys[0]
        t = None if any(x is None for x in ties) else (
            np.concatenate(ties) if len(ties) > 1 else ties[0])
        merged = ops.merge(pieces, _merge_order(k, t))
        top = int(k.max())
        self.watermark.advance(level if level != EVERYTHING else top + 1)
        self.counters.emitted += len(k)
        self.counters.blocks_out += 1
        out.append(merged)


def _merge_order(keys: np.ndarray, ties: np.ndarray | None) -> np.ndarray | None:
    """Stable order of rows by (key, tie), or None when they are in order already."""
    if keys.size < 2:
        return None
    if ties is None:
        if not np.any(keys[1:] < keys[:-1]):
            return None
        return np.argsort(keys, kind="stable")
    base = int(keys.min())
    small = (ties.dtype.kind == "u" and ties.dtype.itemsize <= 2) or (
        int(ties.min()) >= 0 and int(ties.max()) < (1 << 16))
    if small and int(keys.max()) - base < (1 << 46):
        composite = ((keys - base) << 16) | ties.astype(np.int64)
        if not np.any(composite[1:] < composite[:-1]):
            return None
        return np.argsort(composite, kind="stable")
    return np.lexsort((ties, keys))

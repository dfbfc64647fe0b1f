"""Coincidence grouping: cut a time-ordered hit stream into events (the event builder's window).

Input is a **non-decreasing** uint64 timestamp array (10 ns ticks, all crystals mixed, as the
time sorter delivers it). Two rules, both with an inclusive window of ``window`` ticks:

* ``"fixed"`` — a window opens at an event's first hit ``t0``; every hit with
  ``t - t0 <= window`` belongs to the event; the next event opens at the first hit outside.
  An event never spans more than ``window`` ticks (AGATA's EventBuilder, ``Window 10`` = 100 ns).
* ``"sliding"`` — an event goes on while each hit is within ``window`` ticks of the hit before
  it (``t[i] - t[i-1] <= window``); it can span any time if hits keep coming.

Events are returned as CSR offsets: event ``k`` is rows ``offsets[k]:offsets[k+1]``. The fold of
an event is the number of distinct crystals among its rows. Nothing here knows a block type:
:class:`OpenEvent` keeps the rows of the event still open at the end of a block (any table of
:mod:`gpsa.globallevel.rows`, as the time sorter emits it), so a soft trigger can group
plain ``(timestamp, crystal, energy)`` records the same way::

    w = OpenEvent(window=10, rule="fixed")
    for cols in blocks:                  # Columns(timestamps=..., crystal_ids=..., energy=...)
        done = w.push(cols)              # closed events, or None
        if done is not None:
            rows, offsets = done
            keep = fold(rows.crystal_ids, offsets) >= 2
    last = w.flush()                     # the event open at the end of the input
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

import numba
import numpy as np

from gpsa._numba import jit_options
from gpsa.errors import BlockError
from gpsa.globallevel.rows import RowOps, row_ops

Rule = Literal["fixed", "sliding"]
RULES: tuple[str, ...] = ("fixed", "sliding")
R = TypeVar("R")


@numba.njit(**jit_options(fastmath=False))
def _fixed_starts(ts: np.ndarray, window: np.uint64) -> np.ndarray:  # pragma: no cover - jit
    """First row of every event under the fixed rule (a chain: each start depends on the last)."""
    n = ts.shape[0]
    starts = np.empty(n, np.int64)
    k = 0
    i = 0
    while i < n:
        starts[k] = i
        k += 1
        t0 = ts[i]
        i += 1
        while i < n and ts[i] - t0 <= window:  # no overflow: ts is non-decreasing
            i += 1
    return starts[:k]


def check_sorted(timestamps: np.ndarray, what: str = "timestamps") -> None:
    """Raise :class:`BlockError` unless ``timestamps`` is a non-decreasing uint64 array."""
    if timestamps.dtype != np.uint64 or timestamps.ndim != 1:
        raise BlockError(f"{what}: expected a 1-d uint64 array, got {timestamps.dtype} "
                         f"shape {timestamps.shape}")
    bad = np.flatnonzero(timestamps[1:] < timestamps[:-1])
    if bad.size:
        i = int(bad[0]) + 1
        raise BlockError(f"{what}: not time-ordered at row {i} ({int(timestamps[i])} after "
                         f"{int(timestamps[i - 1])})")


def event_offsets(timestamps: np.ndarray, window: int, rule: Rule = "fixed") -> np.ndarray:
    """CSR offsets (int64, ``n_events + 1``) of the events in the sorted ``timestamps``; the
    last event is closed by the end of the array."""
    if rule not in RULES:
        raise BlockError(f"window rule {rule!r} is not one of {', '.join(RULES)}")
    if window < 0:
        raise BlockError(f"window {window} must be >= 0 ticks")
    check_sorted(timestamps)
    n = timestamps.shape[0]
    if n == 0:
        return np.zeros(1, np.int64)
    if rule == "fixed":
        starts = _fixed_starts(timestamps, np.uint64(window))
    else:
        starts = np.concatenate([[0], np.flatnonzero(np.diff(timestamps) > np.uint64(window))
                                 + 1]).astype(np.int64)
    return np.append(starts, n).astype(np.int64)


def event_index(offsets: np.ndarray) -> np.ndarray:
    """Event of every row (int64), from CSR offsets."""
    return np.repeat(np.arange(offsets.shape[0] - 1, dtype=np.int64), np.diff(offsets))


def fold(crystals: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Number of distinct crystals in each event (int64, ``n_events``)."""
    n_events = offsets.shape[0] - 1
    if crystals.shape[0] != int(offsets[-1]):
        raise BlockError(f"fold: {crystals.shape[0]} crystal ids for {int(offsets[-1])} rows")
    if crystals.shape[0] == 0:
        return np.zeros(n_events, np.int64)
    key = np.sort(event_index(offsets) << 32 | crystals.astype(np.int64))
    first = np.concatenate([[True], key[1:] != key[:-1]])
    return np.bincount(key[first] >> 32, minlength=n_events).astype(np.int64)


def min_fold_rows(offsets: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the events selected by the bool mask ``keep`` and the CSR offsets of those
    events among the selected rows: ``(row_mask, new_offsets)``."""
    sizes = np.diff(offsets)
    rows = np.repeat(keep, sizes)
    return rows, np.concatenate([[0], np.cumsum(sizes[keep])]).astype(np.int64)


class OpenEvent(Generic[R]):
    """Streaming grouping across blocks: :meth:`push` returns the events closed so far and keeps
    the rows of the last event, which the next block may still extend; :meth:`flush` closes it.
    The rows kept always start at an event boundary, so the events are the same for any cut of
    the input into blocks.

    Rows are any table the time sorter handles (:mod:`gpsa.globallevel.rows`: a PsaBlock, a
    :class:`~gpsa.globallevel.rows.Columns` of ``timestamps``, ``crystal_ids``, ``energy``, …);
    ``ops`` defaults to :func:`~gpsa.globallevel.rows.row_ops` of the first rows pushed.
    """

    def __init__(self, window: int, rule: Rule = "fixed", ops: RowOps | None = None) -> None:
        if rule not in RULES:
            raise BlockError(f"window rule {rule!r} is not one of {', '.join(RULES)}")
        self.window, self.rule = int(window), rule
        self.ops = ops
        self.pending: R | None = None

    @property
    def pending_rows(self) -> int:
        if self.pending is None or self.ops is None:
            return 0
        return int(self.ops.timestamps(self.pending).shape[0])

    def push(self, rows: R) -> tuple[R, np.ndarray] | None:
        """Add a block of rows (time-ordered, not earlier than the rows kept); returns the rows
        of the events now closed and their CSR offsets, or None when none closed yet."""
        ops = self.ops = self.ops or row_ops(rows)
        if ops.timestamps(rows).shape[0] == 0:
            return None
        if self.pending is not None:
            rows = ops.concat([self.pending, rows])
        offsets = event_offsets(ops.timestamps(rows), self.window, self.rule)
        cut = int(offsets[-2])  # start of the last event: it stays open
        self.pending = ops.take(rows, slice(cut, None))
        if cut == 0:
            return None
        return ops.take(rows, slice(0, cut)), offsets[:-1]

    def flush(self) -> tuple[R, np.ndarray] | None:
        """Close the open event: its rows and offsets ``[0, n]``, or None when there is none."""
        rows, self.pending = self.pending, None
        if rows is None or self.ops is None:
            return None
        n = int(self.ops.timestamps(rows).shape[0])
        return rows, np.array([0, n], np.int64)

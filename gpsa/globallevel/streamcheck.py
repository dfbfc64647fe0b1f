"""Checks of one sorter input: the 48-bit timestamp wrap, out-of-order frames and gaps.

AGATA timestamps count 10 ns ticks in 48 bits: they wrap to 0 every 2**48 ticks (32.6 days).
A stream whose timestamp jumps **back by more than half the range** (2**47 ticks) from one
frame to the next has wrapped: the following frames are read in the next epoch (+2**48) and
the wrap is counted and logged. A jump *forward* by more than half the range is a frame from
before a wrap arriving after it (read in the previous epoch). The sorter orders the unwrapped
values; the frames keep their 48-bit timestamps.

On the unwrapped values, per input:

* **out of order** — a frame with a timestamp below one the stream already sent (counted per
  frame; the sorter still orders it, or flags it late when its time is already emitted);
* **gap** — a frame more than ``gap_ticks`` after the latest timestamp before it (0: off).

Everything is vectorised per block: a handful of numpy passes, no loop over frames.
"""

from __future__ import annotations

import logging

import numpy as np

from gpsa.errors import GpsaError
from gpsa.globallevel.sortcounters import InputCounters

log = logging.getLogger(__name__)

TIMESTAMP_BITS = 48
TIMESTAMP_RANGE = 1 << TIMESTAMP_BITS
HALF_RANGE = 1 << (TIMESTAMP_BITS - 1)
TICKS_PER_SECOND = 100_000_000


class SorterError(GpsaError):
    """Input the time sorter cannot order (e.g. a timestamp beyond 48 bits)."""


class StreamCheck:
    """Unwraps and checks the timestamps of one input, block after block."""

    def __init__(self, name: str, counters: InputCounters, *, gap_ticks: int = 0) -> None:
        self.name, self.counters, self.gap_ticks = name, counters, gap_ticks
        self.prev_raw: int | None = None  # last raw timestamp of the stream
        self.epoch = 0  # wraps so far (the epoch of the last frame)
        self.latest: int | None = None  # highest unwrapped timestamp so far

    def unwrap(self, timestamps: np.ndarray, reference: int | None = None) -> tuple[np.ndarray,
                                                                                    bool]:
        """Unwrapped timestamps of the next block (int64) and whether any frame in it is out
        of order. ``reference`` (the latest unwrapped time of the other inputs) sets the epoch
        of an input's first frame: a stream that starts after the others wrapped starts in
        their epoch."""
        raw = np.asarray(timestamps)
        if raw.size == 0:
            return np.zeros(0, np.int64), False
        top = int(raw.max())
        if top >= TIMESTAMP_RANGE:
            raise SorterError(f"input {self.name!r}: timestamp {top} does not fit in "
                              f"{TIMESTAMP_BITS} bits (AGATA timestamps are 48-bit 10 ns ticks)")
        r = raw.astype(np.int64)
        if self.prev_raw is None:
            self.prev_raw = int(r[0])
            if reference is not None:
                self.epoch = max(0, round((reference - int(r[0])) / TIMESTAMP_RANGE))
        d = np.diff(r, prepend=np.int64(self.prev_raw))
        back, fwd = d < -HALF_RANGE, d > HALF_RANGE
        if back.any() or fwd.any():
            epochs = self.epoch + np.cumsum(back.astype(np.int64) - fwd.astype(np.int64))
            self._log_wraps(r, back)
            u = r + epochs * TIMESTAMP_RANGE
            self.epoch = int(epochs[-1])
        else:
            u = r + self.epoch * TIMESTAMP_RANGE if self.epoch else r
        self.prev_raw = int(r[-1])
        latest = int(u[0]) if self.latest is None else self.latest
        before = np.maximum.accumulate(np.concatenate(([latest], u[:-1])))
        ahead = u - before
        ooo = int(np.count_nonzero(ahead < 0))
        if ooo:
            self.counters.out_of_order += ooo
            first = int(np.argmax(ahead < 0))
            (log.warning if self.counters.out_of_order == ooo else log.debug)(
                "input %r: %d frame(s) out of time order (first: timestamp %d after %d)",
                self.name, ooo, int(u[first]), int(before[first]))
        if self.gap_ticks:
            gaps = ahead > self.gap_ticks
            n_gaps = int(np.count_nonzero(gaps))
            if n_gaps:
                self.counters.gaps += n_gaps
                first = int(np.argmax(gaps))
                (log.info if self.counters.gaps == n_gaps else log.debug)(
                    "input %r: %d gap(s) over %d ticks (first: %.6f s before timestamp %d)",
                    self.name, n_gaps, self.gap_ticks, ahead[first] / TICKS_PER_SECOND,
                    int(u[first]))
        self.latest = max(latest, int(u.max()))
        return u, ooo > 0

    def _log_wraps(self, raw: np.ndarray, back: np.ndarray) -> None:
        for i in np.flatnonzero(back):
            prev = self.prev_raw if i == 0 else int(raw[i - 1])
            self.counters.wraps += 1
            log.warning("input %r: 48-bit timestamp wrap (%d -> %d), wrap %d of this input; "
                        "ordered as %d + 2**48", self.name, prev, int(raw[i]),
                        self.counters.wraps, int(raw[i]))

"""The event builder: time-ordered crystal events (data:psa, all crystals) → AGATA events.

Crystal events are grouped by the coincidence window of :mod:`gpsa.globallevel.window`
(``window`` ticks, rule ``"fixed"`` from the first hit or ``"sliding"``); an event's fold is
the number of distinct crystals in it, and events with ``fold < min_fold`` are rejected
(counted, not passed on). AGATA's EventBuilder defaults: ``Window 10`` (100 ns), ``MinFold 1``.

Streaming: :meth:`EventBuilder.push` takes one block at a time and returns the events closed so
far; the last event of a block waits for the next block (it may continue there) and
:meth:`EventBuilder.flush` closes it at the end of the input. The result does not depend on
how the input is cut into blocks.

The input must be time-ordered (the time sorter's output). A crystal event earlier than one
already seen cannot join the events built before it: it is left out of building, counted in
``crystal_events_out_of_order`` and reported with a warning (never dropped silently). The
sorter's late frames (flagged ``STATUS_LATE``, passed on where they arrived) end up there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from gpsa.block import PsaBlock
from gpsa.errors import BlockError
from gpsa.globallevel.events import BuiltEvents
from gpsa.globallevel.rows import PSA_ROWS
from gpsa.globallevel.window import RULES, OpenEvent, Rule, fold, min_fold_rows

log = logging.getLogger(__name__)


@dataclass
class BuilderCounters:
    """What the builder saw. ``fold_histogram[k]`` counts the events of fold ``k`` built
    (before the MinFold selection)."""

    crystal_events_in: int = 0
    crystal_events_out_of_order: int = 0
    events_built: int = 0
    events_rejected_min_fold: int = 0
    events_out: int = 0
    fold_histogram: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))

    def add_folds(self, folds: np.ndarray) -> None:
        hist = np.bincount(folds, minlength=self.fold_histogram.shape[0])
        hist[: self.fold_histogram.shape[0]] += self.fold_histogram
        self.fold_histogram = hist.astype(np.int64)

    def as_dict(self) -> dict[str, int]:
        """Flat counters for the run summary (``events_fold_K`` for every fold seen)."""
        out = {"crystal_events_in": self.crystal_events_in,
               "crystal_events_out_of_order": self.crystal_events_out_of_order,
               "events_built": self.events_built,
               "events_rejected_min_fold": self.events_rejected_min_fold,
               "events_out": self.events_out}
        out.update({f"events_fold_{k}": int(v) for k, v in enumerate(self.fold_histogram)
                    if v})
        return out


class EventBuilder:
    """Group time-ordered crystal events into AGATA events (see the module docstring)."""

    def __init__(self, window: int = 10, rule: Rule = "fixed", min_fold: int = 1) -> None:
        if rule not in RULES:
            raise BlockError(f"window rule {rule!r} is not one of {', '.join(RULES)}")
        if window < 0 or min_fold < 0:
            raise BlockError(f"window ({window}) and min_fold ({min_fold}) must be >= 0")
        self.window, self.rule, self.min_fold = int(window), rule, int(min_fold)
        self.counters = BuilderCounters()
        self._open: OpenEvent[PsaBlock] = OpenEvent(self.window, rule, PSA_ROWS)
        self._last_ts: int | None = None
        self._warned = False

    def push(self, block: PsaBlock) -> BuiltEvents | None:
        """Add a block of crystal events; returns the events closed by it (None if none)."""
        if not isinstance(block, PsaBlock):
            raise BlockError(f"event builder: expected a PsaBlock, got {type(block).__name__}")
        self.counters.crystal_events_in += len(block)
        block = self._in_order(block)
        done = self._open.push(block)
        return None if done is None else self._emit(*done)

    def flush(self) -> BuiltEvents | None:
        """Close the event still open at the end of the input."""
        done = self._open.flush()
        return None if done is None else self._emit(*done)

    def _in_order(self, block: PsaBlock) -> PsaBlock:
        ts = block.events.timestamps
        if ts.size == 0:
            return block
        start = np.uint64(0 if self._last_ts is None else self._last_ts)
        running = np.maximum.accumulate(np.concatenate([[start], ts]))  # max seen before row
        late = ts < running[:-1]
        self._last_ts = int(running[-1])
        n_late = int(late.sum())
        if not n_late:
            return block
        self.counters.crystal_events_out_of_order += n_late
        if not self._warned:
            log.warning("event builder: %d crystal event(s) out of time order (first at "
                        "timestamp %d) left out of building and counted; is the input sorted?",
                        n_late, int(ts[late][0]))
            self._warned = True
        return block.take_events(~late)

    def _emit(self, rows: PsaBlock, offsets: np.ndarray) -> BuiltEvents | None:
        folds = fold(rows.events.crystal_ids, offsets)
        c = self.counters
        c.add_folds(folds)
        c.events_built += folds.shape[0]
        keep = folds >= self.min_fold
        n_keep = int(keep.sum())
        c.events_rejected_min_fold += folds.shape[0] - n_keep
        if n_keep == 0:
            return None
        if n_keep < folds.shape[0]:
            row_mask, offsets = min_fold_rows(offsets, keep)
            rows = rows.take_events(row_mask)
        out = BuiltEvents.build(rows, offsets, c.events_out)
        c.events_out += n_keep
        return out

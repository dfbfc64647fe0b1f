"""The soft trigger's decision: fast-path records of all crystals → built events → accepted
crystal events, per crystal.

The **fast path** carries one record per crystal event and no traces: a
:class:`~gpsa.globallevel.rows.Columns` of ``timestamps`` (uint64), ``crystal_ids`` (uint16),
``event_numbers`` (uint32), ``energy`` (float32 keV, an estimate) and ``status`` (uint16, for
the time sorter's late flag). :func:`records_from_block` makes them from a crystal's input:
from a :class:`~gpsa.block.CrystalBlock` the **DAQ's core energy** ``energies[:, 36]`` (what the
digitiser delivers with every event, before any trace processing: the fast path does not wait
for preprocessing), from a :class:`~gpsa.block.PsaBlock` its ``e0``.

:class:`SoftTrigger` takes the records **in time order** (the time sorter's output, all crystals
mixed), builds events with the window of :mod:`gpsa.globallevel.window` (``window`` ticks, rule
``fixed`` or ``sliding``; the :class:`~gpsa.globallevel.window.OpenEvent` carry-over keeps the
event open at a block's end, so the decisions do not depend on the cut into blocks), applies
the conditions (:mod:`gpsa.globallevel.trigger_conditions`; all must hold) and returns the
decided records as :class:`Decided`: every crystal event of an accepted event is accepted.
Everything is vectorised per block (the fixed rule's event starts come from a numba kernel).

A record earlier than one already seen (a late frame of the sorter) cannot join its event: it
is **accepted** on its own (PSA work is spent rather than data lost), counted in
``crystal_events_out_of_order`` and logged once.

**Per crystal** the decided records are always a prefix of that crystal's records (a crystal's
stream is in time order and the open event holds a suffix of the merged stream), so a decision
is published as the accepted event numbers plus ``through``, the highest event number decided:
every event of the crystal numbered ``<= through`` not in the accepted list is rejected. This
needs event numbers that increase along each crystal's stream (as the DAQ and the simulator
number them).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsa.block import CORE, CrystalBlock, PsaBlock
from gpsa.errors import BlockError
from gpsa.globallevel.rows import Columns
from gpsa.globallevel.trigger_conditions import TriggerCondition, all_of
from gpsa.globallevel.window import RULES, OpenEvent, Rule

log = logging.getLogger(__name__)

RECORD_COLUMNS = ("timestamps", "crystal_ids", "event_numbers", "energy", "status")


def make_records(timestamps: Any, crystal_ids: Any, event_numbers: Any, energy: Any,
                 status: Any = None) -> Columns:
    """Fast-path records (cast to the record dtypes; status 0 when not given)."""
    ts = np.asarray(timestamps, np.uint64)
    return Columns(timestamps=ts, crystal_ids=np.asarray(crystal_ids, np.uint16),
                   event_numbers=np.asarray(event_numbers, np.uint32),
                   energy=np.asarray(energy, np.float32),
                   status=(np.zeros(ts.shape[0], np.uint16) if status is None
                           else np.asarray(status, np.uint16)))


def records_from_block(block: Any) -> Columns:
    """The fast-path records of a block: a CrystalBlock's DAQ core energy (channel 36; NaN
    without one), a PsaBlock's ``e0``, or records already (checked, returned as they are)."""
    if isinstance(block, CrystalBlock):
        e = block.energies
        energy = e[:, CORE] if e.shape[1] > CORE else np.full(len(block), np.nan, np.float32)
        return make_records(block.timestamps, block.crystal_ids, block.event_numbers, energy,
                            block.status)
    if isinstance(block, PsaBlock):
        ev = block.events
        return make_records(ev.timestamps, ev.crystal_ids, ev.event_numbers, ev.e0, ev.status)
    if isinstance(block, Columns):
        missing = [c for c in RECORD_COLUMNS if c not in block.columns]
        if missing:
            raise BlockError(f"trigger records: missing column(s) {', '.join(missing)}")
        return block
    raise BlockError(f"the soft trigger reads CrystalBlock, PsaBlock or record Columns, got a "
                     f"{type(block).__name__}")


@dataclass(frozen=True)
class Decided:
    """Decided crystal events, one row each (any order)."""

    crystal_ids: np.ndarray  # uint16
    event_numbers: np.ndarray  # uint32
    accepted: np.ndarray  # bool

    def __len__(self) -> int:
        return int(self.crystal_ids.shape[0])

    @classmethod
    def concat(cls, parts: Sequence[Decided]) -> Decided:
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("crystal_ids", "event_numbers", "accepted")))

    def per_crystal(self) -> dict[int, tuple[np.ndarray, int, int]]:
        """crystal id -> (accepted event numbers in order, through, records decided)."""
        if not len(self):
            return {}
        order = np.lexsort((self.event_numbers, self.crystal_ids))
        cid, num, acc = (self.crystal_ids[order], self.event_numbers[order],
                         self.accepted[order])
        ids, starts, counts = np.unique(cid, return_index=True, return_counts=True)
        through = num[starts + counts - 1]
        acc_counts = np.add.reduceat(acc.astype(np.int64), starts)
        accepted = np.split(num[acc], np.cumsum(acc_counts)[:-1])
        return {int(i): (a, int(t), int(n)) for i, a, t, n in
                zip(ids.tolist(), accepted, through.tolist(), counts.tolist(), strict=True)}


@dataclass
class TriggerCounters:
    """What the trigger decided. Always ``crystal_events_in = crystal_events_accepted +
    crystal_events_rejected + crystal_events_out_of_order + open`` (open: the event still
    waiting for its window to close)."""

    crystal_events_in: int = 0
    crystal_events_out_of_order: int = 0
    events_built: int = 0
    events_accepted: int = 0
    events_rejected: int = 0
    crystal_events_accepted: int = 0
    crystal_events_rejected: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


class SoftTrigger:
    """Decide built events of time-ordered fast-path records (see the module docstring).

    conditions: the selected conditions (all must hold; none: accept every event)
    settings:   the trigger settings the conditions ask for (``min_fold``, ``min_energy_kev``)
    """

    def __init__(self, conditions: Sequence[TriggerCondition], settings: Mapping[str, Any], *,
                 window: int = 10, rule: Rule = "fixed") -> None:
        if rule not in RULES:
            raise BlockError(f"window rule {rule!r} is not one of {', '.join(RULES)}")
        if window < 0:
            raise BlockError(f"window {window} must be >= 0 ticks")
        self.conditions = list(conditions)
        self.settings = {**settings, "window": int(window)}
        self.counters = TriggerCounters()
        self._open: OpenEvent[Columns] = OpenEvent(int(window), rule)
        self._last_ts: int | None = None
        self._warned = False

    @property
    def open_records(self) -> int:
        """Records of the event still open (decided by a later push or :meth:`flush`)."""
        return self._open.pending_rows

    def push(self, records: Any) -> Decided | None:
        """Add time-ordered records; the records decided now (None if none)."""
        rec = records_from_block(records)
        self.counters.crystal_events_in += len(rec)
        rec, late = self._in_order(rec)
        parts = [] if late is None else [late]
        done = self._open.push(rec) if len(rec) else None
        if done is not None:
            parts.append(self._decide(*done))
        return Decided.concat(parts) if parts else None

    def flush(self) -> Decided | None:
        """Decide the event still open (the end of the input)."""
        done = self._open.flush()
        return None if done is None else self._decide(*done)

    def _in_order(self, rec: Columns) -> tuple[Columns, Decided | None]:
        ts = rec.timestamps
        if ts.size == 0:
            return rec, None
        start = np.uint64(0 if self._last_ts is None else self._last_ts)
        running = np.maximum.accumulate(np.concatenate([[start], ts]))
        late = ts < running[:-1]
        self._last_ts = int(running[-1])
        n_late = int(late.sum())
        if not n_late:
            return rec, None
        self.counters.crystal_events_out_of_order += n_late
        if not self._warned:
            log.warning("soft trigger: %d record(s) out of time order (first at timestamp %d) "
                        "accepted without an event and counted; is the input sorted?",
                        n_late, int(ts[late][0]))
            self._warned = True
        out = rec.take(late)
        return rec.take(~late), Decided(out.crystal_ids, out.event_numbers,
                                        np.ones(n_late, bool))

    def _decide(self, rows: Columns, offsets: np.ndarray) -> Decided:
        keep = all_of(self.conditions, rows.timestamps, rows.crystal_ids, rows.energy, offsets,
                      self.settings)
        c = self.counters
        n_acc = int(keep.sum())
        c.events_built += keep.shape[0]
        c.events_accepted += n_acc
        c.events_rejected += keep.shape[0] - n_acc
        accepted = np.repeat(keep, np.diff(offsets))
        n = int(accepted.sum())
        c.crystal_events_accepted += n
        c.crystal_events_rejected += accepted.shape[0] - n
        return Decided(rows.crystal_ids, rows.event_numbers, accepted)

"""The event merger: AGATA events (event:data:psa) + ancillary frames (data:ranc1) → event:data.

Matching. An ancillary frame with timestamp ``t`` (ancillary clock) is put on the AGATA clock
as ``u = t - offset`` (``offset``: the ancillary delay, ticks, may be negative). It joins the
AGATA event nearest to ``u`` when ``|u - T| <= window``; on a tie the earlier AGATA event wins.
An AGATA event keeps every frame that chose it (usually zero or one). Frames that match no
AGATA event become ancillary-only events; AGATA events without frames, AGATA-only events.

Fold and MinFold. The fold of a merged event is the number of inputs present in it: 1 for the
AGATA event (whatever its crystal fold) plus 1 when it has at least one ancillary frame. With
AGATA's ``MinFold 2`` only events with both parts are passed on; ``1`` passes everything. The
counters (merged, AGATA-only, ancillary-only) count events before the MinFold selection.

Streaming. Both inputs are time-ordered. An item (AGATA event at ``T``, frame at ``u``) is
decided once no future item can reach it: future AGATA events come at or after the last AGATA
time seen ``Wa``, future frames at or after ``Wn``, so everything before
``C = min(Wa, Wn) - window`` is final, except that ``C`` is lowered until no match straddles
it. The result does not depend on how the inputs are cut into blocks. While one input is
silent the other waits; ``max_lag > 0`` (ticks) bounds that wait: the cut may then run up to
``max(Wa, Wn) - max_lag``, and items that arrive behind a cut already made (or out of order in
their own stream) are passed on unmatched and counted as late.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from gpsa.adf.codecs.ranc import DEFAULT_KEY, AncillaryFrames
from gpsa.errors import BlockError
from gpsa.globallevel.events import BuiltEvents, MergedEvents

log = logging.getLogger(__name__)
_END = np.iinfo(np.int64).max


@dataclass
class MergerCounters:
    agata_events_in: int = 0
    ancillary_frames_in: int = 0
    events_merged: int = 0  # AGATA + ancillary
    events_agata_only: int = 0
    events_ancillary_only: int = 0
    events_rejected_min_fold: int = 0
    events_out: int = 0
    late_agata_events: int = 0
    late_ancillary_frames: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def nearest_match(agata: np.ndarray, u: np.ndarray, window: int) -> np.ndarray:
    """Index of the AGATA time (sorted int64 ``agata``) nearest to each ``u`` (sorted int64)
    within ``window``, the earlier on a tie; -1 where none is within the window."""
    if agata.size == 0:
        return np.full(u.shape[0], -1, np.int64)
    j = np.searchsorted(agata, u, side="left")
    left, right = np.clip(j - 1, 0, None), np.clip(j, None, agata.size - 1)
    d_left = np.where(j > 0, u - agata[left], _END)
    d_right = np.where(j < agata.size, agata[right] - u, _END)
    pick = np.where(d_left <= d_right, left, right)
    return np.where(np.minimum(d_left, d_right) <= window, pick, -1).astype(np.int64)


def safe_cut(start: int, lo: np.ndarray, hi: np.ndarray) -> int:
    """The largest cut ``c <= start`` that no pair ``(lo, hi)`` straddles (``lo < c <= hi``)."""
    c = start
    while True:
        cross = (lo < c) & (hi >= c)
        if not cross.any():
            return c
        c = int(lo[cross].min())


class EventMerger:
    """Merge AGATA events with ancillary frames (see the module docstring)."""

    def __init__(self, window: int, offset: int = 0, min_fold: int = 2,
                 max_lag: int = 0) -> None:
        if window < 0 or min_fold < 0 or max_lag < 0:
            raise BlockError(f"window ({window}), min_fold ({min_fold}) and max_lag "
                             f"({max_lag}) must be >= 0")
        self.window, self.offset = int(window), int(offset)
        self.min_fold, self.max_lag = int(min_fold), int(max_lag)
        self.counters = MergerCounters()
        self._agata: BuiltEvents = BuiltEvents.empty()
        self._anc: AncillaryFrames | None = None
        self._anc_key = DEFAULT_KEY  # the ancillary input's frame key, once frames came
        self._w_agata: int | None = None
        self._w_anc: int | None = None
        self._decided = -_END  # everything before this time has been passed on

    def push(self, block: BuiltEvents | AncillaryFrames) -> MergedEvents | None:
        """Add AGATA events or ancillary frames; returns the merged events now decided."""
        if isinstance(block, BuiltEvents):
            return self._push_agata(block)
        if isinstance(block, AncillaryFrames):
            return self._push_ancillary(block)
        raise BlockError(f"event merger: expected BuiltEvents or AncillaryFrames, got "
                         f"{type(block).__name__}")

    def flush(self) -> MergedEvents | None:
        """Decide and pass on everything still waiting."""
        return self._advance(_END)

    # -- inputs -------------------------------------------------------------------------------
    def _late(self, times: np.ndarray, last: int | None) -> np.ndarray:
        prev = np.maximum.accumulate(np.concatenate([[-_END if last is None else last], times]))
        return (times < prev[:-1]) | (times < self._decided)

    def _push_agata(self, ev: BuiltEvents) -> MergedEvents | None:
        self.counters.agata_events_in += len(ev)
        t = ev.timestamps.astype(np.int64)
        late = self._late(t, self._w_agata)
        out = []
        if late.any():
            self.counters.late_agata_events += int(late.sum())
            out.append(self._assemble(ev.take(late), AncillaryFrames.empty(key=self._anc_key),
                                      np.zeros(0, np.int64), in_time_order=False))
            ev, t = ev.take(~late), t[~late]
        if len(ev):
            self._agata = BuiltEvents.concat([self._agata, ev])
            self._w_agata = int(t[-1])
        return self._join(out, self._advance())

    def _push_ancillary(self, frames: AncillaryFrames) -> MergedEvents | None:
        self.counters.ancillary_frames_in += len(frames)
        self._anc_key = frames.key
        u = frames.timestamps.astype(np.int64) - self.offset
        late = self._late(u, self._w_anc)
        out = []
        if late.any():
            self.counters.late_ancillary_frames += int(late.sum())
            out.append(self._assemble(BuiltEvents.empty(), frames.take(late),
                                      np.full(int(late.sum()), -1, np.int64),
                                      in_time_order=False))
            frames, u = frames.take(~late), u[~late]
        if len(frames):
            self._anc = frames if self._anc is None else AncillaryFrames.concat([self._anc,
                                                                                frames])
            self._w_anc = int(u[-1])
        return self._join(out, self._advance())

    # -- decisions ----------------------------------------------------------------------------
    def _advance(self, final: int | None = None) -> MergedEvents | None:
        anc = self._anc if self._anc is not None else AncillaryFrames.empty(key=self._anc_key)
        a_t = self._agata.timestamps.astype(np.int64)
        u = anc.timestamps.astype(np.int64) - self.offset
        if final is not None:
            start = final
        else:
            marks = [w for w in (self._w_agata, self._w_anc) if w is not None]
            start = (min(self._w_agata, self._w_anc) - self.window
                     if len(marks) == 2 else -_END)
            if self.max_lag and marks:
                start = max(start, max(marks) - self.max_lag)
        match = nearest_match(a_t, u, self.window)
        m = match >= 0
        cut = safe_cut(start, np.minimum(a_t[match[m]], u[m]), np.maximum(a_t[match[m]], u[m]))
        if cut <= self._decided:
            return None
        n_a, n_u = int(np.searchsorted(a_t, cut)), int(np.searchsorted(u, cut))
        if n_a == 0 and n_u == 0:
            self._decided = cut
            return None
        whole_a, whole_u = n_a == len(self._agata), n_u == len(anc)
        out = self._assemble(self._agata if whole_a else self._agata.take(slice(0, n_a)),
                             anc if whole_u else anc.take(slice(0, n_u)), match[:n_u])
        self._agata = BuiltEvents.empty() if whole_a else self._agata.take(slice(n_a, None))
        self._anc = None if whole_u else anc.take(slice(n_u, None))
        self._decided = cut
        return out

    def _assemble(self, ag: BuiltEvents, anc: AncillaryFrames, match: np.ndarray, *,
                  in_time_order: bool = True) -> MergedEvents | None:
        """Merged events from decided AGATA events and frames (``match``: AGATA event of each
        frame, -1 for none), in time order (else AGATA events first, as given), MinFold
        applied."""
        lone = np.flatnonzero(match < 0)
        times = np.concatenate([ag.timestamps.astype(np.int64),
                                anc.timestamps[lone].astype(np.int64) - self.offset])
        n = times.shape[0]
        # AGATA first on a tie; AGATA events are time-ordered, so they keep their order
        order = np.argsort(times, kind="stable") if in_time_order else np.arange(n)
        if n == 0:
            return None
        pos = np.empty(n, np.int64)
        pos[order] = np.arange(n)
        event_of_frame = np.empty(len(anc), np.int64)
        event_of_frame[match >= 0] = pos[match[match >= 0]]
        event_of_frame[lone] = pos[len(ag) + np.arange(lone.size)]
        frame_order = np.argsort(event_of_frame, kind="stable")
        is_agata = order < len(ag)
        anc_counts = np.bincount(event_of_frame, minlength=n)
        merged = MergedEvents(
            np.zeros(n, np.uint32), np.clip(times[order], 0, None).astype(np.uint64), ag,
            np.concatenate([[0], np.cumsum(is_agata)]).astype(np.int64),
            anc.take(frame_order), np.concatenate([[0], np.cumsum(anc_counts)]).astype(np.int64))
        c = self.counters
        both = is_agata & (anc_counts > 0)
        c.events_merged += int(both.sum())
        c.events_agata_only += int((is_agata & ~both).sum())
        c.events_ancillary_only += int((~is_agata).sum())
        keep = merged.fold >= self.min_fold
        c.events_rejected_min_fold += int((~keep).sum())
        if not keep.any():
            return None
        merged = merged.take(keep) if not keep.all() else merged
        numbers = (np.arange(len(merged), dtype=np.int64) + c.events_out).astype(np.uint32)
        c.events_out += len(merged)
        return replace(merged, event_numbers=numbers)

    @staticmethod
    def _join(parts: list[MergedEvents | None],
              last: MergedEvents | None) -> MergedEvents | None:
        done = [p for p in [*parts, last] if p is not None]
        if not done:
            return None
        return done[0] if len(done) == 1 else MergedEvents.concat(done)

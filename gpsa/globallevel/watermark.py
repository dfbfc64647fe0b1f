"""The sorter's watermark: how far each input got, which ones hold the others back, what is late.

Each input's progress is the highest (unwrapped) timestamp it sent. A frame can be emitted once
no input that still counts can send an earlier one: the **level** is the lowest progress over
the *live* inputs, and every frame below it may go out. An input stops counting when

* it **ended** (its file or stream is exhausted), or
* it is **released as idle** while it holds the level down, because it sent nothing

  - for ``idle_ticks`` of data time while the others went on: its progress is more than
    ``idle_ticks`` behind the time the others **passed**: the highest *first* timestamp of a
    block received (the blocks' last timestamps would make a live input look idle as soon as
    another sends a block spanning more than ``idle_ticks``), or
  - for ``idle_seconds`` of wall time **while the others kept sending** (the clock is read at
    every frame received, from any input). A silence of *every* input longer than
    ``idle_seconds`` (beam off) restarts every input's count when data flows again, so a
    pause releases nobody and the inputs that resume last are not made late.

  An input that never sent anything stands at the earliest timestamp the sorter saw (data
  time) and counts from the first frame of any input (wall time). A released input counts
  again as soon as it sends.

The **frontier** is the level of the last emission: every frame below it is out. A frame that
arrives below the frontier is **late**: the sorter counts it and passes it on flagged, or to
its side output — never drops it. The frontier never moves back. While no input is live but
some were only released, the level stays at the frontier; when every input ended, everything
may go out.

Memory: the data-time rule bounds what the sorter buffers to about ``idle_ticks`` of data (plus
one block) from every input; the wall-time rule to ``idle_seconds`` of arrivals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gpsa.globallevel.sortcounters import SorterCounters
from gpsa.globallevel.streamcheck import TICKS_PER_SECOND

log = logging.getLogger(__name__)

#: The level when every input ended: above any unwrapped timestamp.
EVERYTHING = 1 << 62


@dataclass
class _Progress:
    wall: float  # clock at the last frame received (or at creation)
    latest: int | None = None  # highest unwrapped timestamp sent
    released: bool = False
    ended: bool = False


class Watermark:
    """Progress of the inputs, idle releases and the frontier (see the module docstring).

    ``idle_ticks`` / ``idle_seconds``: 0 turns that rule off. ``clock``: seconds, monotonic
    (injectable for tests).
    """

    def __init__(self, names: Iterable[str], counters: SorterCounters, *, idle_ticks: int,
                 idle_seconds: float, clock: Callable[[], float]) -> None:
        self.counters, self.clock = counters, clock
        self.idle_ticks, self.idle_seconds = idle_ticks, idle_seconds
        self.inputs: dict[str, _Progress] = {}
        #: every frame below it was emitted (None before the first emission)
        self.frontier: int | None = None
        #: earliest timestamp received: where an input that sent nothing yet stands
        self.earliest: int | None = None
        #: highest timestamp received from any input
        self.top: int | None = None
        #: highest first timestamp of a block received (the data-time rule's reference)
        self.passed: int | None = None
        #: clock at the latest frame received (any input), and when data last began to flow
        #: after a silence of every input longer than idle_seconds
        self.last_any: float | None = None
        self.flow_start = 0.0
        for name in names:
            self.add(name)

    def add(self, name: str) -> None:
        if name not in self.inputs:
            self.inputs[name] = _Progress(wall=self.clock())
            self.counters.input(name)

    def touch(self, name: str) -> _Progress:
        """Input ``name`` sent something (maybe an empty block): read the clock."""
        p = self.inputs[name]
        now = p.wall = self.clock()
        if self.last_any is None or (self.idle_seconds and
                                     now - self.last_any > self.idle_seconds):
            self.flow_start = now
        self.last_any = now
        return p

    def observe(self, name: str, low: int, high: int) -> None:
        """Input ``name`` sent frames with unwrapped timestamps in [low, high]."""
        p = self.touch(name)
        p.latest = high if p.latest is None else max(p.latest, high)
        if p.released:
            p.released = False
            log.info("input %r sends again: it counts for the watermark again", name)
        self.earliest = low if self.earliest is None else min(self.earliest, low)
        self.top = high if self.top is None else max(self.top, high)
        self.passed = low if self.passed is None else max(self.passed, low)

    def end(self, name: str) -> None:
        self.add(name)
        self.inputs[name].ended = True

    @property
    def all_ended(self) -> bool:
        return bool(self.inputs) and all(p.ended for p in self.inputs.values())

    def _holder(self) -> tuple[str, _Progress] | None:
        """The live input with the lowest progress (one that sent nothing comes first)."""
        live = [(n, p) for n, p in self.inputs.items() if not (p.ended or p.released)]
        if not live:
            return None
        return min(live, key=lambda np_: -1 if np_[1].latest is None else np_[1].latest)

    def release_idle(self) -> list[str]:
        """Release, lowest first, the inputs that hold the level down while idle; their
        names. Wall time is the clock at the latest frame received (:meth:`observe`)."""
        out: list[str] = []
        if not (self.idle_ticks or self.idle_seconds):
            return out
        while (held := self._holder()) is not None:
            name, p = held
            stands = p.latest if p.latest is not None else self.earliest
            behind = (self.passed - stands) if self.passed is not None and stands is not None \
                else 0
            quiet = 0.0 if self.last_any is None else self.last_any - max(p.wall,
                                                                          self.flow_start)
            if self.idle_ticks and behind > self.idle_ticks:
                why = f"{behind / TICKS_PER_SECOND:.6f} s of data time behind the others"
            elif self.idle_seconds and quiet > self.idle_seconds:
                why = f"nothing received for {quiet:.3f} s while the others sent"
            else:
                break
            p.released = True
            self.counters.input(name).idle_releases += 1
            log.info("input %r released as idle (%s): it no longer holds the others back",
                     name, why)
            out.append(name)
        return out

    def level(self) -> int | None:
        """Frames below the level may be emitted; None: none yet."""
        if self.all_ended:
            return EVERYTHING
        held = self._holder()
        if held is None or held[1].latest is None:
            return self.frontier
        low = held[1].latest
        return low if self.frontier is None else max(self.frontier, low)

    def advance(self, to: int) -> None:
        """Everything below ``to`` was emitted."""
        self.frontier = to if self.frontier is None else max(self.frontier, to)

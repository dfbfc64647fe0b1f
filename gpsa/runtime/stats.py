"""Counters and results of a chain run: per-actor blocks, events and busy seconds, the chain's
wall time, and :class:`ChainError`."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from gpsa.errors import GpsaError


class ChainError(GpsaError):
    """An actor failed; the message names the crystal, the actor, the block and its events."""

    def __init__(self, message: str, *, actor: str = "") -> None:
        super().__init__(message)
        self.actor = actor
        #: the counters of the run up to the failure (set by the chain)
        self.result: ChainResult | None = None


@dataclass
class ActorStats:
    """Counters of one stage. ``busy_seconds`` sums the time spent inside the actor's
    ``produce``/``process``/``flush`` over all its worker threads."""

    label: str
    kind: str
    workers: int = 1
    blocks: int = 0
    events: int = 0
    busy_seconds: float = 0.0
    #: the actor's own counters at the end of the run (:meth:`Actor.counters`)
    counters: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, events: int, seconds: float, *, blocks: int = 1) -> None:
        with self._lock:
            self.blocks += blocks
            self.events += events
            self.busy_seconds += seconds

    @property
    def rate(self) -> float:
        """Events per busy second (per worker thread summed)."""
        return self.events / self.busy_seconds if self.busy_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "kind": self.kind, "workers": self.workers,
                "blocks": self.blocks, "events": self.events, "busy_seconds": self.busy_seconds,
                "events_per_busy_second": self.rate, "counters": dict(self.counters)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ActorStats:
        return cls(label=d["label"], kind=d["kind"], workers=d.get("workers", 1),
                   blocks=d["blocks"], events=d["events"], busy_seconds=d["busy_seconds"],
                   counters=dict(d.get("counters", {})))


@dataclass
class ChainResult:
    """Outcome of :meth:`gpsa.runtime.chain.Chain.run` for one crystal."""

    crystal: str
    stats: list[ActorStats]
    wall_seconds: float
    #: a stop was requested before the producer reached the end of its input
    interrupted: bool = False
    #: every input event was read and went through the whole chain (outputs committed)
    complete: bool = True
    #: blocks in flight were dropped when the stop's grace period ran out
    abandoned: bool = False
    #: threads still busy inside an actor when the chain returned (left to the process exit)
    threads_left: int = 0

    @property
    def events_in(self) -> int:
        """Events read by the producer."""
        return self.stats[0].events if self.stats else 0

    @property
    def events_out(self) -> int:
        """Events that reached the first consumer."""
        consumers = [s for s in self.stats if s.kind == "consumer"]
        return consumers[0].events if consumers else 0

    @property
    def events_not_done(self) -> int:
        """Events read but not written (dropped after a failure or an abandoned stop)."""
        return max(0, self.events_in - self.events_out)

    @property
    def rate(self) -> float:
        """Events per wall-clock second, producer to consumer."""
        return self.events_out / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"crystal": self.crystal, "wall_seconds": self.wall_seconds,
                "interrupted": self.interrupted, "complete": self.complete,
                "abandoned": self.abandoned, "threads_left": self.threads_left,
                "events_in": self.events_in, "events_out": self.events_out,
                "events_not_done": self.events_not_done, "events_per_second": self.rate,
                "actors": [s.to_dict() for s in self.stats]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChainResult:
        return cls(crystal=d["crystal"], wall_seconds=d["wall_seconds"],
                   interrupted=d["interrupted"], complete=d.get("complete", True),
                   abandoned=d.get("abandoned", False), threads_left=d.get("threads_left", 0),
                   stats=[ActorStats.from_dict(s) for s in d["actors"]])

"""The slow path's gate: pass on only the crystal events the soft trigger accepted.

:class:`Gate` takes one crystal's blocks (any table with ``event_numbers``, ``take`` and
``concat``: a :class:`~gpsa.block.CrystalBlock` before PSA) in their stream order and returns
the rows whose decision is known and *accept*, in order. Decisions come from a
:class:`~gpsa.globallevel.trigger_io.DecisionSource` as ``(accepted numbers, through)``: rows
numbered ``<= through`` are decided (accepted if listed, else rejected); the others are
**held**, waiting.

**The bound.** After each :meth:`Gate.push` at most ``max_held_events`` rows are held (while a
push runs, that plus the block pushed), i.e. about ``max_held_events`` x the size of one event
(38 x 100 float32 samples: 15 kB, so 15 MB per 1,000). A push that leaves more waits for
decisions (the slow path's backpressure), at most until the oldest held block is
``decision_timeout`` seconds old.

**Late decisions.** A block still undecided ``decision_timeout`` seconds after it arrived —
or, once the trigger has ended, any row it never decided — gets the ``late`` policy:
``"accept"`` passes it on (PSA runs anyway, nothing is lost) or ``"reject"`` drops it. Either
way it is counted (``events_late_accepted``, ``events_late_rejected``) and logged once; a
decision that comes after that is ignored for those rows. Never silent: always
``events_in = events_accepted + events_rejected + events_late_accepted + events_late_rejected
+ held``.

Event numbers must increase along the crystal's stream (checked: a :class:`BlockError`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsa.errors import BlockError, ConfigError
from gpsa.globallevel.trigger_io import DecisionSource, Update

log = logging.getLogger(__name__)

LATE_POLICIES = ("accept", "reject")
#: longest single wait for decisions, seconds (so that a stop request is seen)
_WAIT_SLICE = 0.1


@dataclass
class GateCounters:
    events_in: int = 0
    events_accepted: int = 0
    events_rejected: int = 0
    events_late_accepted: int = 0
    events_late_rejected: int = 0
    max_held: int = 0
    wait_ms: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


class Gate:
    """Hold, decide and pass on one crystal's rows (see the module docstring)."""

    def __init__(self, source: DecisionSource, *, max_held_events: int = 10_000,
                 decision_timeout: float = 10.0, late: str = "accept", crystal: str = "",
                 clock: Callable[[], float] = time.monotonic,
                 stop: Callable[[], bool] = lambda: False) -> None:
        if late not in LATE_POLICIES:
            raise ConfigError(f"late: {late!r} is not one of {', '.join(LATE_POLICIES)}")
        if max_held_events < 0 or decision_timeout < 0:
            raise ConfigError("max_held_events and decision_timeout must be >= 0")
        self.source, self.max_held, self.timeout = source, max_held_events, decision_timeout
        self.late, self.crystal, self.clock, self.stop = late, crystal, clock, stop
        self.counters = GateCounters()
        self.through = -1
        self.ended = False
        self._accepted = np.zeros(0, np.uint32)  # accepted numbers not yet matched
        self._held: list[tuple[Any, float]] = []  # (rows, arrival time), stream order
        self._n_held = 0
        self._last_number = -1
        self._warned = False

    @property
    def held(self) -> int:
        return self._n_held

    def push(self, block: Any) -> list[Any]:
        """Take a block; the accepted rows now decided (a list of blocks, maybe empty)."""
        numbers = np.asarray(block.event_numbers).astype(np.int64)
        if numbers.size:
            if numbers[0] <= self._last_number or np.any(numbers[1:] <= numbers[:-1]):
                raise BlockError(f"trigger-gate {self.crystal}: event numbers must increase "
                                 f"along the stream (block starting at {int(numbers[0])} after "
                                 f"{self._last_number})")
            self._last_number = int(numbers[-1])
            self.counters.events_in += numbers.size
            self._held.append((block, self.clock()))
            self._n_held += numbers.size
        out: list[Any] = []
        self._absorb(self.source.poll(0.0))
        self._settle(out, final=False)
        self.counters.max_held = max(self.counters.max_held, self._n_held)
        return out

    def flush(self) -> list[Any]:
        """The end of the slow path's input: wait (within the timeout) for the decisions of
        every held row, then apply the late policy to the rest."""
        out: list[Any] = []
        self._settle(out, final=True)
        return out

    # -- internals ------------------------------------------------------------------------
    def _absorb(self, update: Update) -> None:
        if update.accepted.size:
            self._accepted = np.concatenate([self._accepted, update.accepted])
        if update.through is not None:
            self.through = max(self.through, update.through)
        self.ended = self.ended or update.ended

    def _settle(self, out: list[Any], *, final: bool) -> None:
        """Release what is decided; wait while over the bound (or, at the end, while anything
        is held) until the oldest block's timeout; late policy past it."""
        while True:
            self._release(out)
            if not self._held:
                return
            if self.ended:  # nothing more will be decided
                self._apply_late(len(self._held), out, "the trigger ended without them")
                return
            age = self.clock() - self._held[0][1]
            if age >= self.timeout or self.stop():
                n = sum(1 for _, t in self._held if self.clock() - t >= self.timeout) or 1
                self._apply_late(n, out, f"no decision within {self.timeout:g} s")
                continue
            if not final and self._n_held <= self.max_held:
                return
            t0 = time.monotonic()
            self._absorb(self.source.poll(min(_WAIT_SLICE, self.timeout - age)))
            self.counters.wait_ms += int((time.monotonic() - t0) * 1000)

    def _release(self, out: list[Any]) -> None:
        """Pass on the accepted rows of the decided prefix of the held blocks."""
        parts, released = [], -1
        while self._held:
            block, t = self._held[0]
            numbers = np.asarray(block.event_numbers).astype(np.int64)
            k = int(np.searchsorted(numbers, self.through, side="right"))
            if k == 0:
                break
            done = block if k == len(numbers) else block.take(slice(0, k))
            if k == len(numbers):
                self._held.pop(0)
            else:
                self._held[0] = (block.take(slice(k, None)), t)
            self._n_held -= k
            released = int(numbers[k - 1])
            acc = np.isin(numbers[:k], self._accepted)
            n_acc = int(acc.sum())
            self.counters.events_accepted += n_acc
            self.counters.events_rejected += k - n_acc
            if n_acc:
                parts.append(done if n_acc == k else done.take(acc))
        if released >= 0:  # matched numbers go: the accepted list holds only future rows
            self._accepted = self._accepted[self._accepted.astype(np.int64) > released]
        if parts:
            out.append(parts[0] if len(parts) == 1 else type(parts[0]).concat(parts))

    def _apply_late(self, n_blocks: int, out: list[Any], why: str) -> None:
        """The late policy for the ``n_blocks`` oldest held blocks."""
        late, self._held = self._held[:n_blocks], self._held[n_blocks:]
        n = sum(len(b.event_numbers) for b, _ in late)
        self._n_held -= n
        last = int(np.asarray(late[-1][0].event_numbers)[-1])
        self.through = max(self.through, last)  # a later decision for them is ignored
        if self.late == "accept":
            self.counters.events_late_accepted += n
            blocks = [b for b, _ in late]
            out.append(blocks[0] if len(blocks) == 1 else type(blocks[0]).concat(blocks))
        else:
            self.counters.events_late_rejected += n
        (log.warning if not self._warned else log.debug)(
            "trigger-gate %s: %d event(s) without a decision (%s): %s", self.crystal or "-", n,
            why, "passed on (late = 'accept')" if self.late == "accept"
            else "dropped (late = 'reject')")
        self._warned = True

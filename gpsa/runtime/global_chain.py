"""The global chain: global actors, producers feeding them, consumers — run in one thread.

:class:`GlobalChain` moves blocks through the stages of a checked global chain
(:mod:`gpsa.config.global_stages`):

* the **inputs** (an iterator of ``(crystal, block)`` pairs, ``(crystal, None)`` when that
  crystal's input ends) go into the first stage, a global actor, as
  ``process(block, source=crystal)``; an input's end calls its ``end_input(crystal)`` when it
  has one (the time sorter: the crystal no longer holds the others back);
* what a global actor returns goes into the next global actor (``source`` = the stage's
  name), and what the last one returns to every consumer;
* a **producer** (e.g. the ancillary simulator) feeds the first global actor after it, in data
  time: before a block reaches that actor, the producer's blocks are pulled until the
  producer is at or past the block's last timestamp (a block without timestamps pulls one), so
  the actor's two inputs advance together and neither piles up;
* at the end of the inputs each global actor in turn gets the rest of its producers, then
  ``flush()``, whose blocks go on down the chain; consumers then ``flush()`` and
  ``finish(complete)``, and every actor ``stop()``.

A stop request (``context.stop_event``) ends reading between blocks; what was read still goes
through every flush, and the run is not complete. An actor's exception stops the chain: the
consumers are finished with ``complete=False`` (their outputs stay ``.partial``) and a
:class:`GlobalChainError` names the stage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gpsa.errors import GpsaError
from gpsa.runtime.actor import Actor, Block, Consumer, Producer, RunContext, block_events

log = logging.getLogger(__name__)


class GlobalChainError(GpsaError):
    """A global stage failed; the message names it."""


@dataclass
class StageStats:
    """Blocks and events into and out of one global stage, its busy seconds and counters."""

    label: str
    actor: str
    kind: str
    blocks_in: int = 0
    events_in: int = 0
    blocks_out: int = 0
    events_out: int = 0
    busy_seconds: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)
    report: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "actor": self.actor, "kind": self.kind,
                "blocks_in": self.blocks_in, "events_in": self.events_in,
                "blocks_out": self.blocks_out, "events_out": self.events_out,
                "busy_seconds": round(self.busy_seconds, 6), "counters": dict(self.counters),
                "report": self.report}


def last_timestamp(block: Block) -> int | None:
    """The last timestamp of a block (``timestamps``, or ``events.timestamps``), if any."""
    ts = getattr(block, "timestamps", None)
    if ts is None:
        ts = getattr(getattr(block, "events", None), "timestamps", None)
    try:
        return int(ts[-1]) if ts is not None and len(ts) else None
    except TypeError:
        return None


class _Feed:
    """A producer's blocks, pulled on demand."""

    def __init__(self, producer: Producer) -> None:
        self.producer, self.blocks = producer, producer.produce()
        self.last: int | None = None
        self.done = False

    def pull(self) -> Block | None:
        block = next(self.blocks, None)
        if block is None:
            self.done = True
        else:
            self.last = last_timestamp(block)
        return block


class GlobalChain:
    """Run ``actors`` (a checked global chain, names as labels) over ``inputs``; see the module
    docstring. :attr:`stats` holds one :class:`StageStats` per stage afterwards."""

    def __init__(self, actors: list[Actor], actor_names: list[str], context: RunContext) -> None:
        self.actors, self.context = actors, context
        self.stats = [StageStats(a.label, n, a.kind) for a, n in zip(actors, actor_names,
                                                                       strict=True)]
        self.n_pipe = next(i for i, a in enumerate(actors) if isinstance(a, Consumer))
        self.feeds: dict[int, list[int]] = {}  # global stage -> producers feeding it
        for i, a in enumerate(actors[:self.n_pipe]):
            if isinstance(a, Producer):
                j = next(k for k in range(i + 1, self.n_pipe) if actors[k].kind == "global")
                self.feeds.setdefault(j, []).append(i)
        self._feed: dict[int, _Feed] = {}
        self.complete = False

    def run(self, inputs: Iterable[tuple[str, Block | None]]) -> bool:
        """Start, move every block, flush, finish, stop; True when complete."""
        stop = self.context.stop_event
        started: list[Actor] = []
        try:
            for i in reversed(range(len(self.actors))):  # sinks first
                self._call(i, self.actors[i].start, self.context)
                started.append(self.actors[i])
            for i in sorted(p for ps in self.feeds.values() for p in ps):
                self._feed[i] = _Feed(self.actors[i])  # type: ignore[arg-type]
            entry = self.actors[0]
            end_input = getattr(entry, "end_input", None)
            finished = True
            for source, block in inputs:
                if stop.is_set():
                    finished = False
                    break
                if block is None:
                    if end_input is not None:
                        self._route(0, self._call(0, end_input, source))
                    continue
                self._into(0, block, source)
            for j in range(self.n_pipe):
                if self.actors[j].kind != "global":
                    continue
                for p in self.feeds.get(j, []):
                    self._drain(p, j, everything=True)
                self._route(j, self._call(j, self.actors[j].flush))
            self.complete = finished and not stop.is_set()
            self._finish(self.complete)
        except BaseException:
            self._finish(False, quiet=True)
            raise
        finally:
            for feed in self._feed.values():
                close = getattr(feed.blocks, "close", None)
                if close is not None:
                    close()
            for actor in started:
                try:
                    actor.stop()
                except Exception:  # noqa: BLE001 - stop() of the others must still run
                    log.exception("global stage %r: stop() failed", actor.label)
            self._collect()
        return self.complete

    # -- moving blocks ------------------------------------------------------------------------
    def _into(self, j: int, block: Block, source: str) -> None:
        """``block`` into pipe stage ``j`` (or the consumers when ``j`` is past the pipe)."""
        while j < self.n_pipe and self.actors[j].kind != "global":
            j += 1  # producers take no input
        if j >= self.n_pipe:
            for k in range(self.n_pipe, len(self.actors)):
                self._count_in(k, block)
                self._call(k, self.actors[k].process, block)
            return
        for p in self.feeds.get(j, []):
            self._drain(p, j, until=last_timestamp(block))
        self._count_in(j, block)
        self._route(j, self._call(j, self.actors[j].process, block, source))

    def _route(self, j: int, out: Iterable[Block] | None) -> None:
        """The blocks stage ``j`` emitted, on to the next stages."""
        for block in out or ():
            self.stats[j].blocks_out += 1
            self.stats[j].events_out += block_events(block)
            self._into(j + 1, block, self.actors[j].label)

    def _drain(self, p: int, j: int, *, until: int | None = None,
               everything: bool = False) -> None:
        """Producer ``p``'s blocks into stage ``j``: until the producer reaches data time
        ``until`` (one block when ``until`` is None), or all of them (``everything``)."""
        feed = self._feed[p]
        stop = self.context.stop_event
        while not feed.done and not stop.is_set():
            if not everything and until is not None and feed.last is not None \
                    and feed.last >= until:
                return
            block = self._call(p, feed.pull)
            if block is None:
                return
            self.stats[p].blocks_out += 1
            self.stats[p].events_out += block_events(block)
            self._count_in(j, block)
            self._route(j, self._call(j, self.actors[j].process, block, self.actors[p].label))
            if not everything and until is None:
                return

    def _count_in(self, j: int, block: Block) -> None:
        self.stats[j].blocks_in += 1
        self.stats[j].events_in += block_events(block)

    def _call(self, i: int, fn: Any, *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            out = fn(*args)
            if isinstance(out, Iterator):
                out = list(out)
            return out
        except GpsaError as exc:
            raise GlobalChainError(f"global stage {self.actors[i].label!r}: {exc}") from exc
        except Exception as exc:
            raise GlobalChainError(f"global stage {self.actors[i].label!r}: "
                                   f"{type(exc).__name__}: {exc}") from exc
        finally:
            self.stats[i].busy_seconds += time.perf_counter() - t0

    # -- the end ------------------------------------------------------------------------------
    def _finish(self, complete: bool, quiet: bool = False) -> None:
        for k in range(self.n_pipe, len(self.actors)):
            actor = self.actors[k]
            try:
                self._call(k, actor.flush)
                self._call(k, actor.finish, complete)
            except GlobalChainError:
                if not quiet:
                    raise
                log.exception("global stage %r: could not finish", actor.label)

    def _collect(self) -> None:
        for st, actor in zip(self.stats, self.actors, strict=True):
            try:
                st.counters = dict(actor.counters())
                report = getattr(actor, "report", None)
                st.report = report() if callable(report) else None
            except Exception:  # noqa: BLE001 - counters of an actor that never started
                log.debug("global stage %r: no counters", actor.label, exc_info=True)

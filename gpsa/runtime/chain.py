"""The local processing chain: producer → filters → consumers, one thread per actor.

Actors are joined by bounded queues (``queue_size`` blocks), so a slow consumer slows the producer
down instead of filling memory (backpressure). A filter marked ``thread_safe`` may run ``workers``
threads on the same actor; blocks carry sequence numbers and each worker waits for its turn
before passing its result on, so the output order is the input order and at most ``workers``
results wait at a time.

Stopping: :meth:`Chain.request_stop` (Ctrl-C, SIGTERM) makes the producer stop reading; every
block already read still goes through the filters, the filters and consumers are flushed and all
actors stopped, so outputs are complete up to the last block read. An exception in an actor stops
the chain (``abort``) and :meth:`Chain.run` raises :class:`ChainError` naming the actor, block and
events; consumers are still flushed and every actor stopped, so files stay valid.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gpsa.errors import ConfigError, GpsaError
from gpsa.runtime.actor import (
    Actor,
    Block,
    Consumer,
    Filter,
    Producer,
    RunContext,
    block_event_range,
    block_events,
)
from gpsa.runtime.stats import ActorStats, ChainError, ChainResult

log = logging.getLogger(__name__)

_END = object()  # end-of-stream marker put on queues
_POLL = 0.05  # seconds between checks of the abort flag while blocked on a queue


class Chain:
    """A linear chain for one crystal. ``workers`` maps filter labels to thread counts;
    ``on_progress(events)`` is called from the first consumer's thread after each block."""

    def __init__(self, producer: Producer, filters: Sequence[Filter], consumers: Sequence[Consumer],
                 *, workers: Mapping[str, int] | None = None, queue_size: int = 4,
                 context: RunContext | None = None,
                 on_progress: Callable[[int], None] | None = None) -> None:
        if not consumers:
            raise ConfigError("chain: at least one consumer is needed")
        self.producer, self.filters, self.consumers = producer, list(filters), list(consumers)
        self.actors: list[Actor] = [producer, *self.filters, *self.consumers]
        labels = [a.label for a in self.actors]
        dup = {x for x in labels if labels.count(x) > 1}
        if dup:
            raise ConfigError(f"chain: stage name(s) {', '.join(sorted(dup))} used twice; "
                              "set a distinct 'name' on each stage")
        self.workers = {f.label: 1 for f in self.filters} | dict(workers or {})
        for f in self.filters:
            n = self.workers[f.label]
            if n < 1 or (n > 1 and not f.thread_safe):
                raise ConfigError(f"stage {f.label!r}.workers: {n} not allowed "
                                  f"({'must be >= 1' if n < 1 else 'actor is not thread-safe'})")
        self.queue_size = queue_size
        self.context = context or RunContext()
        self.on_progress = on_progress
        self.stats = {a.label: ActorStats(a.label, a.kind, self.workers.get(a.label, 1))
                      for a in self.actors}
        self._stop = self.context.stop_event
        self._abort = threading.Event()
        self._error: ChainError | None = None
        self._lock = threading.Lock()

    # -- control ---------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Stop reading input; what was read is processed, flushed and written."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def run(self) -> ChainResult:
        """Start all actors, move every block, flush, stop. Raises :class:`ChainError`."""
        t0 = time.perf_counter()
        started: list[Actor] = []
        try:
            for actor in reversed(self.actors):  # sinks first: no block moves yet
                self._call(actor, "start", None, actor.start, self.context)
                started.append(actor)
            if self._error is None:
                self._run_threads()
        finally:
            for actor in started:
                self._call(actor, "stop", None, actor.stop)
        if self._error is not None:
            raise self._error
        return ChainResult(crystal=self.context.crystal, stats=list(self.stats.values()),
                           wall_seconds=time.perf_counter() - t0,
                           interrupted=self._stop.is_set())

    # -- threads ---------------------------------------------------------------------------
    def _run_threads(self) -> None:
        def new_queue() -> queue.Queue[Any]:
            return queue.Queue(maxsize=self.queue_size)

        threads: list[threading.Thread] = []
        q_in = new_queue()
        threads.append(threading.Thread(target=self._producer_loop, args=([q_in],),
                                        name=f"gpsa-{self.producer.label}"))
        for f in self.filters:
            q_out = new_queue()
            threads += self._filter_threads(f, q_in, [q_out])
            q_in = q_out
        if len(self.consumers) == 1:
            sinks = [q_in]
        else:  # fan-out: a tee copies every block to each consumer's queue
            sinks = [new_queue() for _ in self.consumers]
            threads.append(threading.Thread(target=self._tee, args=(q_in, sinks), name="gpsa-tee"))
        for c, q in zip(self.consumers, sinks, strict=True):
            threads.append(threading.Thread(target=self._consumer_loop, args=(c, q),
                                            name=f"gpsa-{c.label}"))
        for t in threads:
            t.daemon = True
            t.start()
        for t in threads:  # join with a timeout so signal handlers run in the main thread
            while t.is_alive():
                t.join(0.1)

    def _producer_loop(self, outs: list[queue.Queue[Any]]) -> None:
        actor, stats = self.producer, self.stats[self.producer.label]
        gen = None
        seq = 0
        try:
            gen = self._call(actor, "start of produce", None, actor.produce)
            while gen is not None and not self._stop.is_set() and not self._abort.is_set():
                t = time.perf_counter()
                try:
                    block = next(gen)
                except StopIteration:
                    break
                except Exception as exc:  # noqa: BLE001 - reported as ChainError
                    self._fail(actor, f"after block {seq}", exc)
                    break
                stats.add(block_events(block), time.perf_counter() - t)
                if not self._put(outs, (seq, block)):
                    break
                seq += 1
        finally:
            if gen is not None:
                self._call(actor, "close", None, gen.close)
            self._put(outs, _END)

    def _filter_threads(self, actor: Filter, q_in: queue.Queue[Any],
                        outs: list[queue.Queue[Any]]) -> list[threading.Thread]:
        n = self.workers[actor.label]
        stats = self.stats[actor.label]
        cond = threading.Condition()
        state = {"turn": 0, "out_seq": 0, "done": 0}

        def emit(block: Block) -> bool:
            ok = self._put(outs, (state["out_seq"], block))
            state["out_seq"] += 1
            return ok

        def worker() -> None:
            while True:
                item = self._get(q_in)
                if item is _END or item is None or self._abort.is_set():
                    if item is _END:
                        self._put([q_in], _END)  # let the sibling workers see it too
                    break
                seq, block = item
                t = time.perf_counter()
                out = self._call(actor, "process", block, actor.process, block)
                stats.add(block_events(block), time.perf_counter() - t)
                with cond:  # wait for our turn: output order = input order
                    while state["turn"] != seq and not self._abort.is_set():
                        cond.wait(_POLL)
                if self._abort.is_set():
                    break
                if out is not None:
                    emit(out)
                with cond:
                    state["turn"] += 1
                    cond.notify_all()
            with cond:
                state["done"] += 1
                last = state["done"] == n
            if last:
                if not self._abort.is_set():
                    t = time.perf_counter()
                    rest = self._call(actor, "flush", None, lambda: list(actor.flush())) or []
                    stats.add(0, time.perf_counter() - t, blocks=0)
                    for block in rest:
                        emit(block)
                self._put(outs, _END)

        return [threading.Thread(target=worker, name=f"gpsa-{actor.label}-{i}")
                for i in range(n)]

    def _tee(self, q_in: queue.Queue[Any], outs: list[queue.Queue[Any]]) -> None:
        while True:
            item = self._get(q_in)
            if item is None:
                return
            self._put(outs, item)
            if item is _END:
                return

    def _consumer_loop(self, actor: Consumer, q_in: queue.Queue[Any]) -> None:
        stats = self.stats[actor.label]
        first = actor is self.consumers[0]
        while True:
            item = self._get(q_in)
            if item is _END or item is None or self._abort.is_set():
                break
            _, block = item
            t = time.perf_counter()
            self._call(actor, "process", block, actor.process, block)
            n = block_events(block)
            stats.add(n, time.perf_counter() - t)
            if first and self.on_progress is not None:
                try:
                    self.on_progress(n)
                except Exception:  # noqa: BLE001 - a progress display never stops the run
                    log.exception("progress callback failed")
        if self._error is None or self._error.actor != actor.label:
            t = time.perf_counter()
            self._call(actor, "flush", None, actor.flush)
            stats.add(0, time.perf_counter() - t, blocks=0)

    # -- helpers ---------------------------------------------------------------------------
    def _put(self, outs: list[queue.Queue[Any]], item: Any) -> bool:
        """Put on every queue, waiting for room; False if the chain aborted meanwhile (the end
        marker is delivered anyway when possible so that downstream threads finish)."""
        for q in outs:
            while True:
                try:
                    q.put(item, timeout=_POLL)
                    break
                except queue.Full:
                    if self._abort.is_set():
                        return False
        return not self._abort.is_set()

    def _get(self, q: queue.Queue[Any]) -> Any:
        """Next item, or None once the chain aborted and the queue is empty."""
        while True:
            try:
                return q.get(timeout=_POLL)
            except queue.Empty:
                if self._abort.is_set():
                    return None

    def _call(self, actor: Actor, what: str, block: Block | None,
              func: Callable[..., Any], *args: Any) -> Any:
        """``func(*args)``; an exception becomes the chain's error (the first one wins)."""
        try:
            return func(*args)
        except Exception as exc:  # noqa: BLE001 - reported as ChainError
            where = what
            if block is not None:
                rng = block_event_range(block)
                where = f"{what} of a block of {block_events(block)} events" + (
                    f" (events {rng[0]}..{rng[1]})" if rng else "")
            self._fail(actor, where, exc)
            return None

    def _fail(self, actor: Actor, where: str, exc: BaseException) -> None:
        crystal = f"crystal {self.context.crystal}: " if self.context.crystal else ""
        err = ChainError(f"{crystal}actor {actor.label!r} ({actor.kind}) failed in {where}: "
                         f"{type(exc).__name__}: {exc}", actor=actor.label)
        err.__cause__ = exc
        if isinstance(exc, GpsaError):  # e.g. a bad calibration file found at start: exit 2
            err.exit_code = exc.exit_code
        with self._lock:
            if self._error is None:
                self._error = err
                log.debug("chain error", exc_info=exc)
        self._abort.set()

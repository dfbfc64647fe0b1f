"""The local processing chain: producer → filters → consumers, one thread per actor.

Actors are joined by bounded queues (``queue_size`` blocks), so a slow consumer slows the producer
down instead of filling memory (backpressure). A filter marked ``thread_safe`` may run ``workers``
threads on the same actor; blocks carry sequence numbers and each worker waits for its turn
before passing its result on, so the output order is the input order and at most ``workers``
results wait at a time.

What happens when things go wrong — nothing already processed is lost:

* **An actor fails** (a corrupt frame in the input, an exception in ``process``): the producer
  stops reading, the failed stage passes nothing more on (it drains and drops what reaches it,
  so the stages before it never block), and every block already past it still goes through the
  rest of the chain and is written. :meth:`Chain.run` then raises :class:`ChainError` naming the
  crystal, actor, block and events. A producer error thus loses nothing: every frame read before
  the damage is analysed and written.
* **A stop is requested** (:meth:`Chain.request_stop`, Ctrl-C, SIGTERM): the producer stops
  between blocks; the blocks in flight are finished for at most ``grace`` seconds, then
  abandoned: filters drop what they have not started, consumers write what reached them and
  return, and the chain returns without waiting for a filter still inside ``process`` (its thread
  is a daemon and is counted in :attr:`ChainResult.threads_left`).
* Consumers then get :meth:`Consumer.finish` with ``complete=True`` only if the producer reached
  the end of its input and every block went through without error or abandon; only then do they
  write end markers (meta:eof), and only then does the host commit staged outputs
  (:meth:`RunContext.output_file`).
* A second Ctrl-C (KeyboardInterrupt in the main thread) aborts at once: no flush, no finish;
  files are closed as they are.
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
_POLL = 0.05  # seconds between checks of the abandon flag while blocked on a queue
_JOIN_LIMIT = 0.25  # seconds to wait for the other threads once the consumers are done


class Chain:
    """A linear chain for one crystal. ``workers`` maps filter labels to thread counts;
    ``on_progress(events)`` is called from the first consumer's thread after each block;
    ``grace`` bounds the seconds spent on blocks in flight after a stop request (None: finish
    them all)."""

    def __init__(self, producer: Producer, filters: Sequence[Filter], consumers: Sequence[Consumer],
                 *, workers: Mapping[str, int] | None = None, queue_size: int = 4,
                 context: RunContext | None = None,
                 on_progress: Callable[[int], None] | None = None,
                 grace: float | None = None) -> None:
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
        if grace is not None and grace < 0:
            raise ConfigError(f"chain: grace must be >= 0 seconds, got {grace}")
        self.queue_size = queue_size
        self.context = context or RunContext()
        self.on_progress = on_progress
        self.grace = grace
        self.stats = {a.label: ActorStats(a.label, a.kind, self.workers.get(a.label, 1))
                      for a in self.actors}
        self._stop = self.context.stop_event
        self._halt = threading.Event()  # stop reading because an actor failed
        self._input_done = threading.Event()  # the producer reached the end of its input
        self._abandon = threading.Event()  # drop what is in flight (grace over, or abort)
        self._failed: set[str] = set()  # labels of the stages that failed
        self._writes_left: dict[int, int] = {}  # id(block) -> consumers yet to write it
        self._error: ChainError | None = None
        self._lock = threading.Lock()
        #: metrics fed for every stage when the run is monitored (:mod:`gpsa.monitor.meter`)
        self._meter = None
        if self.context.observer is not None:
            from gpsa.monitor.meter import ChainMeter

            self._meter = ChainMeter(self.context.observer.runtime, self.context.crystal,
                                     labels)

    # -- control ---------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Stop reading input; what was read is processed (within ``grace``) and written."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def run(self) -> ChainResult:
        """Start all actors, move every block, flush, finish, stop. Raises :class:`ChainError`
        (after writing what went through) or KeyboardInterrupt (second Ctrl-C, at once)."""
        t0 = time.perf_counter()
        started: list[Actor] = []
        busy: list[str] = []
        try:
            for actor in reversed(self.actors):  # sinks first: no block moves yet
                self._call(actor, "start", None, actor.start, self.context)
                if self._error is not None:
                    break
                started.append(actor)
            if self._error is None:
                if self._meter is not None:
                    self._meter.start(self.producer.expected_events)
                busy = self._run_threads()
                complete = (self._input_done.is_set() and self._error is None
                            and not self._abandon.is_set())
                for c in self.consumers:
                    if c.label not in self._failed:
                        self._call(c, "finish", None, c.finish, complete)
        except BaseException:
            self._abandon.set()  # e.g. KeyboardInterrupt: threads stop at their next check
            raise
        finally:
            if self._meter is not None:
                self._meter.end()
            for actor in started:
                if actor.label in busy:
                    log.warning("crystal %s: stage %r still busy after the stop; not stopped",
                                self.context.crystal, actor.label)
                    continue
                self._call(actor, "stop", None, actor.stop)
        for actor in self.actors:
            try:
                self.stats[actor.label].counters = dict(actor.counters())
            except Exception:  # noqa: BLE001 - counters never change the run's outcome
                log.exception("stage %r: counters() failed", actor.label)
        interrupted = not self._input_done.is_set() and self._error is None
        result = ChainResult(crystal=self.context.crystal, stats=list(self.stats.values()),
                             wall_seconds=time.perf_counter() - t0, interrupted=interrupted,
                             complete=(self._input_done.is_set() and self._error is None
                                       and not self._abandon.is_set()),
                             abandoned=self._abandon.is_set(), threads_left=len(busy))
        if self._error is not None:
            self._error.result = result  # what was done before the failure
            raise self._error
        return result

    # -- threads ---------------------------------------------------------------------------
    def _run_threads(self) -> list[str]:
        """Run every actor's thread; returns the labels of stages whose threads were still busy
        when the chain gave up on them (grace over)."""
        def new_queue() -> queue.Queue[Any]:
            return queue.Queue(maxsize=self.queue_size)

        threads: list[tuple[threading.Thread, Actor | None]] = []
        q_in = new_queue()
        threads.append((threading.Thread(target=self._producer_loop, args=([q_in],),
                                         name=f"gpsa-{self.producer.label}"), self.producer))
        for f in self.filters:
            self._watch(f.label, q_in)
            q_out = new_queue()
            threads += [(t, f) for t in self._filter_threads(f, q_in, [q_out])]
            q_in = q_out
        if len(self.consumers) == 1:
            sinks = [q_in]
        else:  # fan-out: a tee copies every block to each consumer's queue
            sinks = [new_queue() for _ in self.consumers]
            threads.append((threading.Thread(target=self._tee, args=(q_in, sinks),
                                             name="gpsa-tee"), None))
        ends: list[threading.Thread] = []
        for c, q in zip(self.consumers, sinks, strict=True):
            self._watch(c.label, q)
            t = threading.Thread(target=self._consumer_loop, args=(c, q), name=f"gpsa-{c.label}")
            threads.append((t, c))
            ends.append(t)
        for t, _ in threads:
            t.daemon = True
            t.start()
        stop_seen: float | None = None
        while True:  # poll with a timeout: signal handlers run in the main thread
            alive = [t for t in ends if t.is_alive()]
            if not alive:
                break
            alive[0].join(_POLL)
            if stop_seen is None and self._stop.is_set():
                stop_seen = time.monotonic()
            if (stop_seen is not None and self.grace is not None and not self._abandon.is_set()
                    and time.monotonic() - stop_seen >= self.grace):
                log.warning("crystal %s: stop: blocks still in flight after %.1f s are "
                            "abandoned", self.context.crystal, self.grace)
                self._abandon.set()
        if self._abandon.is_set():  # the consumers are done; give the others a moment
            limit = time.monotonic() + _JOIN_LIMIT
            for t, _ in threads:
                t.join(max(0.0, limit - time.monotonic()))
        else:
            for t, _ in threads:
                t.join()
        return sorted({a.label for t, a in threads if t.is_alive() and a is not None})

    def _producer_loop(self, outs: list[queue.Queue[Any]]) -> None:
        actor, stats = self.producer, self.stats[self.producer.label]
        gen = None
        seq = 0
        try:
            gen = self._call(actor, "start of produce", None, actor.produce)
            while gen is not None and not self._reading_stopped():
                t = time.perf_counter()
                try:
                    block = next(gen)
                except StopIteration:
                    self._input_done.set()
                    break
                except Exception as exc:  # noqa: BLE001 - reported as ChainError
                    self._fail(actor, f"produce after block {seq}", exc)
                    break
                self._count(stats, block, block_events(block), time.perf_counter() - t)
                if not self._put(outs, (seq, block)):
                    break
                seq += 1
        finally:
            if gen is not None:
                self._call(actor, "close", None, gen.close)
            self._put(outs, _END)

    def _reading_stopped(self) -> bool:
        return self._stop.is_set() or self._halt.is_set() or self._abandon.is_set()

    def _filter_threads(self, actor: Filter, q_in: queue.Queue[Any],
                        outs: list[queue.Queue[Any]]) -> list[threading.Thread]:
        n = self.workers[actor.label]
        stats = self.stats[actor.label]
        cond = threading.Condition()
        state = {"turn": 0, "out_seq": 0, "done": 0}

        def emit(block: Block) -> None:
            self._put(outs, (state["out_seq"], block))
            state["out_seq"] += 1

        def dropping() -> bool:
            return self._abandon.is_set() or actor.label in self._failed

        def worker() -> None:
            while True:
                item = self._get(q_in)
                if item is _END or item is None:
                    if item is _END:
                        self._put([q_in], _END)  # let the sibling workers see it too
                    break
                seq, block = item
                out = None
                if not dropping():
                    t = time.perf_counter()
                    out = self._call(actor, "process", block, actor.process, block)
                    self._count(stats, block, block_events(block), time.perf_counter() - t)
                with cond:  # wait for our turn: output order = input order
                    while state["turn"] != seq and not self._abandon.is_set():
                        cond.wait(_POLL)
                if out is not None and not dropping():
                    emit(out)
                with cond:
                    state["turn"] = max(state["turn"], seq) + 1
                    cond.notify_all()
            with cond:
                state["done"] += 1
                last = state["done"] == n
            if last:
                if not dropping():
                    t = time.perf_counter()
                    rest = self._call(actor, "flush", None, lambda: list(actor.flush())) or []
                    stats.add(0, time.perf_counter() - t, blocks=0)
                    for block in rest:
                        if not dropping():
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
            if item is _END or item is None:
                break
            if actor.label in self._failed:
                continue  # drain, so that the stages before never block
            _, block = item
            t = time.perf_counter()
            self._call(actor, "process", block, actor.process, block)
            if actor.label in self._failed:
                continue
            n = block_events(block)
            self._count(stats, block, n, time.perf_counter() - t)
            self._written(block)
            if first and self.on_progress is not None:
                try:
                    self.on_progress(n)
                except Exception:  # noqa: BLE001 - a progress display never stops the run
                    log.exception("progress callback failed")
        if actor.label not in self._failed:
            t = time.perf_counter()
            self._call(actor, "flush", None, actor.flush)
            stats.add(0, time.perf_counter() - t, blocks=0)

    # -- helpers ---------------------------------------------------------------------------
    def _count(self, stats: ActorStats, block: Block, events: int, seconds: float) -> None:
        """A block went through a stage: its counters, and its metrics when monitored."""
        stats.add(events, seconds)
        if self._meter is not None:
            self._meter.stages[stats.label].add(block, events, seconds)

    def _watch(self, label: str, q: queue.Queue[Any]) -> None:
        if self._meter is not None:
            self._meter.watch_queue(label, q)

    def _written(self, block: Block) -> None:
        """One consumer wrote ``block``; once all did, the producer may acknowledge it."""
        with self._lock:
            left = self._writes_left.get(id(block), len(self.consumers)) - 1
            if left:
                self._writes_left[id(block)] = left
                return
            self._writes_left.pop(id(block), None)
        self._call(self.producer, "acknowledge", block, self.producer.acknowledge, block)

    def _put(self, outs: list[queue.Queue[Any]], item: Any) -> bool:
        """Put on every queue, waiting for room; False if the chain abandoned meanwhile (the
        end marker is delivered anyway when possible so that downstream threads finish)."""
        for q in outs:
            while True:
                try:
                    q.put(item, timeout=_POLL)
                    break
                except queue.Full:
                    if self._abandon.is_set():
                        return False
        return not self._abandon.is_set()

    def _get(self, q: queue.Queue[Any]) -> Any:
        """Next item, or None once the chain abandoned (what is queued is dropped)."""
        while True:
            if self._abandon.is_set():
                return None
            try:
                return q.get(timeout=_POLL)
            except queue.Empty:
                pass

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
        """Record the error (the first one wins), stop reading, and mark the stage failed: it
        passes nothing more on, while what is already past it is still written."""
        crystal = f"crystal {self.context.crystal}: " if self.context.crystal else ""
        err = ChainError(f"{crystal}actor {actor.label!r} ({actor.kind}) failed in {where}: "
                         f"{type(exc).__name__}: {exc}", actor=actor.label)
        err.__cause__ = exc
        if isinstance(exc, GpsaError):  # e.g. a bad calibration file found at start: exit 2
            err.exit_code = exc.exit_code
        if self._meter is not None:
            self._meter.stages[actor.label].error()
        with self._lock:
            self._failed.add(actor.label)
            if self._error is None:
                self._error = err
                log.debug("chain error", exc_info=exc)
        self._halt.set()

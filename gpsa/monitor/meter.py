"""What the runtime feeds for every actor, with no per-actor code: :class:`ChainMeter` is built
by :class:`gpsa.runtime.chain.Chain` when the run has an observer.

Per stage (labels crystal, stage, worker):

==============================  =========  =================================================
``gpsa_events_total``           counter    events through the stage
``gpsa_blocks_total``           counter    blocks through the stage
``gpsa_bytes_total``            counter    bytes of the blocks' traces (blocks that have some)
``gpsa_busy_seconds_total``     counter    seconds inside produce/process/flush (all threads)
``gpsa_block_seconds``          histogram  seconds per block (the PSA stage's: PSA time)
``gpsa_queue_depth``            gauge      blocks waiting in the queue in front of the stage
``gpsa_errors_total``           counter    failures of the stage
==============================  =========  =================================================

Per crystal (stage ``""``): ``gpsa_crystal_running`` (1 while its chain runs) and
``gpsa_events_expected`` (the producer's announced total, 0 when unknown).

Cost: a block adds a few integers under one lock per stage (:meth:`StageMeter.add`, about a
microsecond); the prometheus families are made only when someone reads them
(:class:`RuntimeCollector`, at each scrape or snapshot). A crystal run again in the same process
(a batch worker's second attempt) goes on counting on the same series.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from gpsa.monitor.observe import BLOCK_BUCKETS, LABELS

_COUNTERS = (("events", "gpsa_events", "events through the stage"),
             ("blocks", "gpsa_blocks", "blocks through the stage"),
             ("bytes", "gpsa_bytes", "bytes of the traces of the blocks through the stage"),
             ("busy", "gpsa_busy_seconds", "seconds spent inside the stage's produce/process/"
              "flush, all its threads"),
             ("errors", "gpsa_errors", "failures of the stage"))


def _bytes_of(block: Any) -> Callable[[Any], int]:
    """How to read the bytes of blocks of this type."""
    traces = getattr(block, "traces", None)
    if isinstance(getattr(traces, "nbytes", None), int):
        return lambda b: b.traces.nbytes
    if isinstance(getattr(block, "nbytes", None), int):
        return lambda b: b.nbytes
    return lambda b: 0


_BYTES: dict[type, Callable[[Any], int]] = {}


def block_bytes(block: Any) -> int:
    """Bytes of a block's traces (a CrystalBlock), or its ``nbytes``; 0 when unknown."""
    read = _BYTES.get(type(block))
    if read is None:
        read = _BYTES[type(block)] = _bytes_of(block)
    return read(block)


def _zero() -> float:
    return 0.0


class StageMeter:
    """The counters of one crystal's stage, plain numbers under a lock."""

    __slots__ = ("events", "blocks", "bytes", "busy", "errors", "buckets", "depth", "_lock")

    def __init__(self) -> None:
        self.events = self.blocks = self.bytes = self.errors = 0
        self.busy = 0.0
        self.buckets = [0] * (len(BLOCK_BUCKETS) + 1)
        self.depth: Callable[[], float] = _zero
        self._lock = threading.Lock()

    def add(self, block: Any, events: int, seconds: float) -> None:
        """One block went through in ``seconds``."""
        i = bisect_left(BLOCK_BUCKETS, seconds)
        n = block_bytes(block)
        with self._lock:
            self.events += events
            self.blocks += 1
            self.bytes += n
            self.busy += seconds
            self.buckets[i] += 1

    def error(self) -> None:
        with self._lock:
            self.errors += 1

    def read(self) -> tuple[dict[str, float], list[int]]:
        with self._lock:
            return ({"events": self.events, "blocks": self.blocks, "bytes": self.bytes,
                     "busy": self.busy, "errors": self.errors}, list(self.buckets))


class RuntimeCollector:
    """Turns every :class:`StageMeter` of a process into prometheus families when read."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.stages: dict[tuple[str, str], StageMeter] = {}
        self.crystals: dict[str, tuple[list[float], Callable[[], float]]] = {}
        self._lock = threading.Lock()

    def stage(self, crystal: str, stage: str) -> StageMeter:
        with self._lock:
            return self.stages.setdefault((crystal, stage), StageMeter())

    def describe(self) -> Iterator[Any]:
        return self._families({}, {})

    def collect(self) -> Iterator[Any]:
        with self._lock:
            stages, crystals = dict(self.stages), dict(self.crystals)
        return self._families(stages, crystals)

    def _families(self, stages: dict[tuple[str, str], StageMeter],
                  crystals: dict[str, tuple[list[float], Callable[[], float]]]) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        labels = list(LABELS)
        counters = {k: CounterMetricFamily(n, doc, labels=labels) for k, n, doc in _COUNTERS}
        hist = HistogramMetricFamily("gpsa_block_seconds", "seconds per block in the stage",
                                     labels=labels)
        depth = GaugeMetricFamily("gpsa_queue_depth", "blocks waiting in the queue in front "
                                  "of the stage", labels=labels)
        for (crystal, stage), meter in stages.items():
            key = [crystal, stage, self.worker]
            values, buckets = meter.read()
            for k, fam in counters.items():
                fam.add_metric(key, values[k])
            cumulative, total = [], 0
            for bound, n in zip((*BLOCK_BUCKETS, float("inf")), buckets, strict=True):
                total += n
                cumulative.append(("+Inf" if bound == float("inf") else repr(bound), total))
            hist.add_metric(key, cumulative, values["busy"])
            depth.add_metric(key, float(meter.depth()))
        running = GaugeMetricFamily("gpsa_crystal_running", "1 while the crystal's chain runs",
                                    labels=labels)
        expected = GaugeMetricFamily("gpsa_events_expected", "events the producer announced "
                                     "(0: unknown)", labels=labels)
        for crystal, (flag, total_fn) in crystals.items():
            key = [crystal, "", self.worker]
            running.add_metric(key, flag[0])
            expected.add_metric(key, total_fn())
        yield from (*counters.values(), hist, depth, running, expected)


class ChainMeter:
    """The meters of one crystal's chain, in ``collector``."""

    def __init__(self, collector: RuntimeCollector, crystal: str,
                 labels: Iterable[str]) -> None:
        self.collector, self.crystal = collector, crystal
        self.stages = {label: collector.stage(crystal, label) for label in labels}
        self._running = [0.0]
        self._expected: Callable[[], float] = _zero
        with collector._lock:
            collector.crystals[crystal] = (self._running, lambda: self._expected())

    def watch_queue(self, stage: str, q: Any) -> None:
        """Report ``q``'s depth (read at each scrape) as the queue in front of ``stage``."""
        self.stages[stage].depth = lambda: float(q.qsize())

    def start(self, expected: Callable[[], int | None]) -> None:
        """The chain starts; ``expected`` (the producer's ``expected_events``) is read at each
        scrape: a producer may learn its total only once it reads."""
        def read() -> float:
            try:
                return float(expected() or 0)
            except Exception:  # noqa: BLE001 - a scrape never fails on an actor's account
                return 0.0

        self._expected = read
        self._running[0] = 1.0

    def end(self) -> None:
        """The chain returned: not running, queues read 0, the total is kept."""
        total = self._expected()
        self._expected = lambda: total
        self._running[0] = 0.0
        for m in self.stages.values():
            m.depth = _zero

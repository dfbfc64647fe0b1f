"""Observed variables: counters, gauges and histograms of one process, backed by
prometheus-client.

An :class:`Observer` owns one :class:`prometheus_client.CollectorRegistry` (one per process, or
per run when a process runs one): what ``/metrics`` serves and what the snapshots for the
Central Memory are read from. Every gpsa metric has the labels ``crystal``, ``stage`` and
``worker`` (no per-block label); names start with ``gpsa_`` and use base units (``_seconds``,
``_bytes``, ``_total`` for counters). The process's CPU and memory come from prometheus-client's
process collector (``gpsa_process_*``), GPU use and memory from NVML where present
(:mod:`gpsa.monitor.gpu`).

Actors reach it through their context, bound to their crystal::

    fallbacks = self.context.metrics.counter("gpsa_mlpsa_fallbacks_total",
                                             "events sent back to the grid search",
                                             stage=self.label)
    fallbacks.inc(n)

Declaring a name again returns the same metric (one per name); a name declared with another
type raises ValueError.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)

LABELS = ("crystal", "stage", "worker")
#: seconds: from 100 µs (a small block through a cheap filter) to 30 s (a large PSA block)
BLOCK_BUCKETS = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
_NAME = re.compile(r"^gpsa_[a-z0-9_]+$")
_KINDS: dict[str, type] = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}


class Observer:
    """The metrics of one process (see module docstring). ``worker`` is the value of the
    ``worker`` label on everything it declares (``main``, ``w0``, a batch worker's id)."""

    def __init__(self, worker: str = "main", *, process: bool = True, gpu: bool = True) -> None:
        self.worker = worker
        disable_created_metrics()  # no *_created series: half the page, nothing reads them
        self.registry = CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, tuple[str, Any]] = {}
        self._lock = threading.Lock()
        from gpsa.monitor.meter import RuntimeCollector

        #: the per-stage metrics the chains feed (:mod:`gpsa.monitor.meter`)
        self.runtime = RuntimeCollector(worker)
        self.registry.register(self.runtime)
        if process:
            ProcessCollector(namespace="gpsa", registry=self.registry)
        if gpu:
            from gpsa.monitor.gpu import register_gpu

            register_gpu(self.registry, worker)

    def _declare(self, kind: str, name: str, doc: str, extra: Sequence[str] = (),
                 **kwargs: Any) -> Any:
        if not _NAME.match(name):
            raise ValueError(f"metric name {name!r}: use gpsa_ followed by lower-case letters, "
                             "digits and '_'")
        with self._lock:
            known = self._metrics.get(name)
            if known is not None:
                if known[0] != kind:
                    raise ValueError(f"metric {name!r} is a {known[0]}, not a {kind}")
                return known[1]
            base = name[:-len("_total")] if kind == "counter" and name.endswith("_total") \
                else name
            metric = _KINDS[kind](base, doc or name, labelnames=(*LABELS, *extra),
                                  registry=self.registry, **kwargs)
            self._metrics[name] = (kind, metric)
            return metric

    def counter(self, name: str, doc: str = "", *, crystal: str = "", stage: str = "") -> Any:
        """The counter ``name`` for this crystal and stage (``.inc(n)``)."""
        return self._declare("counter", name, doc).labels(crystal, stage, self.worker)

    def gauge(self, name: str, doc: str = "", *, crystal: str = "", stage: str = "") -> Any:
        """The gauge ``name`` (``.set(x)``, ``.inc()``, ``.set_function(f)``)."""
        return self._declare("gauge", name, doc).labels(crystal, stage, self.worker)

    def histogram(self, name: str, doc: str = "", *, crystal: str = "", stage: str = "",
                  buckets: Sequence[float] = BLOCK_BUCKETS) -> Any:
        """The histogram ``name`` (``.observe(x)``); ``buckets`` apply at the first declaration."""
        return self._declare("histogram", name, doc, buckets=tuple(buckets)).labels(
            crystal, stage, self.worker)

    def labelled(self, kind: str, name: str, doc: str, extra: Sequence[str]) -> Any:
        """A metric with labels beyond crystal/stage/worker (e.g. ``alarm``), unbound."""
        return self._declare(kind, name, doc, extra)

    def for_crystal(self, crystal: str) -> Metrics:
        return Metrics(self, crystal)

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        """Every sample now: (name, labels, value)."""
        return [(s.name, s.labels, s.value) for family in self.registry.collect()
                for s in family.samples]


class Metrics:
    """An :class:`Observer` bound to one crystal: what :attr:`RunContext.metrics` holds."""

    def __init__(self, observer: Observer, crystal: str) -> None:
        self.observer, self.crystal = observer, crystal

    def counter(self, name: str, doc: str = "", *, stage: str = "") -> Any:
        return self.observer.counter(name, doc, crystal=self.crystal, stage=stage)

    def gauge(self, name: str, doc: str = "", *, stage: str = "") -> Any:
        return self.observer.gauge(name, doc, crystal=self.crystal, stage=stage)

    def histogram(self, name: str, doc: str = "", *, stage: str = "",
                  buckets: Sequence[float] = BLOCK_BUCKETS) -> Any:
        return self.observer.histogram(name, doc, crystal=self.crystal, stage=stage,
                                       buckets=buckets)


def detached_metrics() -> Metrics:
    """Metrics that nobody publishes (a context made outside a run, e.g. in a unit test)."""
    return Observer("", process=False, gpu=False).for_crystal("")

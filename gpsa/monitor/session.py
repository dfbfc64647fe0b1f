"""The monitoring of one process for the length of a run: an
:class:`~gpsa.monitor.observe.Observer` handed to the chains, the ``/metrics`` server when a
port is set, and a thread that every ``interval`` seconds takes a snapshot, checks the alarms
and publishes it to the Central Memory when the run has one.

Ports: the run file's ``metrics_port`` for a simple run; ``metrics_port + i`` for worker
process ``i`` of a parallel run (:mod:`gpsa.runtime.modes`); a free port taken by the OS for
each batch worker (several may run on one host), announced in its log line and in its
snapshots' ``metrics_url``.
"""

from __future__ import annotations

import logging
import os
import platform
import threading
from collections.abc import Callable
from typing import Any

from gpsa.monitor.alarms import Alarms
from gpsa.monitor.observe import Observer
from gpsa.monitor.publish import RedisPublisher, metrics_url, serve_metrics
from gpsa.monitor.settings import MonitorConfig
from gpsa.monitor.snapshot import RateTracker, build_snapshot

log = logging.getLogger(__name__)


class MonitorSession:
    """See module docstring. ``port``: None for the config's ``metrics_port``, else this one
    (0 = a free port); ``redis``: a Central Memory URL or client ("" = none); ``on_alarm``:
    called with each alarm entry that fires. Use as a context manager."""

    def __init__(self, config: MonitorConfig, *, worker: str = "main", port: int | None = None,
                 redis: Any = "", device: str = "",
                 on_alarm: Callable[[dict[str, Any]], None] | None = None,
                 run_name: str | None = None) -> None:
        self.config, self.worker, self.device = config, worker, device
        self.run_name = run_name or config.run_name
        self.observer = Observer(worker)
        self.alarms = Alarms(config.alarms, self.observer, on_alarm)
        self.rates = RateTracker()
        self._want_port = config.metrics_port if port is None else port
        self._serve = config.metrics_port != 0
        self._redis = redis
        self.publisher: RedisPublisher | None = None
        self.port: int | None = None
        self.url = ""
        self._server: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: dict[str, Any] | None = None

    def __enter__(self) -> MonitorSession:
        if self._serve:
            self._server, self.port = serve_metrics(self.observer.registry, self._want_port)
            self.url = metrics_url(self.port)
            log.info("monitoring: worker %s serves its metrics on %s", self.worker, self.url)
        if self._redis and self.config.interval > 0:
            client = self._redis
            if isinstance(client, str):
                from gpsa.central.connection import connect

                client = connect(client, retries=3, check=False)
            self.publisher = RedisPublisher(client, self.run_name)
        if self.config.interval > 0 and (self.publisher is not None or self.config.alarms):
            self._thread = threading.Thread(target=self._loop, name="monitor-snapshots",
                                            daemon=True)
            self._thread.start()
        return self

    @property
    def active(self) -> bool:
        """Whether anything reads the metrics (a /metrics server, snapshots, alarms): only then
        do the chains feed :attr:`observer`."""
        return self._server is not None or self._thread is not None

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """A last snapshot (final counts, alarms), then stop the thread and the server."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(5.0)
            self._thread = None
            self.tick()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def tick(self) -> dict[str, Any]:
        """A snapshot now (with rates), the alarms checked on it, published."""
        samples = self.observer.samples()
        snap = self.rates.add(build_snapshot(
            samples, run=self.run_name, worker=self.worker, host=platform.node(),
            pid=os.getpid(), device=self.device, metrics_url=self.url))
        if self.config.alarms:
            self.alarms.check(snap, samples)
            snap["alarms"] = build_snapshot(self.observer.samples())["alarms"]
        if self.publisher is not None:
            self.publisher.send(snap)
        self.last = snap
        return snap

    def _loop(self) -> None:
        while not self._stop.wait(self.config.interval):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - monitoring never stops the run
                log.exception("monitoring: snapshot failed")

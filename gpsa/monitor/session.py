"""The monitoring of one process for the length of a run: an
:class:`~gpsa.monitor.observe.Observer` handed to the chains, the ``/metrics`` server when a
port is set, and a thread that every ``interval`` seconds takes a snapshot, checks the alarms
and hands it to a second thread that publishes it to the Central Memory when the run has one
(so a hanging Central Memory delays the publishing, never the alarms; the latest snapshot is
sent when it answers again, those in between are skipped).

Ports: the run file's ``metrics_port`` for a simple run; ``metrics_port + i`` for worker
process ``i`` of a parallel run (:mod:`gpsa.runtime.modes`); a free port taken by the OS for
each batch worker (several may run on one host), announced in its log line and in its
snapshots' ``metrics_url``.

A batch worker passes ``last_beat`` (its lease's :attr:`~gpsa.central.lease.Lease.last_beat`):
the session then exports ``gpsa_heartbeat_age_seconds{worker}``, the seconds since the last
heartbeat the Central Memory took, which the ``heartbeat_age`` alarms read.
"""

from __future__ import annotations

import logging
import os
import platform
import threading
import time
from collections.abc import Callable
from typing import Any

from gpsa.monitor.alarms import Alarms
from gpsa.monitor.observe import Observer
from gpsa.monitor.publish import RedisPublisher, metrics_url, serve_metrics
from gpsa.monitor.settings import MonitorConfig
from gpsa.monitor.snapshot import RateTracker, build_snapshot

log = logging.getLogger(__name__)

#: the gauge of a batch worker's heartbeat age (the ``heartbeat_age`` alarm metric)
HEARTBEAT_AGE = "gpsa_heartbeat_age_seconds"


class MonitorSession:
    """See module docstring. ``port``: None for the config's ``metrics_port``, else this one
    (0 = a free port); ``redis``: a Central Memory URL or client ("" = none); ``on_alarm``:
    called with each alarm entry that fires; ``last_beat``: the monotonic time of the process's
    last heartbeat (a batch worker's lease), exported as ``gpsa_heartbeat_age_seconds``. Use as
    a context manager."""

    def __init__(self, config: MonitorConfig, *, worker: str = "main", port: int | None = None,
                 redis: Any = "", device: str = "",
                 on_alarm: Callable[[dict[str, Any]], None] | None = None,
                 run_name: str | None = None,
                 last_beat: Callable[[], float | None] | None = None) -> None:
        self.config, self.worker, self.device = config, worker, device
        self.run_name = run_name or config.run_name
        self.observer = Observer(worker)
        self.alarms = Alarms(config.alarms, self.observer, on_alarm)
        if last_beat is not None:
            def age() -> float:
                beat = last_beat()
                return 0.0 if beat is None else round(max(0.0, time.monotonic() - beat), 3)

            self.observer.gauge(HEARTBEAT_AGE, "seconds since the worker's last heartbeat "
                                "taken by the Central Memory").set_function(age)
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
        # the snapshot thread hands each snapshot to a sender thread, so that a Central Memory
        # that hangs delays the publishing (latest snapshot only), never the alarm checks
        self._sender: threading.Thread | None = None
        self._outbox: dict[str, Any] | None = None
        self._outbox_lock = threading.Lock()
        self._outbox_ready = threading.Event()
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
            if self.publisher is not None:
                self._sender = threading.Thread(target=self._send_loop, name="monitor-publish",
                                                daemon=True)
                self._sender.start()
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
            if self._sender is not None:
                self._outbox_ready.set()
                self._sender.join(5.0)
                self._sender = None
            self.tick()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def tick(self, publish: bool = True) -> dict[str, Any]:
        """A snapshot now (with rates), the alarms checked on it, published (``publish``)."""
        samples = self.observer.samples()
        snap = self.rates.add(build_snapshot(
            samples, run=self.run_name, worker=self.worker, host=platform.node(),
            pid=os.getpid(), device=self.device, metrics_url=self.url))
        if self.config.alarms:
            self.alarms.check(snap, samples)
            snap["alarms"] = build_snapshot(self.observer.samples())["alarms"]
        if publish and self.publisher is not None:
            self.publisher.send(snap)
        self.last = snap
        return snap

    def _loop(self) -> None:
        while not self._stop.wait(self.config.interval):
            try:
                snap = self.tick(publish=self._sender is None)
            except Exception:  # noqa: BLE001 - monitoring never stops the run
                log.exception("monitoring: snapshot failed")
                continue
            if self._sender is not None:
                with self._outbox_lock:
                    self._outbox = snap
                self._outbox_ready.set()

    def _send_loop(self) -> None:
        assert self.publisher is not None
        while True:
            self._outbox_ready.wait()
            self._outbox_ready.clear()
            with self._outbox_lock:
                snap, self._outbox = self._outbox, None
            if snap is not None:
                self.publisher.send(snap)  # never raises (warns once)
            if self._stop.is_set():
                return

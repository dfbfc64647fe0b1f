"""A worker's heartbeat thread: renews the lease of the workload it holds, keeps its registry
entry alive, and gives the workload back at once when a stop is requested.

The thread wakes every 0.1 s; every :attr:`Lease.interval` seconds (lease / 5, between 0.1 and
2 s: 2 s for the default 10 s lease) it sends, in one pipeline, the heartbeat script (which resets
the entry's idle time only while this worker still owns it) and the registry hash
``gpsa:{RUN}:worker:ID`` (host, pid, device, current workload, events, rate, state) with a TTL of
max(lease, 3 intervals). It only needs the GIL for a few milliseconds per beat: the numba and GPU
kernels of the PSA release it, and CPython hands it over every 5 ms to pure-Python code, so a
lease of 10 s leaves a wide margin. When the stop event is set (SIGTERM), the held workload is
released within 0.1 s, before the chain has finished stopping. A lost lease (another worker
reclaimed the workload) is only recorded (:attr:`Lease.lost`): the worker's commit will be refused
by the fence.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from gpsa.central.workqueue import Claim, WorkQueue

log = logging.getLogger(__name__)

_TICK = 0.1


class Lease:
    """Heartbeat thread of worker ``worker`` (see module docstring); ``info``: registry fields."""

    def __init__(self, queue: WorkQueue, worker: str, info: dict[str, Any], stop_event: Any,
                 interval: float | None = None) -> None:
        lease_s = queue.lease_ms / 1000
        self.queue, self.worker, self.stop_event = queue, worker, stop_event
        self.interval = interval or min(2.0, max(_TICK, lease_s / 5))
        self.ttl = max(lease_s, 3 * self.interval)
        self.info: dict[str, Any] = {**info, "state": "idle", "workload": "", "entry": "",
                                     "events": 0, "rate": 0.0, "done": 0, "failed": 0}
        self.claim: Claim | None = None
        self.lost = False
        self.released = False
        #: time.monotonic() of the last heartbeat Redis took (None before the first)
        self.last_beat: float | None = None
        self._since = 0.0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._due = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpsa-batch-lease", daemon=True)

    def start(self) -> Lease:
        self.queue.register_worker(self.worker, self.info, self.ttl)
        self.last_beat = time.monotonic()
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)

    def hold(self, claim: Claim) -> None:
        with self._lock:
            self.claim, self.lost, self.released = claim, False, False
            self._since = time.monotonic()
            self.info.update(state="working", workload=claim.workload, entry=claim.entry,
                             events=0, rate=0.0, deliveries=claim.deliveries)
        self._due.set()

    def settling(self) -> None:
        """Stop renewing the lease: the commit (or fail) that follows settles the workload, so
        a heartbeat after it would find the entry gone and must not count as a lost lease."""
        with self._lock:
            self.claim = None

    def drop(self, outcome: str | None = None) -> None:
        with self._lock:
            self.claim = None
            if outcome in ("done", "failed"):
                self.info[outcome] = int(self.info[outcome]) + 1
            self.info.update(state="stopping" if self.stop_event.is_set() else "idle",
                             workload="", entry="", deliveries="")
        self._due.set()

    def progress(self, events: int, total: int | None = None) -> None:
        """``on_progress`` of :func:`gpsa.runtime.runner.run_crystal`: events of one block."""
        with self._lock:
            n = int(self.info["events"]) + events
            elapsed = time.monotonic() - self._since
            self.info.update(events=n, rate=round(n / elapsed, 1) if elapsed > 0 else 0.0,
                             total=total or "")

    def release_now(self, why: str) -> bool:
        """Give the held workload back (once); True if it was released by this call."""
        with self._lock:
            claim = self.claim
            if claim is None or self.released or self.lost:
                return False
            self.released = True
            self.info["state"] = "stopping"
        try:
            ok = self.queue.release(claim, why)
        except Exception as exc:  # noqa: BLE001 - the lease then expires by itself
            log.warning("%s: could not release %s: %s", self.worker, claim.workload, exc)
            return False
        log.info("%s: released %s (%s)", self.worker, claim.workload, why)
        self._due.set()
        return ok

    def _run(self) -> None:
        next_beat = 0.0
        while not self._closed.is_set():
            if self.stop_event.is_set() and self.claim is not None and not self.released:
                self.release_now("stop requested")
            now = time.monotonic()
            if now >= next_beat or self._due.is_set():
                self._due.clear()
                self._beat()
                next_beat = now + self.interval
            self._closed.wait(_TICK)

    def _beat(self) -> None:
        with self._lock:
            claim = None if self.released or self.lost else self.claim
            info = dict(self.info)
        try:
            pipe = self.queue.client.pipeline(transaction=False)
            if claim is not None:
                self.queue.heartbeat(claim, client=pipe)
            self.queue.register_worker(self.worker, info, self.ttl, client=pipe)
            res = pipe.execute()
        except Exception as exc:  # noqa: BLE001 - Redis away: retried on the next beat
            log.warning("%s: heartbeat failed: %s", self.worker, exc)
            return
        self.last_beat = time.monotonic()
        if claim is not None and not res[0]:
            with self._lock:
                if self.claim is claim and not self.lost:
                    self.lost = True
                    self.info["state"] = "lost-lease"
            log.warning("%s: lease of %s lost (reclaimed by another worker); its commit will "
                        "be refused", self.worker, claim.workload)

"""Where ``gpsa monitor`` reads a run from.

* :class:`RedisSource`: the run's snapshots in the Central Memory: the last ones of the history
  stream at start, then the live ones from the pub/sub channel; for a batch run also the
  workers' registry (:func:`gpsa.central.workstatus.worker_rows`: host, device, heartbeat age;
  ``stale`` when the age is past :func:`stale_after` of the run's lease).
* :class:`MetricsSource`: one or more processes' ``/metrics`` endpoints, scraped (rates from
  successive scrapes).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from gpsa.monitor.publish import channel, history_key, read_history
from gpsa.monitor.snapshot import RateTracker, build_snapshot, merge, parse_metrics_text

log = logging.getLogger(__name__)


def stale_after(lease_s: float) -> float:
    """Heartbeat age (s) past which ``gpsa monitor`` marks a batch worker ``STALE``: 2.5
    heartbeat intervals of :class:`~gpsa.central.lease.Lease` (lease / 5, between 0.1 and 2 s),
    at least 1 s: 5 s for the default 10 s lease."""
    return max(1.0, 2.5 * min(2.0, max(0.1, lease_s / 5)))


def latest_run(client: Any) -> str | None:
    """The run whose history stream has the newest snapshot, or None."""
    best: tuple[str, str] | None = None
    for key in client.scan_iter(match="gpsa:{*}:monitor:history", count=200):
        key = key.decode() if isinstance(key, bytes) else key
        last = client.xrevrange(key, count=1)
        if last:
            entry = last[0][0].decode() if isinstance(last[0][0], bytes) else last[0][0]
            stamp = tuple(int(x) for x in entry.split("-"))
            if best is None or stamp > tuple(int(x) for x in best[1].split("-")):
                best = (key, entry)
    if best is None:
        return None
    return best[0][len("gpsa:{"):-len("}:monitor:history")]


class RedisSource:
    """A run's snapshots from the Central Memory (see module docstring)."""

    def __init__(self, client: Any, run: str) -> None:
        self.client, self.run = client, run
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(channel(run))
        self.snaps = merge(read_history(client, run, count=200))

    def poll(self, timeout: float) -> dict[str, dict[str, Any]]:
        """Read what was published for up to ``timeout`` seconds; the latest per process."""
        import time

        end = time.monotonic() + timeout
        fresh = []
        while True:
            left = end - time.monotonic()
            msg = self.pubsub.get_message(timeout=max(0.0, left))
            if msg is not None and msg.get("type") == "message":
                fresh.append(json.loads(msg["data"]))
            if left <= 0:
                break
        if fresh:
            self.snaps = merge([*self.snaps.values(), *fresh])
        return self.snaps

    def batch_workers(self) -> list[dict[str, Any]] | None:
        """The batch run's registered workers, when ``run`` is a batch run."""
        from gpsa.central.workqueue import WorkQueue
        from gpsa.central.workstatus import worker_rows

        try:
            queue = WorkQueue(self.client, self.run)
            if not queue.exists():
                return None
            snap = queue.snapshot()
        except Exception as exc:  # noqa: BLE001 - not a batch run (or a bad name)
            log.debug("no batch status for %s: %s", self.run, exc)
            return None
        rows = worker_rows(snap)
        limit = stale_after(int(snap.meta.get("lease_ms") or 10_000) / 1000)
        for r in rows:
            r["metrics"] = snap.workers.get(r["worker"], {}).get("metrics", "")
            r["stale"] = r["heartbeat_age"] > limit
        return rows

    def close(self) -> None:
        self.pubsub.close()

    @property
    def history(self) -> str:
        return history_key(self.run)


class MetricsSource:
    """Scrapes ``/metrics`` URLs (see module docstring)."""

    def __init__(self, urls: list[str], timeout: float = 5.0) -> None:
        self.urls, self.timeout = urls, timeout
        self.rates = {u: RateTracker() for u in urls}
        self.snaps: dict[str, dict[str, Any]] = {}

    def poll(self, timeout: float) -> dict[str, dict[str, Any]]:
        import time

        time.sleep(timeout)
        for url in self.urls:
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                    text = resp.read().decode()
            except OSError as exc:
                log.warning("%s: %s", url, exc)
                continue
            samples = parse_metrics_text(text)
            worker = next((lab["worker"] for n, lab, _ in samples if "worker" in lab), "")
            self.snaps[url] = self.rates[url].add(build_snapshot(
                samples, worker=worker, host=url.split("/")[2], metrics_url=url))
        return self.snaps

    def batch_workers(self) -> None:
        return None

    def close(self) -> None:
        pass

"""Publishing a process's metrics.

* **/metrics** (:func:`serve_metrics`): prometheus-client's HTTP server on a thread, serving the
  process's registry in the Prometheus text format. Port 0 asks the OS for a free port (batch
  workers); the port taken is returned and announced in the log and in the snapshots
  (``metrics_url``).
* **Central Memory** (:class:`RedisPublisher`): each snapshot is sent with ``PUBLISH`` on the
  run's channel ``gpsa:{RUN}:monitor`` (live values; pub/sub drops slow subscribers, which is
  fine for monitoring) and appended with ``XADD ... MAXLEN ~ N`` to the stream
  ``gpsa:{RUN}:monitor:history`` (history with bounded retention; the stream also expires
  :data:`HISTORY_TTL` seconds after its last entry). Entries hold one field, ``snapshot``
  (JSON).
"""

from __future__ import annotations

import json
import logging
import socket
from typing import Any

log = logging.getLogger(__name__)

#: entries kept in a run's history stream (about an hour of 1 s snapshots of 4 processes)
HISTORY_LEN = 15000
#: seconds the history stream lives after its last entry
HISTORY_TTL = 7 * 24 * 3600


def channel(run: str) -> str:
    return f"gpsa:{{{run}}}:monitor"


def history_key(run: str) -> str:
    return f"gpsa:{{{run}}}:monitor:history"


def serve_metrics(registry: Any, port: int, addr: str = "0.0.0.0") -> tuple[Any, int]:
    """Start the /metrics server; (server, port taken). Raises OSError naming the port."""
    from prometheus_client import start_http_server

    try:
        server, _thread = start_http_server(port, addr=addr, registry=registry)
    except OSError as exc:
        raise OSError(exc.errno, f"metrics port {port}: {exc.strerror or exc}") from None
    return server, int(server.server_port)


def metrics_url(port: int) -> str:
    return f"http://{socket.gethostname()}:{port}/metrics"


class RedisPublisher:
    """Sends snapshots of one process to the run's channel and history stream."""

    def __init__(self, client: Any, run: str, *, maxlen: int = HISTORY_LEN) -> None:
        self.client, self.run, self.maxlen = client, run, maxlen
        self.channel, self.history = channel(run), history_key(run)
        self._warned = False

    def send(self, snap: dict[str, Any]) -> bool:
        """Publish and append one snapshot (one pipelined round trip); False when Redis did not
        take it (warned once; monitoring never stops the run)."""
        text = json.dumps(snap, separators=(",", ":"))
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.publish(self.channel, text)
            pipe.xadd(self.history, {"snapshot": text}, maxlen=self.maxlen, approximate=True)
            pipe.expire(self.history, HISTORY_TTL)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001 - Redis away: the next snapshot tries again
            if not self._warned:
                log.warning("monitoring: could not publish to the Central Memory: %s", exc)
                self._warned = True
            return False
        self._warned = False
        return True


def read_history(client: Any, run: str, count: int = 100) -> list[dict[str, Any]]:
    """The last ``count`` snapshots of a run's history stream, oldest first."""
    entries = client.xrevrange(history_key(run), count=count)
    out = []
    for _id, fields in reversed(entries):
        raw = fields.get(b"snapshot", fields.get("snapshot"))
        if raw is not None:
            out.append(json.loads(raw))
    return out

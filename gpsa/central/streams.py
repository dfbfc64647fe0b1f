"""Blocks through Redis streams: the layout another language needs to join, and the transport.

**Keys** (one crystal's chain, all on one Redis Cluster shard through the ``{run:crystal}`` hash
tag): ``gpsa:{RUN:CRYSTAL}:STREAM`` is the stream of blocks between two stages (e.g. ``pre`` after
preprocessing, ``psa`` after PSA); ``gpsa:{RUN:CRYSTAL}:STREAM:end`` is set once by the writer
when its input ended: a JSON object ``{"blocks": B, "events": N, "complete": true}``.

**Entry** (one block, written with XADD): fields ``adf`` — the block as concatenated ADF frames
(data:crystal, data:ccrystal or data:psa; layouts in ``gpsa/adf/FORMATS.md``); ``seq`` — the
block's number in the original stream (0, 1, 2, ...; kept through N parallel workers, so the
last reader can restore the order and drop a block processed twice); ``events``,
``first_event``, ``last_event`` (decimal text).

**Reading**: consumer group ``GROUP`` (XGROUP CREATE ... 0 MKSTREAM); XREADGROUP hands each entry
to one consumer; the consumer XACKs **and XDELs** it only after the block was written
downstream, so XLEN is the work not yet done. A consumer that dies leaves its entries pending;
others take them over with XAUTOCLAIM once idle for ``claim_idle_ms`` (a live consumer keeps its
entries by touching them, XCLAIM ... JUSTID, from a heartbeat thread).

**Backpressure**: a writer waits while XLEN >= ``max_pending`` (never ``MAXLEN`` trimming, which
drops unread work). Size ``maxmemory`` above the sum over a chain's streams of
``max_pending`` × block size: then the length bound keeps the server within its memory. With
``noeviction`` an XADD refused for memory anyway is retried for ``oom_wait`` seconds while
readers drain, then fails with one line naming the stream — never silent loss. (Memory too small
for the bounds can stall a chain: a worker frees its input only after writing its output.)
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gpsa.errors import GpsaError

log = logging.getLogger(__name__)

DEFAULT_GROUP = "gpsa"


class StreamError(GpsaError):
    """A Central Memory stream cannot be written or read (full server, lost upstream)."""


def stream_key(run: str, crystal: str, stream: str) -> str:
    """``gpsa:{RUN:CRYSTAL}:STREAM`` (see the module docstring)."""
    return f"gpsa:{{{run}:{crystal}}}:{stream}"


def consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def encode_block(value: Any, registry: Any) -> bytes:
    """The block as ADF frames."""
    from gpsa.adf import AdfWriter

    buf = io.BytesIO()
    AdfWriter(buf, registry=registry).write(value)
    return buf.getvalue()


def decode_block(data: bytes, registry: Any) -> Any:
    """The one block value (CrystalBlock or PsaBlock) held in ``data``."""
    from gpsa.adf import read_all

    block = read_all(data, registry=registry)
    values = [v for k, v in block.values.items() if k in ("data:crystal", "data:ccrystal")]
    return values[0] if values else block.psa


@dataclass
class Entry:
    id: str
    seq: int
    data: bytes
    events: int
    first_event: int
    last_event: int

    @classmethod
    def from_fields(cls, entry_id: Any, f: dict[bytes, bytes]) -> Entry:
        ident = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        return cls(ident, int(f[b"seq"]), f[b"adf"], int(f[b"events"]),
                   int(f[b"first_event"]), int(f[b"last_event"]))


class StreamWriter:
    """XADD of blocks with backpressure on XLEN (see the module docstring)."""

    def __init__(self, client: Any, key: str, *, max_pending: int = 32,
                 oom_wait: float = 60.0, poll: float = 0.02) -> None:
        self.client, self.key = client, key
        self.max_pending, self.oom_wait, self.poll = max_pending, oom_wait, poll
        self.blocks = self.events = self.refused = 0
        self.waited_seconds = 0.0

    def add(self, data: bytes, *, seq: int, events: int, first_event: int,
            last_event: int, stop: threading.Event | None = None) -> None:
        import redis

        t0 = time.monotonic()
        while self.client.xlen(self.key) >= self.max_pending:
            if stop is not None and stop.is_set():
                break
            time.sleep(self.poll)
        fields = {"adf": data, "seq": seq, "events": events, "first_event": first_event,
                  "last_event": last_event}
        while True:
            try:
                self.client.xadd(self.key, fields)
                break
            except redis.ResponseError as exc:  # OutOfMemoryError: maxmemory + noeviction
                full = isinstance(exc, getattr(redis, "OutOfMemoryError", ())) or \
                    "maxmemory" in str(exc)
                if not full or time.monotonic() - t0 > self.oom_wait:
                    raise StreamError(f"{self.key}: XADD refused: {exc} (maxmemory reached with "
                                      "noeviction; nothing was dropped)") from None
                self.refused += 1
                time.sleep(self.poll * 5)
        self.waited_seconds += time.monotonic() - t0
        self.blocks += 1
        self.events += events

    def clear_finished(self) -> None:
        """Before a run's first block: remove this stream if an earlier run finished it (end
        marker set); refuse a stream that holds unfinished work (StreamError)."""
        if self.client.exists(self.key + ":end"):
            self.client.delete(self.key, self.key + ":end")
        elif self.client.xlen(self.key):
            raise StreamError(f"{self.key} holds {self.client.xlen(self.key)} blocks of an "
                              "unfinished run; give this run another name (the stream actors' "
                              "'run' setting) or delete the key")

    def end(self, *, complete: bool, blocks: int | None = None,
            events: int | None = None) -> None:
        """Mark the stream's input as ended (idempotent for the same totals)."""
        self.client.set(self.key + ":end", json.dumps({
            "blocks": self.blocks if blocks is None else blocks,
            "events": self.events if events is None else events, "complete": complete}))


class StreamReader:
    """A consumer of one stream in group ``group`` (see the module docstring)."""

    def __init__(self, client: Any, key: str, *, group: str = DEFAULT_GROUP,
                 consumer: str | None = None, count: int = 1, block_ms: int = 200,
                 claim_idle_ms: int = 10_000) -> None:
        import redis

        self.client, self.key, self.group = client, key, group
        self.consumer = consumer or consumer_name()
        self.count, self.block_ms, self.claim_idle_ms = count, block_ms, claim_idle_ms
        self.held: dict[str, Entry] = {}
        self._lock = threading.Lock()
        self._beat_stop = threading.Event()
        try:
            client.xgroup_create(key, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._beat = threading.Thread(target=self._heartbeat, name="gpsa-stream-heartbeat",
                                      daemon=True)
        self._beat.start()

    def end_info(self) -> dict[str, Any] | None:
        raw = self.client.get(self.key + ":end")
        return json.loads(raw) if raw else None

    def entries(self, stop: threading.Event | None = None) -> Iterator[Entry]:
        """Entries for this consumer until the stream's end is set and no work is left in it
        (XLEN == 0: every entry written downstream by some consumer), or ``stop``."""
        while stop is None or not stop.is_set():
            got = self._claim_idle() or self._read_new()
            if got:
                yield from got
                continue
            if self.end_info() is not None and self.client.xlen(self.key) == 0:
                return

    def _read_new(self) -> list[Entry]:
        resp = self.client.xreadgroup(self.group, self.consumer, {self.key: ">"},
                                      count=self.count, block=self.block_ms)
        return self._keep([(i, f) for _, items in resp or [] for i, f in items if f])

    def _claim_idle(self) -> list[Entry]:
        resp = self.client.xautoclaim(self.key, self.group, self.consumer,
                                      min_idle_time=self.claim_idle_ms, start_id="0-0",
                                      count=self.count)
        items = resp[1] if resp else []
        got = self._keep([(i, f) for i, f in items if f])
        if got:
            log.warning("%s: took over %d block(s) idle for %d ms (a consumer died?)",
                        self.key, len(got), self.claim_idle_ms)
        return got

    def _keep(self, items: list[tuple[Any, dict[bytes, bytes]]]) -> list[Entry]:
        out = [Entry.from_fields(i, f) for i, f in items]
        with self._lock:
            self.held.update({e.id: e for e in out})
        return out

    def done(self, entry_ids: list[str]) -> None:
        """The blocks were written downstream: XACK and XDEL them."""
        if not entry_ids:
            return
        pipe = self.client.pipeline()
        pipe.xack(self.key, self.group, *entry_ids)
        pipe.xdel(self.key, *entry_ids)
        pipe.execute()
        with self._lock:
            for i in entry_ids:
                self.held.pop(i, None)

    def _heartbeat(self) -> None:
        """Touch the held entries so that nobody takes them over while this consumer lives."""
        period = max(0.1, self.claim_idle_ms / 3000)
        while not self._beat_stop.wait(period):
            with self._lock:
                ids = list(self.held)
            if ids:
                try:
                    self.client.xclaim(self.key, self.group, self.consumer, 0, ids, justid=True)
                except Exception as exc:  # noqa: BLE001 - retried at the next beat
                    log.debug("heartbeat: %s", exc)

    def close(self) -> None:
        self._beat_stop.set()
        self._beat.join(1.0)

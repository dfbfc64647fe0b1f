"""Built-in plugin: the Central Memory stream actors ``redis-writer`` and ``redis-reader``.

With them a crystal's chain can be cut anywhere, e.g. producer → preprocessing → stream ``pre``
→ N PSA processes on any machine (``gpsa worker psa``) → stream ``psa`` → post-PSA → files. Keys,
entry fields and the protocol are in :mod:`gpsa.central.streams` and ``docs/central-memory.md``.
Run file example::

    [run]
    redis = "redis://farm:6379/0"   # or --redis, GPSA_REDIS_URL; none: an embedded server

    [[stage]]
    actor = "redis-reader"
    stream = "psa"                  # gpsa:{RUN:CRYSTAL}:psa
    ordered = true                  # restore the block order, drop blocks processed twice

    [[stage]]
    actor = "redis-writer"
    stream = "pre"

The reader acknowledges (XACK + XDEL) an entry only after the blocks it became were written by
every consumer of its chain; the writer waits while the stream holds ``max_pending`` unread
blocks (backpressure) and marks the stream's end when its input is complete.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from gpsa.actors.common import codec_registry
from gpsa.config.params import Param
from gpsa.errors import ConfigError
from gpsa.plugins.hookspecs import hookimpl
from gpsa.runtime.actor import Block, Consumer, Producer, RunContext, block_event_range

log = logging.getLogger(__name__)

#: RunContext.extra keys shared by a reader and a writer in one chain
SEQ_KEY, END_KEY, READER_KEY = "central_seq", "central_end", "central_reader"


def _url(actor: Any, context: RunContext) -> str:
    url = actor.redis or context.extra.get("redis_url", "")
    if not url:
        raise ConfigError(f"stage {actor.label!r}: no Redis URL (set [run] redis, --redis or "
                          "GPSA_REDIS_URL)")
    return str(url)


class _StreamActor:
    stream = Param(str, help="stream name: the key is gpsa:{RUN:CRYSTAL}:STREAM")
    run = Param(str, "gpsa", "run name in the keys (several runs can share one Redis)")
    redis = Param(str, "", "Redis URL (default: the run's)")

    def check(self, context: RunContext) -> list[str]:
        """The Redis server answers (one line naming the URL otherwise)."""
        from gpsa.central.connection import connect

        connect(_url(self, context)).close()
        return []


class RedisWriter(_StreamActor, Consumer):
    """Blocks into a Central Memory stream (ADF frames per entry), with backpressure."""

    name = "redis-writer"
    max_pending = Param(int, 32, "wait while the stream holds this many unread blocks", min=1)
    fresh = Param(bool, True, "the stream must not hold another run's blocks: one that "
                  "finished (end marker set) is removed, unfinished work is refused (false in "
                  "`gpsa worker`, whose writers share their output stream)")

    def start(self, context: RunContext) -> None:
        from gpsa.central.connection import connect
        from gpsa.central.streams import StreamWriter, stream_key

        super().start(context)
        self.client = connect(_url(self, context))
        self.key = stream_key(self.run, context.crystal, self.stream)
        self.writer = StreamWriter(self.client, self.key, max_pending=self.max_pending)
        if self.fresh:
            self.writer.clear_finished()
        self.registry = codec_registry()
        #: first event -> seqs of the blocks a reader of this chain yielded (a block delivered
        #: twice, e.g. after a server restart, is there twice)
        self.seqs: dict[int, list[int]] = context.extra.setdefault(SEQ_KEY, {})
        self.seq_lock = context.extra.setdefault(SEQ_KEY + "_lock", threading.Lock())

    def process(self, block: Block) -> None:
        rng = block_event_range(block) or (0, -1)
        with self.seq_lock:
            pending = self.seqs.get(rng[0])
            seq = pending.pop(0) if pending else None
            if pending is not None and not pending:
                del self.seqs[rng[0]]
        if seq is None and self.context.extra.get(READER_KEY):
            from gpsa.central.streams import StreamError

            raise StreamError(f"{self.key}: no input block starts at event {rng[0]}: a "
                              "filter between a redis-reader and a redis-writer must keep "
                              "blocks whole")
        if seq is None:  # the first stream of the chain: number the blocks
            seq = self.writer.blocks
        from gpsa.central.streams import encode_block

        self.writer.add(encode_block(block, self.registry), seq=seq, events=len(block),
                        first_event=rng[0], last_event=rng[1])

    def finish(self, complete: bool) -> None:
        upstream = self.context.extra.get(END_KEY)
        if upstream is not None:  # a worker between two streams: the input's totals
            self.writer.end(complete=complete and upstream["complete"],
                            blocks=upstream["blocks"], events=upstream["events"])
        else:
            self.writer.end(complete=complete)

    def counters(self) -> dict[str, int]:
        w = getattr(self, "writer", None)
        return {} if w is None else {"blocks_sent": w.blocks,
                                     "backpressure_ms": int(w.waited_seconds * 1000),
                                     "writes_refused_full": w.refused}

    def stop(self) -> None:
        c = getattr(self, "client", None)
        if c is not None:
            c.close()


class RedisReader(_StreamActor, Producer):
    """Blocks from a Central Memory stream (consumer group; acknowledged after the write)."""

    name = "redis-reader"
    group = Param(str, "gpsa", "consumer group (every reader of one group shares the work)")
    ordered = Param(bool, False, "yield blocks in their original order and drop duplicates "
                    "(the last reader after parallel workers)")
    claim_idle_ms = Param(int, 10_000, "take over blocks a dead consumer held this long",
                          min=100)

    def start(self, context: RunContext) -> None:
        from gpsa.central.connection import connect
        from gpsa.central.streams import StreamReader, stream_key

        super().start(context)
        self.client = connect(_url(self, context))
        self.reader = StreamReader(self.client, stream_key(self.run, context.crystal,
                                                           self.stream),
                                   group=self.group, claim_idle_ms=self.claim_idle_ms)
        self.seqs: dict[int, list[int]] = context.extra.setdefault(SEQ_KEY, {})
        self.seq_lock = context.extra.setdefault(SEQ_KEY + "_lock", threading.Lock())
        context.extra[READER_KEY] = True
        self._pending: list[tuple[int, str]] = []  # (last event, entry id) not yet written
        self._lock = threading.Lock()
        self.duplicates = self.blocks = 0

    def produce(self) -> Iterator[Block]:
        from gpsa.central.streams import StreamError, decode_block

        registry = codec_registry()
        buffered: dict[int, Any] = {}
        next_seq, last_event = 0, -1
        for entry in self.reader.entries(self.context.stop_event):
            if self.ordered and (entry.seq < next_seq or entry.seq in buffered):
                self.duplicates += 1  # processed twice upstream (a worker died after writing)
                self.reader.done([entry.id])
                continue
            if self.ordered:
                buffered[entry.seq] = entry
                while next_seq in buffered:
                    nxt = buffered.pop(next_seq)
                    if nxt.first_event <= last_event:  # a mislabelled block: never merge it
                        raise StreamError(f"{self.reader.key}: block {next_seq} starts at event "
                                          f"{nxt.first_event}, not after {last_event}")
                    last_event = nxt.last_event
                    yield self._emit(nxt, registry, decode_block)
                    next_seq += 1
            else:
                yield self._emit(entry, registry, decode_block)
        end = self.reader.end_info()
        if self.context.stop_event.is_set() or end is None:
            return
        if self.ordered and (buffered or next_seq != end["blocks"]):
            raise StreamError(f"{self.reader.key}: {end['blocks']} blocks announced, "
                              f"{next_seq} in order, {len(buffered)} out of order")
        if not end["complete"]:
            raise StreamError(f"{self.reader.key}: the stage that wrote it did not complete "
                              f"({end['blocks']} blocks, {end['events']} events)")
        self.context.extra[END_KEY] = end

    def _emit(self, entry: Any, registry: Any, decode: Callable[[bytes, Any], Any]) -> Block:
        with self._lock:
            self._pending.append((entry.last_event, entry.id))
        with self.seq_lock:
            self.seqs.setdefault(entry.first_event, []).append(entry.seq)
        self.blocks += 1
        return decode(entry.data, registry)

    def acknowledge(self, block: Block) -> None:
        """Every consumer wrote ``block``: its entries (and any before it) are done."""
        rng = block_event_range(block)
        if rng is None:
            return
        with self._lock:
            done = [i for last, i in self._pending if last <= rng[1]]
            self._pending = [(last, i) for last, i in self._pending if last > rng[1]]
        self.reader.done(done)

    def counters(self) -> dict[str, int]:
        return {"blocks_received": getattr(self, "blocks", 0),
                "duplicates_dropped": getattr(self, "duplicates", 0)}

    def stop(self) -> None:
        r = getattr(self, "reader", None)
        if r is not None:
            r.close()
        c = getattr(self, "client", None)
        if c is not None:
            c.close()


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(RedisReader)
    register(RedisWriter)

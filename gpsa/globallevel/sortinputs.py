"""Inputs of the time sorter: N ADF files or N Central Memory streams of data:psa blocks.

* :func:`sort_files` — one ADF file per crystal, read with :func:`gpsa.adf.iter_blocks`. The
  next block is always read from the input that is furthest behind in time: no input can be
  idle, so the sorter's timeouts must be off (a wall-time timeout would release the input to
  be read next while the others are decoded), and with time-ordered files no frame is late.
* :class:`RedisPsaInputs` — one stream per crystal (``gpsa:{RUN:CRYSTAL}:psa``, see
  :mod:`gpsa.central.streams`), all read by one XREADGROUP call of one consumer group. An
  input ends when its stream's end marker was set before a read that brought nothing new for
  it. An entry is acknowledged (XACK + XDEL) once the sorter emitted all its frames and the
  caller came back for the next block, so a sorter that dies loses no block (at least once;
  its unacknowledged entries stay pending in the group). Late frames kept apart
  (``late = "side"``) count as emitted: take them with ``TimeSorter.take_side`` between blocks.

Both are generators of the sorted blocks; they end with the sorter's flush.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from gpsa.adf.reader import Source, iter_blocks
from gpsa.block import PsaBlock
from gpsa.central.streams import DEFAULT_GROUP, Entry, consumer_name, decode_block, stream_key
from gpsa.errors import ConfigError
from gpsa.globallevel.sorter import TimeSorter

log = logging.getLogger(__name__)
T = TypeVar("T")

#: frames per block read from a file: decoding costs ~0.5 us/frame at 1,000, ~0.4 at 16,384
FILE_FRAMES_PER_BLOCK = 16384


def psa_blocks(source: Source, *, frames_per_block: int | None = FILE_FRAMES_PER_BLOCK,
               **options: Any) -> Iterator[PsaBlock]:
    """The data:psa blocks of an ADF source (other frames are counted by the reader, not
    yielded). ``options``: see :class:`gpsa.adf.reader.AdfReader`."""
    for block in iter_blocks(source, frames_per_block=frames_per_block, **options):
        psa = block.psa
        if psa is not None and len(psa):
            yield psa


def furthest_behind(inputs: Mapping[str, Iterator[T]],
                    position: Callable[[str, T], int | None]) -> Iterator[tuple[str, T | None]]:
    """``(name, block)`` from the input furthest behind in time, ``(name, None)`` when an input
    ends. ``position(name, block)`` is where an input stands after its block was handled by the
    caller (asked when the caller comes back; None: unchanged). The inputs are closed at the
    end, also when the caller stops early."""
    behind: dict[str, int] = dict.fromkeys(inputs, -1)
    try:
        while behind:
            name = min(behind, key=behind.__getitem__)
            block = next(inputs[name], None)
            if block is None:
                del behind[name]
                yield name, None
                continue
            yield name, block
            at = position(name, block)
            if at is not None:
                behind[name] = at
    finally:
        for it in inputs.values():
            close = getattr(it, "close", None)
            if close is not None:
                close()


def sort_files(files: Mapping[str, Source], sorter: TimeSorter | None = None, *,
               frames_per_block: int | None = FILE_FRAMES_PER_BLOCK,
               **options: Any) -> Iterator[Any]:
    """The time-sorted blocks of the ADF files ``files`` (input name -> path or bytes), merged
    by ``sorter`` (default: a new one; timeouts must be off, see the module docstring).
    Decoding ahead in a second thread was tried and dropped: decoding and merging both hold the
    GIL for much of their time, and it was no faster (bench/bench_sorter.py)."""
    if sorter is None:
        sorter = TimeSorter(files, idle_ticks=0, idle_seconds=0)
    wm = sorter.watermark
    if wm.idle_ticks or wm.idle_seconds:
        raise ConfigError("sort_files reads each file when it is behind, so no input is idle: "
                          "give a TimeSorter with idle_ticks=0 and idle_seconds=0")
    readers = {name: psa_blocks(src, frames_per_block=frames_per_block, **options)
               for name, src in files.items()}
    for name in readers:
        sorter.add_input(name)
    for name, block in furthest_behind(readers,
                                       lambda name, _: sorter.checks[name].latest or 0):
        yield from sorter.end(name) if block is None else sorter.push(name, block)
    yield from sorter.flush()


class RedisPsaInputs:
    """N Central Memory streams of data:psa blocks read into a sorter (module docstring).

    keys:     input name -> stream key (see :meth:`for_crystals`)
    group:    consumer group (created at the start of each stream if missing)
    count:    entries per stream and read
    block_ms: how long one read waits for new entries (the wall clock is checked after it)
    """

    def __init__(self, client: Any, keys: Mapping[str, str], *, group: str = DEFAULT_GROUP,
                 consumer: str | None = None, count: int = 8, block_ms: int = 100,
                 registry: Any = None) -> None:
        self.client, self.keys, self.group = client, dict(keys), group
        self.consumer = consumer or consumer_name()
        self.count, self.block_ms, self.registry = count, block_ms, registry
        self.entries = 0

    @classmethod
    def for_crystals(cls, client: Any, run: str, crystals: list[str], *, stream: str = "psa",
                     **options: Any) -> RedisPsaInputs:
        """Streams ``gpsa:{RUN:CRYSTAL}:STREAM``, one input per crystal named after it."""
        return cls(client, {c: stream_key(run, c, stream) for c in crystals}, **options)

    def sorted_blocks(self, sorter: TimeSorter,
                      stop: threading.Event | None = None) -> Iterator[Any]:
        import redis

        for name, key in self.keys.items():
            sorter.add_input(name)
            try:
                self.client.xgroup_create(key, self.group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        live = dict(self.keys)
        by_key = {key: name for name, key in live.items()}
        while live and (stop is None or not stop.is_set()):
            pipe = self.client.pipeline(transaction=False)
            for key in live.values():
                pipe.exists(key + ":end")
            ended = {name for name, done in zip(live, pipe.execute(), strict=True) if done}
            resp = self.client.xreadgroup(self.group, self.consumer,
                                          {key: ">" for key in live.values()},
                                          count=self.count, block=self.block_ms)
            got: set[str] = set()
            for raw_key, items in resp or []:
                key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
                name = by_key[key]
                got.add(name)
                for entry_id, fields in items:
                    if fields:
                        yield from self._push(sorter, name, key, Entry.from_fields(entry_id,
                                                                                   fields))
            for name in sorted(ended - got):
                del live[name]
                yield from sorter.end(name)
            self._ack(sorter.take_done())
        if stop is None or not stop.is_set():
            yield from sorter.flush()
            self._ack(sorter.take_done())

    def _push(self, sorter: TimeSorter, name: str, key: str, entry: Entry) -> Iterator[Any]:
        self.entries += 1
        block = decode_block(entry.data, self.registry)
        if block is None:
            log.warning("%s: entry %s holds no data:psa frames (acknowledged)", key, entry.id)
            self._ack([(key, entry.id)])
            return
        yield from sorter.push(name, block, tag=(key, entry.id))
        self._ack(sorter.take_done())

    def _ack(self, tags: list[Any]) -> None:
        """XACK + XDEL the entries whose frames are all out."""
        by_key: dict[str, list[str]] = {}
        for tag in tags:
            if tag is not None:
                by_key.setdefault(tag[0], []).append(tag[1])
        if not by_key:
            return
        pipe = self.client.pipeline()
        for key, ids in by_key.items():
            pipe.xack(key, self.group, *ids)
            pipe.xdel(key, *ids)
        pipe.execute()

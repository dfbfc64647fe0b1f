"""Streaming ADF reader: blocks of whole frames from a file or binary stream, decoded per block.

The file is read in chunks (never all at once); a numba walk over the length words finds the
frame boundaries, and each block's frames are decoded key by key with vectorised codecs.

Bad input never passes silently (architecture principle 5). On a bad length, a truncated frame
or a payload its codec refuses, the frames before it are delivered first, then
:class:`gpsa.errors.AdfError` names the file, the byte offset and the frame index. With
``resync=True`` the reader records the error in :class:`AdfStats`, skips the bad frame (payload
errors) or scans forward to the next plausible frame key (bad lengths: a key in the table with a
plausible length, followed by the end of the file or by another key with a plausible length),
counts the skipped bytes and goes on.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator
from typing import IO, Any, BinaryIO

import numpy as np

from gpsa.adf.codecs import CodecRegistry, Context, FrameCut, default_registry
from gpsa.adf.decode import decode_frames
from gpsa.adf.header import (
    HEADER_SIZE,
    SCAN_END,
    SCAN_HUGE,
    SCAN_LIMIT,
    SCAN_NEED,
    SCAN_SHORT,
    find_resync,
    read_headers,
    scan_frames,
)
from gpsa.adf.keys import KeyTable
from gpsa.adf.result import AdfBlock, AdfStats
from gpsa.errors import AdfError, ConfigError

log = logging.getLogger(__name__)

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO | IO[bytes]
#: Block size used when neither a frame nor a byte limit is given.
DEFAULT_BLOCK_BYTES = 8 << 20
#: Frames declaring more bytes than this are treated as corrupt (a garbage length would otherwise
#: make the reader buffer the rest of the file).
DEFAULT_MAX_FRAME_BYTES = 256 << 20
_NO_LIMIT = 1 << 62


class AdfReader:
    """Iterate over the :class:`AdfBlock` s of an ADF source.

    source:           path, bytes, or binary stream (read with ``readinto`` or ``read``)
    frames_per_block: at most this many frames per block
    bytes_per_block:  at most this many bytes per block (default 8 MiB when neither limit is
                      given); a frame is never split, a larger frame makes a block of its own
    keys:             key table or key table file (default: AGATA)
    resync:           on corrupt input record the error, skip and go on instead of raising
    keep_unknown:     keep frames with keys outside the table as RawFrames (always counted)
    registry:         codecs (default :func:`gpsa.adf.codecs.default_registry`)
    chunk_bytes:      read size; the buffer grows beyond it only for large blocks or frames
    max_frame_bytes:  longer frames are treated as corrupt lengths
    stats:            an :class:`AdfStats` to accumulate into (also available as ``.stats``)

    Blocks also end where a codec cannot continue a value (data:crystal trace shape change)
    and around frames skipped in resync mode, so a block may hold fewer frames than asked.
    """

    def __init__(self, source: Source, *, frames_per_block: int | None = None,
                 bytes_per_block: int | None = None, keys: KeyTable | str | None = None,
                 resync: bool = False, keep_unknown: bool = True,
                 registry: CodecRegistry | None = None, chunk_bytes: int = 4 << 20,
                 max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
                 stats: AdfStats | None = None) -> None:
        for name, val in (("frames_per_block", frames_per_block),
                          ("bytes_per_block", bytes_per_block), ("chunk_bytes", chunk_bytes)):
            if val is not None and val < 1:
                raise ConfigError(f"{name} must be at least 1, got {val}")
        self.source = source
        self.keys = KeyTable.coerce(keys)
        self.registry = registry or default_registry()
        self.registry.check(self.keys)
        self.max_frames = frames_per_block or _NO_LIMIT
        self.max_bytes = bytes_per_block or (DEFAULT_BLOCK_BYTES if frames_per_block is None
                                             else _NO_LIMIT)
        self.resync, self.keep_unknown = resync, keep_unknown
        self.chunk_bytes, self.max_frame_bytes = chunk_bytes, max_frame_bytes
        self.name = _source_name(source)
        self._known = self.keys.known_values()
        self.stats = stats if stats is not None else AdfStats()
        self.stats.source = self.name

    def __iter__(self) -> Iterator[AdfBlock]:
        with _open(self.source, self.name) as stream:
            yield from self._run(stream)

    # -- the chunked walk ---------------------------------------------------------------------
    def _run(self, stream: Any) -> Iterator[AdfBlock]:
        # store[:end] holds the bytes from file offset ``base`` on; it is reused between fills
        # (decoded values never alias it)
        store, end, base, eof = np.zeros(0, np.uint8), 0, 0, False
        bstart = cur = 0  # block start and walk position in the store
        parts: list[np.ndarray] = []
        n_block = frame_index = 0
        while True:
            buf = store[:end]
            starts, stop, status, need = scan_frames(buf, cur, bstart, n_block, self.max_frames,
                                                     self.max_bytes, self.max_frame_bytes)
            if starts.size:
                parts.append(starts)
                n_block += starts.size
            cur = int(stop)
            if status in (SCAN_END, SCAN_NEED) and not eof:
                keep = bstart
                store, end, eof = self._fill(stream, store, end, keep, cur + int(need) - keep)
                base, cur, bstart = base + keep, cur - keep, 0
                parts = [p - keep for p in parts]
                continue
            if n_block:
                yield from self._deliver(buf, base, np.concatenate(parts), frame_index)
                frame_index += n_block
            parts, n_block, bstart = [], 0, cur
            if status == SCAN_LIMIT:
                continue
            if status == SCAN_END:
                return
            self._fail(f"frame {frame_index}{self._length_problem(buf, cur, status)}",
                       base + cur)
            # resync: look for the next plausible frame key after the bad position
            start, q = base + cur, cur + 1
            while True:
                q, found = find_resync(store[:end], q, self._known, self.max_frame_bytes, eof)
                q = int(q)
                if found or eof:
                    break
                store, end, eof = self._fill(stream, store, end, q, end - q + self.chunk_bytes)
                base, q = base + q, 0
            cur = bstart = q
            self._skip(start, base + q - start)

    def _fill(self, stream: Any, store: np.ndarray, end: int, keep: int,
              need: int) -> tuple[np.ndarray, int, bool]:
        """Move ``store[keep:end]`` to the front and read after it until the buffer is full, so
        that at least ``need`` bytes are held (fewer only at end of input). The buffer grows
        geometrically, so large blocks or frames cost linear copying; it is reused otherwise
        (no page faults on fresh memory for every chunk). Returns ``(store, end, eof)``."""
        kept = end - keep
        want = max(need, kept + self.chunk_bytes)
        if want > store.size:
            new = np.empty(max(want, 2 * store.size), np.uint8)
            new[:kept] = store[keep:end]
            store = new
        elif keep:
            store[:kept] = store[keep:end]  # numpy handles the overlap
        room = store.size - kept
        got = _read_into(stream, store[kept:])
        return store, kept + got, got < room

    # -- delivery, errors ---------------------------------------------------------------------
    def _deliver(self, buf: np.ndarray, base: int, starts: np.ndarray,
                 frame_index: int) -> Iterator[AdfBlock]:
        """Decode and yield the frames at ``starts``: one block, or several where a codec cuts.
        Frames before a refused frame are always yielded before the error is raised."""
        ctx = Context(self.keys, self.registry, self.name, base, self.keep_unknown)
        while starts.size:
            try:
                yield self._block(buf, base, starts, frame_index, ctx)
                return
            except FrameCut as exc:
                cut = exc
            k = cut.index
            if k:
                yield self._block(buf, base, starts[:k], frame_index, ctx)
            if cut.reason is not None:
                hdr = read_headers(buf, starts[k:k + 1])[0]
                where = base + int(starts[k])
                self._fail(f"frame {frame_index + k} ({self.keys.label(int(hdr['key']))}): "
                           f"{cut.reason}", where if cut.offset is None else cut.offset)
                self._skip(where, int(hdr["length"]))
                k += 1
            starts, frame_index = starts[k:], frame_index + k

    def _block(self, buf: np.ndarray, base: int, starts: np.ndarray, frame_index: int,
               ctx: Context) -> AdfBlock:
        dec = decode_frames(buf, starts, ctx)
        block = AdfBlock(base + int(starts[0]), frame_index, dec.headers, starts + base,
                         dec.values, dec.unknown, self.keys)
        st = self.stats
        st.frames.update(block.counts)
        st.bytes += block.n_bytes
        st.blocks += 1
        st.unknown_frames += sum(dec.unknown.values())
        return block

    def _fail(self, reason: str, offset: int) -> None:
        err = AdfError(reason, source=self.name, offset=offset)
        if not self.resync:
            raise err
        log.warning("%s (resync: skipping)", err)
        self.stats.errors.append(str(err))

    def _skip(self, offset: int, n_bytes: int) -> None:
        if n_bytes > 0:
            log.warning("%s: skipped %d bytes at byte offset %d", self.name, n_bytes, offset)
            self.stats.skips.append((offset, n_bytes))
            self.stats.skipped_bytes += n_bytes

    def _length_problem(self, buf: np.ndarray, cur: int, status: int) -> str:
        """What is wrong with the frame key at ``cur``: ``" (key): reason"``."""
        left = buf.size - cur
        if left < HEADER_SIZE:
            return (f": truncated frame key: {left} bytes left at end of file, a key needs "
                    f"{HEADER_SIZE}")
        hdr = read_headers(buf, np.array([cur]))[0]
        length, label = int(hdr["length"]), self.keys.label(int(hdr["key"]))
        if status == SCAN_SHORT:
            return f" ({label}): length {length} is less than the {HEADER_SIZE}-byte frame key"
        if status == SCAN_HUGE:
            return (f" ({label}): length {length} exceeds the {self.max_frame_bytes}-byte limit "
                    f"(corrupt length?)")
        return (f" ({label}): length {length} runs past end of file ({left} bytes left): "
                f"truncated frame")


def iter_blocks(source: Source, *, frames_per_block: int | None = None,
                bytes_per_block: int | None = None, keys: KeyTable | str | None = None,
                resync: bool = False, **options: Any) -> Iterator[AdfBlock]:
    """Yield :class:`AdfBlock` s of at most ``frames_per_block`` frames and/or
    ``bytes_per_block`` bytes (default 8 MiB; a larger frame makes a block of its own; a frame is
    never split). Further keyword options: see :class:`AdfReader`."""
    return iter(AdfReader(source, frames_per_block=frames_per_block,
                          bytes_per_block=bytes_per_block, keys=keys, resync=resync, **options))


def read_all(source: Source, **options: Any) -> AdfBlock:
    """The whole source as one block (values concatenated per key). Loads everything: for large
    files iterate with :func:`iter_blocks`."""
    reader = AdfReader(source, **options)
    blocks = list(reader)
    return AdfBlock.concat(blocks) if blocks else AdfBlock.empty(reader.keys)


def _source_name(source: Source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<stream>"


@contextlib.contextmanager
def _open(source: Source, name: str) -> Iterator[Any]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        try:
            fh = open(source, "rb")
        except OSError as exc:
            raise AdfError(f"cannot open: {exc.strerror or exc}", source=name) from None
        with fh:
            yield fh
    else:
        yield source


def _read_into(stream: Any, out: np.ndarray) -> int:
    """Fill ``out`` from ``stream`` until full or end of input; returns the bytes read."""
    view, got = memoryview(out), 0
    readinto = getattr(stream, "readinto", None)
    while got < out.size:
        if readinto is not None:
            n = readinto(view[got:])
        else:
            data = stream.read(out.size - got)
            n = len(data)
            out[got:got + n] = np.frombuffer(data, np.uint8)
        if not n:
            break
        got += n
    return got

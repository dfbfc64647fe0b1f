"""ADF writer: blocks in, frames out, one vectorised encode per :meth:`AdfWriter.write` call.

``AdfWriter(path).write(crystal_block)`` writes one data:crystal v1 frame per event, a
:class:`gpsa.block.PsaBlock` one data:psa frame per event (event number and timestamp from the
block). Text, key-only, composite and raw values write their own keys. What the reader decodes,
the writer writes back bit-exactly.
"""

from __future__ import annotations

import logging
import os
from types import TracebackType
from typing import IO, Any, BinaryIO

import numpy as np

from gpsa.adf.codecs import CodecRegistry, Context, KeyOnlyFrames, TextFrames, default_registry
from gpsa.adf.keys import KeyTable
from gpsa.adf.result import AdfBlock
from gpsa.errors import AdfError, OutputError

log = logging.getLogger(__name__)


class AdfWriter:
    """Write ADF frames to a path (created or truncated; ``append=True`` appends) or to a binary
    stream (left open). Use as a context manager; with ``eof=True`` a meta:eof frame is written
    when the writer is closed without an exception."""

    def __init__(self, target: str | os.PathLike[str] | BinaryIO | IO[bytes], *,
                 keys: KeyTable | str | None = None, registry: CodecRegistry | None = None,
                 eof: bool = False, append: bool = False) -> None:
        self.keys = KeyTable.coerce(keys)
        self.registry = registry or default_registry()
        self.registry.check(self.keys)
        self._ctx = Context(self.keys, self.registry)
        self.eof = eof
        self.frames_written = 0
        self.bytes_written = 0
        if isinstance(target, (str, os.PathLike)):
            self.name = os.fspath(target)
            try:
                self._fh: Any = open(target, "ab" if append else "wb")
            except OSError as exc:
                raise AdfError(f"cannot open for writing: {exc.strerror or exc}",
                               source=self.name) from None
            self._owned = True
        else:
            self.name = getattr(target, "name", "<stream>")
            self._fh, self._owned = target, False
        self._closed = False

    # -- writing ------------------------------------------------------------------------------
    def write(self, value: Any) -> int:
        """Encode and write ``value`` (CrystalBlock, PsaBlock, PsaBlockV0, TrackedBlock,
        TextFrames, KeyOnlyFrames, CompositeFrames, RawFrames or an AdfBlock); returns the
        number of frames written."""
        if isinstance(value, AdfBlock):
            return self.write_block(value)
        name, codec = self.registry.for_value(value, self.keys)
        key = self.keys.value_of(name) if name is not None else 0
        enc = codec.encode(value, key, self._ctx)
        return self._emit(enc.data, len(enc))

    def write_block(self, block: AdfBlock) -> int:
        """Write the frames of a block read by :func:`gpsa.adf.iter_blocks` in their original
        order (unknown frames only if the reader kept them)."""
        from gpsa.adf.encode import encode_sequence

        keys = block.headers["key"]
        present = np.array([self.keys.label(int(k)) in block.values for k in keys.tolist()],
                           bool) if keys.size else np.zeros(0, bool)
        enc = encode_sequence(block.values, keys[present], self._ctx)
        return self._emit(enc.data, len(enc))

    def write_text(self, text: str, *, key: str = "conf:global", event_number: int = 0,
                   timestamp: int = 0) -> int:
        """One text frame (conf:global by default)."""
        return self.write(TextFrames.of(text, key=key, event_numbers=np.array([event_number]),
                                        timestamps=np.array([timestamp])))

    def write_eof(self, *, event_number: int = 0, timestamp: int = 0) -> int:
        """One meta:eof frame (a key with no payload)."""
        return self.write(KeyOnlyFrames.of(1, event_numbers=np.array([event_number]),
                                           timestamps=np.array([timestamp])))

    def _emit(self, data: np.ndarray, n_frames: int) -> int:
        if self._closed:
            raise ValueError(f"{self.name}: write on a closed AdfWriter")
        try:
            self._fh.write(memoryview(np.ascontiguousarray(data)))
        except OSError as exc:  # disk full, file size limit, I/O error
            raise OutputError(f"{self.name}: cannot write: {exc.strerror or exc}") from None
        self.frames_written += n_frames
        self.bytes_written += int(data.size)
        return n_frames

    # -- life cycle ---------------------------------------------------------------------------
    def flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as exc:
            raise OutputError(f"{self.name}: cannot write: {exc.strerror or exc}") from None

    def close(self) -> None:
        """Flush and close (the file if the writer opened it). Idempotent; no meta:eof here
        unless written explicitly or by the context manager."""
        if self._closed:
            return
        self.flush()
        if self._owned:
            self._fh.close()
        self._closed = True
        log.debug("%s: wrote %d frames, %d bytes", self.name, self.frames_written,
                  self.bytes_written)

    def __enter__(self) -> AdfWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None and self.eof:
                self.write_eof()
        finally:
            self.close()

"""Codec interface and registry, keyed by (key name, version).

A codec turns *all* frames of one key in a block into one structure-of-arrays value (decode) and
back (encode); it never sees a single frame at a time, so decoding is vectorised per block. The
version to use for a key comes from the key table (``vN`` token, default 1); several versions of a
key may be registered side by side (data:psa v0 and v1 are).

Codecs report a bad frame by raising :class:`FrameCut` with the index of the first frame the
block must not include; the reader delivers the frames before it, then raises
:class:`gpsa.errors.AdfError` (or skips the frame in resync mode). A cut without a reason is
not an error: the value simply cannot continue past that frame (e.g. data:crystal frames whose
trace shape changes), and the reader starts a new block there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from gpsa.adf.header import HEADER_SIZE, gather_rows
from gpsa.adf.keys import KeyTable
from gpsa.errors import ConfigError


class FrameCut(Exception):  # noqa: N818 - a control-flow signal, not a user-facing error
    """The block must end before frame ``index`` of the frame set (``reason`` None: not an
    error, just a new block). ``offset``: file offset of the bad bytes when it is not the
    frame's own start (the bad sub-frame of a composite frame); the error names it."""

    def __init__(self, index: int, reason: str | None = None, *,
                 offset: int | None = None) -> None:
        super().__init__(reason or f"block cut before frame {index}")
        self.index = int(index)
        self.reason = reason
        self.offset = offset


@dataclass(frozen=True)
class Context:
    """What codecs need besides the bytes: the key table, the registry (for composite frames), and
    where the bytes came from (for error messages)."""

    keys: KeyTable
    registry: CodecRegistry
    source: str = "<bytes>"
    base_offset: int = 0  # file offset of buf[0]
    keep_unknown: bool = True
    depth: int = 0  # composite nesting level of the frames being decoded


@dataclass(frozen=True)
class FrameSet:
    """All frames of one key in a block: ``buf`` is the block's bytes, ``starts`` the frame starts
    in it (increasing) and ``headers`` their keys (:data:`gpsa.adf.header.KEY_DTYPE`)."""

    name: str
    key: int
    buf: np.ndarray
    starts: np.ndarray
    headers: np.ndarray
    ctx: Context

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        return self.headers["length"].astype(np.int64)

    @property
    def payload_sizes(self) -> np.ndarray:
        return self.lengths - HEADER_SIZE

    def offset(self, i: int) -> int:
        """File offset of frame ``i`` (for messages)."""
        return self.ctx.base_offset + int(self.starts[i])

    def check_lengths(self, expected: np.ndarray, what: str) -> None:
        """Raise :class:`FrameCut` at the first frame whose length differs from ``expected``."""
        bad = np.flatnonzero(self.lengths != expected)
        if bad.size:
            i = int(bad[0])
            raise FrameCut(i, f"{self.name} frame length {int(self.lengths[i])} does not match "
                              f"{what} = {int(np.broadcast_to(expected, self.lengths.shape)[i])}")

    def fixed_rows(self, dtype: np.dtype) -> np.ndarray:
        """Whole frames read as records of ``dtype`` (all frames must have its size). Zero-copy
        when the frames are back to back, one gather otherwise."""
        n, width = len(self), dtype.itemsize
        if n and np.all(np.diff(self.starts) == width):
            return np.ndarray((n,), dtype, buffer=self.buf, offset=int(self.starts[0]),
                              strides=(width,))
        return gather_rows(self.buf, self.starts, width).view(dtype).reshape(-1)


@dataclass(frozen=True)
class Encoded:
    """Encoded frames: ``data`` holds them back to back, frame ``i`` is
    ``data[bounds[i]:bounds[i+1]]``."""

    data: np.ndarray
    bounds: np.ndarray

    def __len__(self) -> int:
        return int(self.bounds.shape[0] - 1)

    @classmethod
    def from_records(cls, records: np.ndarray) -> Encoded:
        """Fixed-size frames held as a structured array whose first 20 bytes are the key."""
        width = records.dtype.itemsize
        data = np.ascontiguousarray(records).view(np.uint8).reshape(-1)
        return cls(data, np.arange(len(records) + 1, dtype=np.int64) * width)


class Codec(Protocol):
    """What a codec provides. ``name`` is None for the generic composite and raw codecs."""

    name: str | None
    version: int
    value_type: type

    def decode(self, frames: FrameSet) -> Any:
        """All frames of one key in a block -> one value. Raises :class:`FrameCut`."""

    def encode(self, value: Any, key: int, ctx: Context) -> Encoded:
        """A value -> its frames (key value ``key``), byte-exact inverse of :meth:`decode`."""


@dataclass
class CodecRegistry:
    """Codecs by (key name, version) plus the generic composite and raw (pass-through) codecs."""

    _codecs: dict[tuple[str, int], Codec] = field(default_factory=dict)
    composite: Codec | None = None
    raw: Codec | None = None

    def register(self, codec: Codec, *, replace: bool = False) -> None:
        if codec.name is None:
            raise ConfigError("codec without a key name: set it as registry.composite/raw")
        slot = (codec.name, codec.version)
        if slot in self._codecs and not replace:
            raise ConfigError(f"a codec for {codec.name} v{codec.version} is already registered")
        self._codecs[slot] = codec

    def get(self, name: str, version: int) -> Codec | None:
        return self._codecs.get((name, version))

    def versions(self, name: str) -> list[int]:
        return sorted(v for n, v in self._codecs if n == name)

    def __iter__(self) -> Iterator[Codec]:
        return iter(self._codecs.values())

    def copy(self) -> CodecRegistry:
        return CodecRegistry(dict(self._codecs), self.composite, self.raw)

    def check(self, keys: KeyTable) -> None:
        """Fail before any data is read when the table names a codec version nobody implements
        (keys without a version are decoded by their default codec, or kept raw)."""
        for entry in keys:
            have = self.versions(entry.name)
            if entry.version is not None and entry.version not in have:
                raise ConfigError(f"{keys.source}: key {entry.name} asks for codec version "
                                  f"v{entry.version}; available: "
                                  f"{', '.join(f'v{v}' for v in have) or 'none'}")

    def for_decode(self, name: str, key: int, keys: KeyTable) -> Codec:
        """The codec for frames of a known key: registered one, else composite, else raw."""
        codec = self.get(name, keys.version_of(name))
        if codec is not None:
            return codec
        if keys.is_composite(key) and self.composite is not None:
            return self.composite
        if self.raw is None:
            raise ConfigError(f"no codec for {name} and no raw codec registered")
        return self.raw

    def for_value(self, value: Any, keys: KeyTable) -> tuple[str | None, Codec]:
        """Key name and codec to encode ``value`` with. Values that carry their key name (text,
        composite) choose by it; otherwise by type, the table's version winning ties. The codec
        must be the version the table reads back (a PsaBlockV0 needs ``data:psa … v0``)."""
        wanted = getattr(value, "key", None)
        wanted = wanted if isinstance(wanted, str) else None
        cands = [c for c in self._codecs.values() if isinstance(value, c.value_type)
                 and (wanted is None or c.name == wanted)
                 and getattr(c, "accepts", lambda v: True)(value)]
        if len(cands) > 1:
            cands = [c for c in cands if c.version == keys.version_of(str(c.name))] or cands
        if len(cands) == 1:
            c = cands[0]
            if c.version != keys.version_of(str(c.name)):
                # written one way, read back another: refuse rather than write a misleading file
                raise ConfigError(f"{keys.source}: the key table reads {c.name} as "
                                  f"v{keys.version_of(str(c.name))}, but a "
                                  f"{type(value).__name__} is written as v{c.version}; use a key "
                                  f"table with '{c.name} <value> v{c.version}'")
            return c.name, c
        if len(cands) > 1:
            raise ConfigError(f"several codecs can write a {type(value).__name__}: "
                              f"{', '.join(f'{c.name} v{c.version}' for c in cands)}")
        for generic in (self.composite, self.raw):
            if generic is not None and isinstance(value, generic.value_type):
                return wanted, generic
        raise ConfigError(f"no ADF codec writes a {type(value).__name__}"
                          + (f" as {wanted}" if wanted else ""))

"""Small codecs: conf:global (ASCII configuration text) and meta:eof (a key with no payload).

Text is decoded as UTF-8 with ``surrogateescape`` so that any byte, ASCII or not, survives a
round trip bit-exactly; trailing NUL padding, if a producer writes it, is kept as part of the
string. Frames of these keys are rare, so building the Python strings in a loop is fine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gpsa.adf.codecs._layout import concat_ranges
from gpsa.adf.codecs.registry import Context, Encoded, FrameCut, FrameSet
from gpsa.adf.header import HEADER_SIZE, make_headers
from gpsa.errors import BlockError


def _ids(n: int, event_numbers: np.ndarray | None,
         timestamps: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    ev = np.zeros(n, np.uint32) if event_numbers is None else np.asarray(event_numbers, np.uint32)
    ts = np.zeros(n, np.uint64) if timestamps is None else np.asarray(timestamps, np.uint64)
    if ev.shape != (n,) or ts.shape != (n,):
        raise BlockError(f"expected {n} event numbers and timestamps")
    return ev, ts


@dataclass(frozen=True, eq=False)
class TextFrames:
    """Text frames of one key (default conf:global), in file order."""

    texts: tuple[str, ...]
    event_numbers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    timestamps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    key: str = "conf:global"

    @classmethod
    def of(cls, *texts: str, key: str = "conf:global", event_numbers: np.ndarray | None = None,
           timestamps: np.ndarray | None = None) -> TextFrames:
        """Text frames with event numbers and timestamps 0 unless given."""
        ev, ts = _ids(len(texts), event_numbers, timestamps)
        return cls(tuple(texts), ev, ts, key)

    def __len__(self) -> int:
        return len(self.texts)

    def equals(self, other: object) -> bool:
        return (isinstance(other, TextFrames) and self.key == other.key
                and self.texts == other.texts
                and np.array_equal(self.event_numbers, other.event_numbers)
                and np.array_equal(self.timestamps, other.timestamps))

    @classmethod
    def concat(cls, values: Sequence[TextFrames]) -> TextFrames:
        return cls(tuple(t for v in values for t in v.texts),
                   np.concatenate([v.event_numbers for v in values]),
                   np.concatenate([v.timestamps for v in values]), values[0].key)


@dataclass(frozen=True, eq=False)
class KeyOnlyFrames:
    """Frames that are just a key (length 20), e.g. meta:eof."""

    event_numbers: np.ndarray
    timestamps: np.ndarray
    key: str = "meta:eof"

    @classmethod
    def of(cls, n: int = 1, key: str = "meta:eof", event_numbers: np.ndarray | None = None,
           timestamps: np.ndarray | None = None) -> KeyOnlyFrames:
        ev, ts = _ids(n, event_numbers, timestamps)
        return cls(ev, ts, key)

    def __len__(self) -> int:
        return int(self.event_numbers.shape[0])

    def equals(self, other: object) -> bool:
        return (isinstance(other, KeyOnlyFrames) and self.key == other.key
                and np.array_equal(self.event_numbers, other.event_numbers)
                and np.array_equal(self.timestamps, other.timestamps))

    @classmethod
    def concat(cls, values: Sequence[KeyOnlyFrames]) -> KeyOnlyFrames:
        return cls(np.concatenate([v.event_numbers for v in values]),
                   np.concatenate([v.timestamps for v in values]), values[0].key)


class TextCodec:
    """A key whose payload is text (conf:global v1 by default)."""

    version = 1
    value_type = TextFrames

    def __init__(self, name: str = "conf:global") -> None:
        self.name = name

    def decode(self, frames: FrameSet) -> TextFrames:
        fs = frames
        data = concat_ranges(fs.buf, fs.starts + HEADER_SIZE, fs.starts + fs.lengths).tobytes()
        ends = np.cumsum(fs.payload_sizes).tolist()
        texts = tuple(data[a:b].decode("utf-8", "surrogateescape")
                      for a, b in zip([0, *ends[:-1]], ends, strict=True))
        return TextFrames(texts, fs.headers["event_number"].astype(np.uint32),
                          fs.headers["timestamp"].astype(np.uint64), fs.name)

    def encode(self, value: TextFrames, key: int, ctx: Context) -> Encoded:
        payloads = [t.encode("utf-8", "surrogateescape") for t in value.texts]
        lengths = np.array([HEADER_SIZE + len(p) for p in payloads], np.int64)
        if lengths.size and int(lengths.max()) > 0xFFFFFFFF:
            raise BlockError(f"{value.key}: text longer than 4 GiB")
        hdr = make_headers(lengths, key, value.event_numbers, value.timestamps)
        parts = [b for h, p in zip(hdr.view(np.uint8).reshape(-1, HEADER_SIZE), payloads,
                                   strict=True) for b in (h.tobytes(), p)]
        data = np.frombuffer(b"".join(parts), np.uint8).copy()
        return Encoded(data, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))


class KeyOnlyCodec:
    """A key with no payload (meta:eof v1): any frame longer than 20 bytes is an error."""

    version = 1
    value_type = KeyOnlyFrames

    def __init__(self, name: str = "meta:eof") -> None:
        self.name = name

    def decode(self, frames: FrameSet) -> KeyOnlyFrames:
        fs = frames
        bad = np.flatnonzero(fs.lengths != HEADER_SIZE)
        if bad.size:
            i = int(bad[0])
            raise FrameCut(i, f"{fs.name} frame length {int(fs.lengths[i])}, expected 20 "
                              f"(a key with no payload)")
        return KeyOnlyFrames(fs.headers["event_number"].astype(np.uint32),
                             fs.headers["timestamp"].astype(np.uint64), fs.name)

    def encode(self, value: KeyOnlyFrames, key: int, ctx: Context) -> Encoded:
        hdr = make_headers(np.full(len(value), HEADER_SIZE, np.int64), key,
                           value.event_numbers, value.timestamps)
        return Encoded(hdr.view(np.uint8).reshape(-1).copy(),
                       np.arange(len(value) + 1, dtype=np.int64) * HEADER_SIZE)

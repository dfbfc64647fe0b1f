"""data:ranc1 v1: one ancillary-detector frame (a few float channels), in gpsa's own layout.

AGATA's ancillary frames carry whatever the ancillary DAQ writes (not public), so gpsa defines
a small one for its simulated ancillary producer and the event merger (FORMATS.md)::

    payload  0  uint16  n_channels            (c)
             2  uint16  status
             4  float32 values[c]             e.g. energy, time, ToF, position (detector-defined)

Frame length = 20 + 4 + 4c. Event number and timestamp (10 ns ticks, the ancillary DAQ's own
clock) are in the frame key. For a given ``c`` the frame has a fixed size, so a block decodes
through one structured dtype (zero-copy when the frames are back to back); a block holds one
channel count: where ``c`` changes the reader starts a new block. Frames whose lengths do not
fit this layout (a real ancillary DAQ's data:ranc1) are kept as raw bytes and written back
unchanged, as before this codec existed. The codec is registered for
``data:ranc1`` (the merger's input); ``AncillaryCodecV1("data:ranc0")`` serves another key.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from gpsa.adf.codecs.raw import RawCodec, RawFrames
from gpsa.adf.codecs.registry import Context, Encoded, FrameCut, FrameSet
from gpsa.adf.header import HEADER_SIZE, KEY_DTYPE, gather_rows
from gpsa.block import _Table
from gpsa.errors import BlockError

log = logging.getLogger(__name__)

RANC_HEAD = np.dtype([("n_channels", "<u2"), ("status", "<u2")])
DEFAULT_KEY = "data:ranc1"


@dataclass(frozen=True, eq=False)
class AncillaryFrames(_Table):
    """Ancillary frames of one key, in time order as the ancillary DAQ gives them.

    timestamps:    (n,) uint64, 10 ns ticks (ancillary clock; the merger applies its offset)
    event_numbers: (n,) uint32
    status:        (n,) uint16
    values:        (n, channels) float32, detector-defined channels
    key:           frame key name (``data:ranc1``)
    """

    timestamps: np.ndarray
    event_numbers: np.ndarray
    status: np.ndarray
    values: np.ndarray
    key: str = DEFAULT_KEY

    _SPEC: ClassVar[dict[str, tuple[tuple[str, ...], int]]] = {
        "timestamps": (("uint64",), 0), "event_numbers": (("uint32",), 0),
        "status": (("uint16",), 0), "values": (("float32",), 1)}

    @property
    def n_channels(self) -> int:
        return int(self.values.shape[1])

    @classmethod
    def empty(cls, n_channels: int = 0, key: str = DEFAULT_KEY) -> AncillaryFrames:
        return cls(np.zeros(0, np.uint64), np.zeros(0, np.uint32), np.zeros(0, np.uint16),
                   np.zeros((0, n_channels), np.float32), key)

    def take(self, index: Any) -> AncillaryFrames:
        """Frames selected by a slice, boolean mask or integer index array."""
        return AncillaryFrames(**self._take_rows(index), key=self.key)

    @classmethod
    def concat(cls, values: Sequence[AncillaryFrames]) -> AncillaryFrames:
        if not values:
            raise BlockError("AncillaryFrames.concat: no frames given")
        keys = {v.key for v in values}
        shapes = {v.n_channels for v in values if len(v)} or {values[0].n_channels}
        if len(keys) > 1 or len(shapes) > 1:
            raise BlockError(f"AncillaryFrames.concat: keys {sorted(keys)} and channel counts "
                             f"{sorted(shapes)} must each be one")
        parts = [v for v in values if len(v)] or [values[0]]
        return cls(**cls._concat_rows(parts), key=values[0].key)


def frame_length(n_channels: np.ndarray | int) -> np.ndarray:
    return HEADER_SIZE + RANC_HEAD.itemsize + 4 * np.asarray(n_channels, np.int64)


@functools.lru_cache(maxsize=16)
def frame_dtype(n_channels: int) -> np.dtype:
    """Structured dtype of a whole frame (key + payload) with ``n_channels`` values."""
    fields = [(name, KEY_DTYPE.fields[name][0]) for name in KEY_DTYPE.names]
    fields += [(name, RANC_HEAD.fields[name][0]) for name in RANC_HEAD.names]
    fields += [("values", "<f4", (n_channels,))]
    dt = np.dtype(fields)
    assert dt.itemsize == int(frame_length(n_channels))
    return dt


class AncillaryCodecV1:
    """data:ranc1 v1 (or another ancillary key) <-> :class:`AncillaryFrames`."""

    version = 1
    value_type = AncillaryFrames

    def __init__(self, name: str = DEFAULT_KEY) -> None:
        self.name = name
        self.foreign_blocks = 0

    def accepts(self, value: AncillaryFrames) -> bool:
        return value.key == self.name

    def decode(self, frames: FrameSet) -> AncillaryFrames | RawFrames:
        """The frames as :class:`AncillaryFrames`; frames of another layout (an AGATA
        ancillary DAQ's own data:ranc1) are kept as bytes (:class:`RawFrames`, written back
        unchanged, counted in ``foreign_blocks``) — a consumer that needs gpsa's layout (the
        event merger) refuses them with a one-line error naming the type it got."""
        fs = frames
        if len(fs) == 0:
            return AncillaryFrames.empty(key=self.name)
        short = fs.payload_sizes < RANC_HEAD.itemsize
        heads = gather_rows(fs.buf, fs.starts + HEADER_SIZE, RANC_HEAD.itemsize) \
            if not short.any() else None
        c = None if heads is None else heads.view(RANC_HEAD).reshape(-1)["n_channels"].astype(
            np.int64)
        if c is None or np.any(fs.lengths != frame_length(c)):
            self.foreign_blocks += 1
            log.debug("%s: %d frame(s) not in gpsa's v1 layout kept as raw bytes", self.name,
                      len(fs))
            return RawCodec().decode(fs)
        change = np.flatnonzero(c != c[:1])
        if change.size:
            raise FrameCut(int(change[0]))  # new channel count: a new block, not an error
        rows = fs.fixed_rows(frame_dtype(int(c[0])))
        return AncillaryFrames(rows["timestamp"].astype(np.uint64),
                               rows["event_number"].astype(np.uint32),
                               rows["status"].astype(np.uint16),
                               rows["values"].astype(np.float32), self.name)

    def encode(self, value: AncillaryFrames, key: int, ctx: Context) -> Encoded:
        c = value.n_channels
        if c > 0xFFFF:
            raise BlockError(f"{self.name} v1: {c} channels do not fit (uint16)")
        rec = np.empty(len(value), frame_dtype(c))
        rec["length"] = int(frame_length(c))
        rec["key"] = key
        rec["event_number"] = value.event_numbers
        rec["timestamp"] = value.timestamps
        rec["n_channels"] = c
        rec["status"] = value.status
        rec["values"] = value.values
        return Encoded.from_records(rec)

"""Pass-through of frames gpsa does not decode: known keys without a codec (data:eb, data:ranc0,
conf:psa, …) and, when kept, unknown keys. The complete frames (key included) are kept as bytes,
so writing them back reproduces the input exactly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gpsa.adf.codecs._layout import concat_ranges
from gpsa.adf.codecs.registry import Context, Encoded, FrameSet
from gpsa.adf.header import KEY_DTYPE


@dataclass(frozen=True, eq=False)
class RawFrames:
    """Undecoded frames: their keys, and their bytes back to back (frame ``i`` is
    ``data[bounds[i]:bounds[i+1]]``, key included)."""

    headers: np.ndarray
    data: np.ndarray
    bounds: np.ndarray

    def __len__(self) -> int:
        return int(self.headers.shape[0])

    def frame(self, i: int) -> bytes:
        return self.data[self.bounds[i]:self.bounds[i + 1]].tobytes()

    def payload(self, i: int) -> bytes:
        return self.data[self.bounds[i] + KEY_DTYPE.itemsize:self.bounds[i + 1]].tobytes()

    def equals(self, other: object) -> bool:
        return (isinstance(other, RawFrames) and np.array_equal(self.bounds, other.bounds)
                and np.array_equal(self.data, other.data)
                and self.headers.tobytes() == other.headers.tobytes())

    @classmethod
    def from_frames(cls, frames: Sequence[bytes]) -> RawFrames:
        """Raw frames from complete frame byte strings (each starting with its 20-byte key)."""
        data = np.frombuffer(b"".join(frames), np.uint8).copy()
        bounds = np.concatenate([[0], np.cumsum([len(f) for f in frames])]).astype(np.int64)
        headers = np.array([np.frombuffer(f[:KEY_DTYPE.itemsize], KEY_DTYPE)[0] for f in frames],
                           KEY_DTYPE).reshape(-1)
        return cls(headers, data, bounds)

    @classmethod
    def concat(cls, values: Sequence[RawFrames]) -> RawFrames:
        shifts = np.cumsum([0] + [len(v.data) for v in values[:-1]])
        bounds = np.concatenate([[0]] + [v.bounds[1:] + s for v, s in
                                         zip(values, shifts, strict=True)])
        return cls(np.concatenate([v.headers for v in values]),
                   np.concatenate([v.data for v in values]), bounds.astype(np.int64))


class RawCodec:
    """Keeps frames as bytes; used for every key without a registered codec."""

    name = None
    version = 0
    value_type = RawFrames

    def decode(self, frames: FrameSet) -> RawFrames:
        fs = frames
        data = concat_ranges(fs.buf, fs.starts, fs.starts + fs.lengths)
        bounds = np.concatenate([[0], np.cumsum(fs.lengths)]).astype(np.int64)
        return RawFrames(fs.headers.copy(), data, bounds)

    def encode(self, value: RawFrames, key: int, ctx: Context) -> Encoded:
        """The stored frames as they are (their own keys; ``key`` is not used)."""
        return Encoded(value.data.copy(), value.bounds.astype(np.int64))

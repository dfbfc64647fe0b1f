"""data:tracked v1: tracked gamma rays of one event per frame, in gpsa's own layout (FORMATS.md).

AGATA's tracked-frame layout is not in our sources, so gpsa defines one that holds what a
tracking consumer needs: per gamma the energy, the first and second interaction points (they
give the emission direction and the Compton angle), the time, the tracking figure of merit and
the number of interactions::

    payload  0  uint16 n_gammas, 2 uint16 status
             4  n_gammas × 40 bytes:
                 0 float32 energy (keV)   4 float32 x1, y1, z1 (mm, lab frame)
                16 float32 x2, y2, z2     28 float32 time   32 float32 fom
                36 uint16 n_interactions  38 uint16 status
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gpsa.adf.codecs._layout import decode_head_items, encode_head_items
from gpsa.adf.codecs.registry import Context, Encoded, FrameSet
from gpsa.adf.header import make_headers
from gpsa.block import _Table
from gpsa.errors import BlockError

TRACKED_HEAD = np.dtype([("n_gammas", "<u2"), ("status", "<u2")])
_FLOATS = ("energy", "x1", "y1", "z1", "x2", "y2", "z2", "time", "fom")
TRACKED_GAMMA = np.dtype([(f, "<f4") for f in _FLOATS]
                         + [("n_interactions", "<u2"), ("status", "<u2")])
assert TRACKED_GAMMA.itemsize == 40


@dataclass(frozen=True, eq=False)
class TrackedEvents(_Table):
    """Per-event part: frame key data and the event status."""

    timestamps: np.ndarray  # uint64, 10 ns ticks
    event_numbers: np.ndarray  # uint32
    status: np.ndarray  # uint16

    _SPEC: ClassVar[dict[str, tuple[tuple[str, ...], int]]] = {
        "timestamps": (("uint64",), 0), "event_numbers": (("uint32",), 0),
        "status": (("uint16",), 0)}


@dataclass(frozen=True, eq=False)
class TrackedGammas(_Table):
    """Flat gamma table; ``event_index`` points into :class:`TrackedEvents` (non-decreasing)."""

    event_index: np.ndarray  # int64
    energy: np.ndarray  # float32 keV
    x1: np.ndarray  # float32 mm, first interaction (lab frame)
    y1: np.ndarray
    z1: np.ndarray
    x2: np.ndarray  # float32 mm, second interaction (NaN for single-interaction gammas)
    y2: np.ndarray
    z2: np.ndarray
    time: np.ndarray  # float32
    fom: np.ndarray  # float32, tracking figure of merit
    n_interactions: np.ndarray  # uint16
    status: np.ndarray  # uint16

    _SPEC: ClassVar[dict[str, tuple[tuple[str, ...], int]]] = {
        "event_index": (("int64",), 0), **{f: (("float32",), 0) for f in _FLOATS},
        "n_interactions": (("uint16",), 0), "status": (("uint16",), 0)}


@dataclass(frozen=True, eq=False)
class TrackedBlock:
    """Tracked events: an event table and a gamma table."""

    events: TrackedEvents
    gammas: TrackedGammas

    def __post_init__(self) -> None:
        idx = self.gammas.event_index
        if idx.size and (np.any(np.diff(idx) < 0) or idx[0] < 0 or idx[-1] >= len(self.events)):
            raise BlockError(f"TrackedBlock.gammas.event_index: must be non-decreasing in "
                             f"[0, {len(self.events)})")

    def __len__(self) -> int:
        return len(self.events)

    @property
    def n_gammas(self) -> np.ndarray:
        return np.bincount(self.gammas.event_index, minlength=len(self.events)).astype(np.int64)

    def equals(self, other: object) -> bool:
        return (isinstance(other, TrackedBlock) and self.events.equals(other.events)
                and self.gammas.equals(other.gammas))

    @classmethod
    def concat(cls, blocks: Sequence[TrackedBlock]) -> TrackedBlock:
        offsets = np.cumsum([0] + [len(b) for b in blocks[:-1]])
        cols = TrackedGammas._concat_rows([b.gammas for b in blocks])
        cols["event_index"] = np.concatenate(
            [b.gammas.event_index + o for b, o in zip(blocks, offsets, strict=True)])
        return cls(TrackedEvents(**TrackedEvents._concat_rows([b.events for b in blocks])),
                   TrackedGammas(**cols))


class TrackedCodecV1:
    """data:tracked v1 <-> :class:`TrackedBlock`."""

    name = "data:tracked"
    version = 1
    value_type = TrackedBlock

    def decode(self, frames: FrameSet) -> TrackedBlock:
        heads, items, counts = decode_head_items(frames, TRACKED_HEAD, TRACKED_GAMMA, "n_gammas")
        events = TrackedEvents(frames.headers["timestamp"].astype(np.uint64),
                               frames.headers["event_number"].astype(np.uint32),
                               heads["status"].astype(np.uint16))
        cols = {f: items[f].astype(np.float32) for f in _FLOATS}
        gammas = TrackedGammas(event_index=np.repeat(np.arange(len(frames), dtype=np.int64),
                                                     counts),
                               n_interactions=items["n_interactions"].astype(np.uint16),
                               status=items["status"].astype(np.uint16), **cols)
        return TrackedBlock(events, gammas)

    def encode(self, value: TrackedBlock, key: int, ctx: Context) -> Encoded:
        counts = value.n_gammas
        if counts.size and int(counts.max()) > 0xFFFF:
            raise BlockError(f"data:tracked: an event has {int(counts.max())} gammas (uint16)")
        heads = np.empty(len(value), TRACKED_HEAD)
        heads["n_gammas"] = counts
        heads["status"] = value.events.status
        items = np.empty(len(value.gammas), TRACKED_GAMMA)
        for f in TRACKED_GAMMA.names:
            items[f] = getattr(value.gammas, f)
        headers = make_headers(np.zeros(len(value), np.int64), key, value.events.event_numbers,
                               value.events.timestamps)
        return encode_head_items(headers, heads, items, counts)

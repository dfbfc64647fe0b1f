"""Composite frames (event:data:psa, event:data, …): a key whose payload is complete sub-frames.

All composite frames of one key in a block decode together: one numba walk finds every sub-frame
of every composite frame, then the sub-frames are decoded by key with the ordinary codecs (so the
data:psa sub-frames of 10,000 event:data:psa frames are one vectorised data:psa decode).
The result keeps the order of sub-frames (``child_keys``, ``child_parent``) so encoding
reproduces the input bit-exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gpsa.adf.codecs._layout import concat_ranges
from gpsa.adf.codecs.registry import Context, Encoded, FrameCut, FrameSet
from gpsa.adf.header import HEADER_SIZE, make_headers, scan_regions
from gpsa.errors import BlockError

#: Deepest composite nesting decoded (AGATA uses 2: event:data holding event:data:psa); a bound
#: keeps a malicious file from exhausting the recursion.
MAX_NESTING = 8


@dataclass(frozen=True, eq=False)
class CompositeFrames:
    """Composite frames of one key. Sub-frame ``j`` (in file order) has key value
    ``child_keys[j]`` and belongs to composite frame ``child_parent[j]`` (non-decreasing);
    ``children`` maps a key name (hex spelling when unknown) to the decoded value of all
    sub-frames of that key, in file order."""

    key: str
    event_numbers: np.ndarray
    timestamps: np.ndarray
    child_keys: np.ndarray
    child_parent: np.ndarray
    children: dict[str, Any]

    def __post_init__(self) -> None:
        n, p = len(self.event_numbers), self.child_parent
        if len(self.timestamps) != n or len(self.child_keys) != len(p):
            raise BlockError("CompositeFrames: array lengths differ")
        if p.size and (np.any(np.diff(p) < 0) or p[0] < 0 or p[-1] >= n):
            raise BlockError(f"CompositeFrames.child_parent: must be non-decreasing in [0, {n})")

    def __len__(self) -> int:
        return int(self.event_numbers.shape[0])

    @classmethod
    def build(cls, key: str, children: Mapping[str, Any], parents: Mapping[str, np.ndarray],
              child_keys: Mapping[str, int], event_numbers: np.ndarray,
              timestamps: np.ndarray) -> CompositeFrames:
        """Group decoded values into composite frames: ``parents[name][i]`` is the composite
        frame of the ``i``-th frame of ``children[name]`` (non-decreasing); inside one composite
        frame sub-frames follow the order of ``children``. ``child_keys`` gives key values."""
        names = list(children)
        keys = np.concatenate([np.full(len(parents[k]), child_keys[k], np.uint32) for k in names])
        par = np.concatenate([np.asarray(parents[k], np.int64) for k in names])
        order = np.argsort(par, kind="stable")
        return cls(key, np.asarray(event_numbers, np.uint32), np.asarray(timestamps, np.uint64),
                   keys[order], par[order], dict(children))

    def equals(self, other: object) -> bool:
        if not (isinstance(other, CompositeFrames) and self.key == other.key
                and self.children.keys() == other.children.keys()):
            return False
        arrays = ("event_numbers", "timestamps", "child_keys", "child_parent")
        return (all(np.array_equal(getattr(self, a), getattr(other, a)) for a in arrays)
                and all(_equal(v, other.children[k]) for k, v in self.children.items()))

    @classmethod
    def concat(cls, values: Sequence[CompositeFrames]) -> CompositeFrames:
        shifts = np.cumsum([0] + [len(v) for v in values[:-1]])
        names = list(dict.fromkeys(k for v in values for k in v.children))
        children = {k: type(parts[0]).concat(parts) for k in names
                    if (parts := [v.children[k] for v in values if k in v.children])}
        return cls(values[0].key, np.concatenate([v.event_numbers for v in values]),
                   np.concatenate([v.timestamps for v in values]),
                   np.concatenate([v.child_keys for v in values]),
                   np.concatenate([v.child_parent + s for v, s in zip(values, shifts,
                                                                       strict=True)]), children)


def _u32(buf: np.ndarray, pos: int) -> int:
    return int.from_bytes(buf[pos:pos + 4].tobytes(), "little")


def _bad_sub_frame(fs: FrameSet, region_starts: np.ndarray, pos: int, frame: int) -> int:
    """Start (in ``fs.buf``) of the sub-frame to blame when the walk of composite frame
    ``frame`` broke at ``pos`` after the sub-frames ``region_starts``: ``pos`` itself when it
    holds a plausible key (known key value, length >= 20) or is the first sub-frame, else the
    sub-frame before it, whose length led the walk into its own payload."""
    if region_starts.size == 0:
        return pos
    stop = int(fs.starts[frame] + fs.lengths[frame])
    if (stop - pos >= HEADER_SIZE and _u32(fs.buf, pos) >= HEADER_SIZE
            and fs.ctx.keys.name_of(_u32(fs.buf, pos + 4)) is not None):
        return pos
    return int(region_starts[-1])


def _sub_label(fs: FrameSet, pos: int) -> str:
    """``key, length N`` of the sub-frame key at ``pos`` (as far as the bytes go)."""
    if pos + 8 > fs.buf.shape[0]:
        return "truncated key"
    return f"{fs.ctx.keys.label(_u32(fs.buf, pos + 4))}, length {_u32(fs.buf, pos)}"


def _equal(a: Any, b: Any) -> bool:
    return bool(a.equals(b)) if hasattr(a, "equals") else bool(a == b)


class CompositeCodec:
    """Generic codec for every composite key (no per-key registration needed)."""

    name = None
    version = 1
    value_type = CompositeFrames

    def decode(self, frames: FrameSet) -> CompositeFrames:
        from gpsa.adf.decode import decode_frames  # decode.py drives the codecs: import late

        fs = frames
        if fs.ctx.depth >= MAX_NESTING:
            raise FrameCut(0, f"{fs.name}: composite frames nested more than {MAX_NESTING} deep")
        base = fs.ctx.base_offset
        starts, parent, bad, bad_pos = scan_regions(fs.buf, fs.starts + HEADER_SIZE,
                                                    fs.starts + fs.lengths)
        if bad >= 0:
            sub = _bad_sub_frame(fs, starts[parent == bad], int(bad_pos), bad)
            raise FrameCut(bad, f"{fs.name}: sub-frame at byte offset {base + sub} "
                                f"({_sub_label(fs, sub)}) does not fit in its composite frame "
                                f"at byte offset {base + int(fs.starts[bad])} (bad length or "
                                f"truncated)", offset=base + sub)
        try:
            dec = decode_frames(fs.buf, starts,
                                replace(fs.ctx, keep_unknown=True, depth=fs.ctx.depth + 1))
        except FrameCut as exc:
            p = int(parent[exc.index])
            sub = base + int(starts[exc.index])
            where = f"sub-frame at byte offset {sub}"
            if exc.reason is not None:
                raise FrameCut(p, f"{fs.name}: {where}: {exc.reason}",
                               offset=sub if exc.offset is None else exc.offset) from None
            if p == 0:
                raise FrameCut(0, f"{fs.name}: {where}: its sub-frames cannot share one block "
                                  f"(e.g. data:crystal trace shapes differ)") from None
            raise FrameCut(p) from None
        return CompositeFrames(fs.name, fs.headers["event_number"].astype(np.uint32),
                               fs.headers["timestamp"].astype(np.uint64),
                               dec.headers["key"].astype(np.uint32), parent.astype(np.int64),
                               dec.values)

    def encode(self, value: CompositeFrames, key: int, ctx: Context) -> Encoded:
        from gpsa.adf.encode import encode_sequence  # mirror of decode_frames: import late

        n, m, par = len(value), len(value.child_parent), value.child_parent
        subs = encode_sequence(value.children, value.child_keys, ctx)
        sub_len = np.diff(subs.bounds)
        lengths = np.full(n, HEADER_SIZE, np.int64)
        np.add.at(lengths, par, sub_len)
        if lengths.size and int(lengths.max()) > 0xFFFFFFFF:
            raise BlockError(f"{value.key}: composite frame longer than 4 GiB")
        hdr = make_headers(lengths, key, value.event_numbers, value.timestamps)
        src = np.concatenate([hdr.view(np.uint8).reshape(-1), subs.data])
        # output order: key of frame 0, its sub-frames, key of frame 1, ...
        h_pos = np.arange(n) + np.searchsorted(par, np.arange(n), side="left")
        c_pos = par + 1 + np.arange(m)
        begin, end = np.empty(n + m, np.int64), np.empty(n + m, np.int64)
        begin[h_pos] = np.arange(n) * HEADER_SIZE
        end[h_pos] = begin[h_pos] + HEADER_SIZE
        begin[c_pos] = n * HEADER_SIZE + subs.bounds[:-1]
        end[c_pos] = n * HEADER_SIZE + subs.bounds[1:]
        data = concat_ranges(src, begin, end)
        return Encoded(data, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

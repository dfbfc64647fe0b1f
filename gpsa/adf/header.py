"""The 20-byte ADF frame key and the scans that find frame boundaries.

Layout (little-endian, AGATA data flow documentation; see FORMATS.md)::

    offset  0  uint32 length        bytes of the whole frame, the 20-byte key included
    offset  4  uint32 key           key value (see gpsa.adf.keys)
    offset  8  uint32 event_number
    offset 12  uint32 timestamp_lo  10 ns ticks, low word
    offset 16  uint32 timestamp_hi  high word

A low word followed by a high word in little-endian order is exactly a little-endian uint64, so
:data:`KEY_DTYPE` reads the timestamp as one ``<u8`` field at offset 12.

Frame boundaries are a chain (each start is the previous start plus its length), which numpy
cannot express; the chain walks are small numba kernels that only read the length words. All
payload decoding is vectorised in the codecs.
"""

from __future__ import annotations

import numba
import numpy as np

from gpsa._numba import jit_options

HEADER_SIZE = 20
KEY_DTYPE = np.dtype([("length", "<u4"), ("key", "<u4"), ("event_number", "<u4"),
                      ("timestamp", "<u8")])
assert KEY_DTYPE.itemsize == HEADER_SIZE

# Status codes of scan_frames.
SCAN_LIMIT = 0  # the block is full (frame or byte limit reached)
SCAN_END = 1  # the buffer ends exactly at a frame boundary
SCAN_NEED = 2  # the buffer ends inside a key or a frame; ``need`` bytes are required from stop
SCAN_SHORT = 3  # a frame declares a length below 20
SCAN_HUGE = 4  # a frame declares a length above the plausibility limit


@numba.njit(**jit_options(fastmath=False))
def _u32(buf: np.ndarray, p: int) -> int:
    return (np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8) | (np.int64(buf[p + 2]) << 16)
            | (np.int64(buf[p + 3]) << 24))


@numba.njit(**jit_options(fastmath=False))
def scan_frames(buf: np.ndarray, pos: int, block_start: int, n_before: int, max_frames: int,
                max_bytes: int, max_length: int) -> tuple[np.ndarray, int, int, int]:
    """Walk the frame chain of ``buf`` (uint8) from ``pos``, continuing a block that began at
    ``block_start`` and already holds ``n_before`` frames.

    Stops when the block holds ``max_frames`` frames, before a frame that would make the block
    longer than ``max_bytes`` (the first frame of a block is always taken, so a frame larger than
    the limit makes a block of its own), at the end of the buffer, or at a bad length. Returns
    ``(starts, stop, status, need)``: frame starts, the position where the walk stopped, one of the
    ``SCAN_*`` codes and, for ``SCAN_NEED``, the number of bytes required from ``stop``.
    """
    end = buf.shape[0]
    cap = min(max_frames - n_before, (end - pos) // 20 + 1)
    starts = np.empty(max(cap, 0), np.int64)
    n = 0
    p = pos
    while True:
        if n_before + n >= max_frames:
            return starts[:n], p, SCAN_LIMIT, 0
        if end - p < HEADER_SIZE:
            if p == end:
                return starts[:n], p, SCAN_END, 0
            return starts[:n], p, SCAN_NEED, HEADER_SIZE
        length = _u32(buf, p)
        if length < HEADER_SIZE:
            return starts[:n], p, SCAN_SHORT, 0
        if length > max_length:
            return starts[:n], p, SCAN_HUGE, 0
        if n_before + n > 0 and p + length - block_start > max_bytes:
            return starts[:n], p, SCAN_LIMIT, 0
        if p + length > end:
            return starts[:n], p, SCAN_NEED, length
        starts[n] = p
        n += 1
        p += length


@numba.njit(**jit_options(fastmath=False))
def scan_regions(buf: np.ndarray, begin: np.ndarray,
                 stop: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Walk the sub-frame chains of several regions ``[begin[i], stop[i])`` (composite payloads).

    Returns ``(starts, parent, bad_region, bad_pos)``; ``bad_region`` is -1 when every region is
    tiled exactly by sub-frames, else the first region whose chain breaks (a sub-frame shorter than
    a key or running past the region) and ``bad_pos`` the position of that sub-frame.
    """
    total = 0
    for i in range(begin.shape[0]):
        total += (stop[i] - begin[i]) // 20
    starts = np.empty(total, np.int64)
    parent = np.empty(total, np.int64)
    n = 0
    for i in range(begin.shape[0]):
        p = begin[i]
        while p < stop[i]:
            if stop[i] - p < HEADER_SIZE:
                return starts[:n], parent[:n], i, p
            length = _u32(buf, p)
            if length < HEADER_SIZE or p + length > stop[i]:
                return starts[:n], parent[:n], i, p
            starts[n] = p
            parent[n] = i
            n += 1
            p += length
    return starts[:n], parent[:n], -1, -1


@numba.njit(**jit_options(fastmath=False))
def find_resync(buf: np.ndarray, pos: int, known: np.ndarray, max_length: int,
                at_eof: bool) -> tuple[int, bool]:
    """First position ``q >= pos`` holding a plausible frame key: a known key value, a length in
    [20, max_length], and a frame that ends exactly at the end of the data (``at_eof``) or where
    another key with a plausible length starts (its key value may be unknown: files interleave
    keys outside the table). Returns ``(q, found)``; when not found, ``q`` is where the search
    must resume once more data is available (or the end of the buffer at EOF)."""
    end = buf.shape[0]
    q = pos
    while q + HEADER_SIZE <= end:
        if _is_plausible(buf, q, known, max_length):
            nxt = q + _u32(buf, q)
            if nxt == end and at_eof:
                return q, True
            if nxt + HEADER_SIZE <= end:
                n_len = _u32(buf, nxt)
                if HEADER_SIZE <= n_len <= max_length:
                    return q, True
            elif not at_eof:
                return q, False  # cannot confirm yet: need more data
        q += 1
    return (end if at_eof else q), False


@numba.njit(**jit_options(fastmath=False))
def _is_plausible(buf: np.ndarray, q: int, known: np.ndarray, max_length: int) -> bool:
    length = _u32(buf, q)
    if length < HEADER_SIZE or length > max_length:
        return False
    key = _u32(buf, q + 4)
    i = np.searchsorted(known, key)
    return i < known.shape[0] and known[i] == key


def gather_rows(buf: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Copy ``width`` bytes from every position in ``starts`` into a C-contiguous ``(n, width)``
    uint8 array: one fancy-indexing step over a sliding-window view, no Python loop."""
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size == 0 or width == 0:
        return np.zeros((starts.size, width), np.uint8)
    window = np.lib.stride_tricks.sliding_window_view(buf, width)
    return window[starts]


def read_headers(buf: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The frame keys at ``starts`` as a :data:`KEY_DTYPE` array of shape ``(n,)``."""
    return gather_rows(buf, starts, HEADER_SIZE).view(KEY_DTYPE).reshape(-1)


def make_headers(lengths: np.ndarray, key: int, event_numbers: np.ndarray,
                 timestamps: np.ndarray) -> np.ndarray:
    """A :data:`KEY_DTYPE` array for frames of one key."""
    hdr = np.empty(len(lengths), KEY_DTYPE)
    hdr["length"] = lengths
    hdr["key"] = key
    hdr["event_number"] = event_numbers
    hdr["timestamp"] = timestamps
    return hdr

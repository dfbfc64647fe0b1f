"""Vectorised helpers shared by the codecs whose payload is a fixed head followed by ``count``
fixed-size items (data:psa, data:tracked). Offsets are computed with numpy (cumsum / repeat) and
bytes are moved with one gather or scatter over a sliding-window view: no per-frame Python loop."""

from __future__ import annotations

import numba
import numpy as np

from gpsa._numba import jit_options
from gpsa.adf.codecs.registry import Encoded, FrameCut, FrameSet
from gpsa.adf.header import HEADER_SIZE, gather_rows


def item_starts(bases: np.ndarray, counts: np.ndarray, item_size: int) -> np.ndarray:
    """Start of every item: frame ``i`` has ``counts[i]`` items of ``item_size`` bytes from
    ``bases[i]``. Returns the flat array of all item starts, frame by frame."""
    counts = counts.astype(np.int64)
    total = int(counts.sum())
    first = np.cumsum(counts) - counts  # index of each frame's first item
    rank = np.arange(total, dtype=np.int64) - np.repeat(first, counts)
    return np.repeat(bases.astype(np.int64), counts) + rank * item_size


def scatter_rows(out: np.ndarray, starts: np.ndarray, rows: np.ndarray) -> None:
    """Write the ``(n, width)`` uint8 ``rows`` at positions ``starts`` of the uint8 buffer ``out``
    (rows must not overlap). ``out`` is the caller's own fresh buffer."""
    if rows.size == 0:
        return
    width = rows.shape[1]
    window = np.lib.stride_tricks.as_strided(out, shape=(out.size - width + 1, width),
                                             strides=(1, 1), writeable=True)
    window[starts] = rows


def decode_head_items(fs: FrameSet, head: np.dtype, item: np.dtype,
                      count_field: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read the heads, check ``length == 20 + head + item * count`` for every frame and read all
    items. Returns ``(heads, items, counts)``; raises :class:`FrameCut` at the first bad frame."""
    short = np.flatnonzero(fs.payload_sizes < head.itemsize)
    n_ok = int(short[0]) if short.size else len(fs)
    heads = gather_rows(fs.buf, fs.starts[:n_ok] + HEADER_SIZE, head.itemsize)
    heads = heads.view(head).reshape(-1)
    counts = heads[count_field].astype(np.int64)
    expected = HEADER_SIZE + head.itemsize + item.itemsize * counts
    bad = np.flatnonzero(fs.lengths[:n_ok] != expected)
    if bad.size:
        i = int(bad[0])
        raise FrameCut(i, f"{fs.name} frame length {int(fs.lengths[i])} does not match "
                          f"20 + {head.itemsize} + {item.itemsize}·{count_field} "
                          f"({int(counts[i])}) = {int(expected[i])}")
    if short.size:
        i = int(short[0])
        raise FrameCut(i, f"{fs.name} frame length {int(fs.lengths[i])} is shorter than its "
                          f"{HEADER_SIZE + head.itemsize}-byte fixed part")
    starts = item_starts(fs.starts + HEADER_SIZE + head.itemsize, counts, item.itemsize)
    items = gather_rows(fs.buf, starts, item.itemsize).view(item).reshape(-1)
    return heads, items, counts


def encode_head_items(headers: np.ndarray, heads: np.ndarray, items: np.ndarray,
                      counts: np.ndarray) -> Encoded:
    """Frames made of a key (:data:`KEY_DTYPE`), a head record and ``counts[i]`` item records;
    ``headers['length']`` is filled in here."""
    counts = counts.astype(np.int64)
    head_size, item_size = heads.dtype.itemsize, items.dtype.itemsize
    lengths = HEADER_SIZE + head_size + item_size * counts
    if lengths.size and int(lengths.max()) > 0xFFFFFFFF:
        raise ValueError("frame longer than 4 GiB")
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    hdr = headers.copy()
    hdr["length"] = lengths
    out = np.zeros(int(bounds[-1]), np.uint8)
    fronts = np.concatenate([hdr.view(np.uint8).reshape(-1, HEADER_SIZE),
                             np.ascontiguousarray(heads).view(np.uint8).reshape(-1, head_size)],
                            axis=1)
    scatter_rows(out, bounds[:-1], fronts)
    item_pos = item_starts(bounds[:-1] + HEADER_SIZE + head_size, counts, item_size)
    scatter_rows(out, item_pos, np.ascontiguousarray(items).view(np.uint8).reshape(-1, item_size))
    return Encoded(out, bounds)


def concat_ranges(src: np.ndarray, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``np.concatenate([src[b:e] for b, e in zip(begin, end)])`` without the Python loop (a
    compiled copy per range; one slice when the ranges are back to back)."""
    begin, end = np.asarray(begin, np.int64), np.asarray(end, np.int64)
    if begin.size and np.array_equal(begin[1:], end[:-1]):
        return src[int(begin[0]):int(end[-1])].copy()  # back to back: one slice
    lens = end - begin
    out = np.empty(int(lens.sum()), src.dtype)
    _copy_ranges(np.ascontiguousarray(src), begin, end, out)
    return out


@numba.njit(**jit_options(fastmath=False))
def _copy_ranges(src: np.ndarray, begin: np.ndarray, end: np.ndarray,
                 out: np.ndarray) -> None:  # pragma: no cover - compiled
    pos = 0
    for i in range(begin.shape[0]):
        n = end[i] - begin[i]
        out[pos:pos + n] = src[begin[i]:end[i]]
        pos += n

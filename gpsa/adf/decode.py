"""Decode a run of frames: group them by key and hand each group to its codec in one call.

Used by the reader for each block and by the composite codec for the sub-frames of all composite
frames of a block, so composite payloads are decoded with the same vectorised codecs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsa.adf.codecs.registry import Context, FrameCut, FrameSet
from gpsa.adf.header import read_headers


@dataclass(frozen=True)
class Decoded:
    """Decoded frames. ``values`` maps key name (hex spelling for unknown keys that are kept) to
    the codec's value, in order of first appearance; ``unknown`` counts frames whose key is not in
    the table, kept or not; ``headers`` are the keys of all frames in order."""

    values: dict[str, Any]
    unknown: dict[int, int]
    headers: np.ndarray


def decode_frames(buf: np.ndarray, starts: np.ndarray, ctx: Context) -> Decoded:
    """Decode the frames at ``starts`` of ``buf``. Raises :class:`FrameCut` (with an index into
    ``starts``) for the earliest frame any codec refuses; the caller decides what to do."""
    headers = read_headers(buf, starts)
    values: dict[str, Any] = {}
    unknown: dict[int, int] = {}
    if len(starts) == 0:
        return Decoded(values, unknown, headers)
    keys = headers["key"]
    if np.all(keys == keys[0]):  # the common case: one key per block, no sort needed
        groups = [(int(keys[0]), np.arange(len(starts)))]
    else:
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        groups = [(int(uniq[g]), np.flatnonzero(inverse == g))
                  for g in np.argsort(first, kind="stable")]
    cut: FrameCut | None = None
    for key, idx in groups:
        name = ctx.keys.name_of(key)
        if name is None:
            unknown[key] = int(idx.size)
            if not ctx.keep_unknown or ctx.registry.raw is None:
                continue
            label, codec = ctx.keys.label(key), ctx.registry.raw
        else:
            label, codec = name, ctx.registry.for_decode(name, key, ctx.keys)
        fs = FrameSet(label, key, buf, starts[idx], headers[idx], ctx)
        try:
            values[label] = codec.decode(fs)
        except FrameCut as exc:
            pos = int(idx[exc.index])
            if cut is None or pos < cut.index:
                cut = FrameCut(pos, exc.reason, offset=exc.offset)
    if cut is not None:
        raise cut
    return Decoded(values, unknown, headers)

"""Encode decoded values back into frames in a given key order (the inverse of
:mod:`gpsa.adf.decode`): each key's value is encoded in one vectorised codec call, then the frames
are interleaved into file order with one gather. Used for composite payloads and by
:meth:`gpsa.adf.writer.AdfWriter.write_block`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gpsa.adf.codecs._layout import concat_ranges
from gpsa.adf.codecs.registry import Context, Encoded
from gpsa.errors import BlockError


def encode_sequence(values: Mapping[str, Any], key_sequence: np.ndarray, ctx: Context) -> Encoded:
    """Frames whose keys follow ``key_sequence`` (key values, file order); the ``i``-th frame of
    key ``k`` comes from the ``i``-th frame of ``values[label(k)]``."""
    seq = np.asarray(key_sequence, np.uint32)
    if seq.size == 0:
        return Encoded(np.zeros(0, np.uint8), np.zeros(1, np.int64))
    uniq, group = np.unique(seq, return_inverse=True)
    group = group.reshape(-1)
    counts = np.bincount(group, minlength=len(uniq))
    encoded: list[Encoded] = []
    for g, k in enumerate(uniq.tolist()):
        label, name = ctx.keys.label(k), ctx.keys.name_of(k)
        if label not in values:
            raise BlockError(f"frames with key {label} but no {label} value to write")
        codec = ctx.registry.for_decode(name, k, ctx.keys) if name else ctx.registry.raw
        if codec is None:
            raise BlockError(f"no codec to write frames with key {label}")
        if isinstance(values[label], ctx.registry.raw.value_type):
            codec = ctx.registry.raw  # frames kept as bytes (e.g. a foreign layout): as read
        if not isinstance(values[label], codec.value_type):
            raise BlockError(f"{label}: the key table reads it with a codec for "
                             f"{codec.value_type.__name__}, got {type(values[label]).__name__}")
        enc = codec.encode(values[label], k, ctx)
        if len(enc) != int(counts[g]):
            raise BlockError(f"{label}: value holds {len(enc)} frames, the key order lists "
                             f"{int(counts[g])}")
        encoded.append(enc)
    # rank of each frame inside its key group, in file order
    order = np.argsort(group, kind="stable")
    rank = np.empty(seq.size, np.int64)
    rank[order] = np.arange(seq.size) - np.repeat(np.cumsum(counts) - counts, counts)
    shift = np.cumsum([0] + [len(e.data) for e in encoded[:-1]]).astype(np.int64)
    starts = np.concatenate([e.bounds[:-1] + s for e, s in zip(encoded, shift, strict=True)])
    ends = np.concatenate([e.bounds[1:] + s for e, s in zip(encoded, shift, strict=True)])
    first = np.cumsum([0] + [len(e) for e in encoded[:-1]]).astype(np.int64)
    idx = first[group] + rank
    data = concat_ranges(np.concatenate([e.data for e in encoded]), starts[idx], ends[idx])
    return Encoded(data, np.concatenate([[0], np.cumsum(ends[idx] - starts[idx])]).astype(np.int64))

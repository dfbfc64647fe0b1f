"""data:psa codecs: PSA results of one crystal event per frame (layout in FORMATS.md).

* **v1** (default), the layout used on real AGATA data since ~2014 (AGATA's data-flow
  documentation; see FORMATS.md): a 24-byte crystal part, then ``n_hits`` × 42-byte hits
  ending with the drift-time quantities tCCe, tCCh, tSGe, tSGh. Maps to
  :class:`gpsa.block.PsaBlock`; ``fom`` is not stored (NaN on decode).
* **v0**, the older variant of the same size whose last hit fields hold position and energy
  errors. Which errors fit is gpsa's reading (see FORMATS.md): dx, dy, dz, dE (dT does not fit in
  42 bytes). Decodes to :class:`PsaBlockV0` = a PsaBlock (drift-time columns NaN) plus a
  :class:`PsaHitErrors` table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gpsa.adf.codecs._layout import decode_head_items, encode_head_items
from gpsa.adf.codecs.registry import Context, Encoded, FrameSet
from gpsa.adf.header import make_headers
from gpsa.block import PsaBlock, PsaEvents, PsaHits, _Table
from gpsa.errors import BlockError

PSA_HEAD = np.dtype([("crystal_id", "<u2"), ("status", "<u2"), ("e0", "<f4"), ("e1", "<f4"),
                     ("t0", "<f4"), ("t1", "<f4"), ("psa_status", "<u2"), ("n_hits", "<u2")])
_HIT_COMMON = [("status", "<u2"), ("segment", "<i2"), ("crystal", "<i2"), ("x", "<f4"),
               ("y", "<f4"), ("z", "<f4"), ("energy", "<f4"), ("time", "<f4")]
PSA_HIT_V1 = np.dtype(_HIT_COMMON + [("t_cc_e", "<f4"), ("t_cc_h", "<f4"), ("t_sg_e", "<f4"),
                                     ("t_sg_h", "<f4")])
PSA_HIT_V0 = np.dtype(_HIT_COMMON + [("dx", "<f4"), ("dy", "<f4"), ("dz", "<f4"), ("de", "<f4")])
assert PSA_HEAD.itemsize == 24 and PSA_HIT_V1.itemsize == 42 and PSA_HIT_V0.itemsize == 42

_EVENT_FIELDS = ("crystal_id", "status", "e0", "e1", "t0", "t1", "psa_status")
_EVENT_COLUMN = {"crystal_id": "crystal_ids"}
_HIT_FIELDS = ("status", "segment", "crystal", "x", "y", "z", "energy", "time")
_DRIFT = ("t_cc_e", "t_cc_h", "t_sg_e", "t_sg_h")
_ERRORS = ("dx", "dy", "dz", "de")


@dataclass(frozen=True, eq=False)
class PsaHitErrors(_Table):
    """Per-hit errors of data:psa v0, aligned with the hit table: mm, mm, mm, keV."""

    dx: np.ndarray
    dy: np.ndarray
    dz: np.ndarray
    de: np.ndarray

    _SPEC: ClassVar[dict[str, tuple[tuple[str, ...], int]]] = {
        name: (("float32",), 0) for name in _ERRORS}


@dataclass(frozen=True, eq=False)
class PsaBlockV0:
    """Decoded data:psa v0 frames: the PSA block, and the hit errors v0 stores in place of the
    drift times."""

    block: PsaBlock
    errors: PsaHitErrors

    def __post_init__(self) -> None:
        if len(self.errors) != len(self.block.hits):
            raise BlockError(f"PsaBlockV0.errors: {len(self.errors)} rows for "
                             f"{len(self.block.hits)} hits")

    def __len__(self) -> int:
        return len(self.block)

    def equals(self, other: object) -> bool:
        return (isinstance(other, PsaBlockV0) and self.block.equals(other.block)
                and self.errors.equals(other.errors))

    @classmethod
    def concat(cls, values: Sequence[PsaBlockV0]) -> PsaBlockV0:
        return cls(PsaBlock.concat([v.block for v in values]),
                   PsaHitErrors(**PsaHitErrors._concat_rows([v.errors for v in values])))


def _decode(fs: FrameSet, hit_dtype: np.dtype) -> tuple[PsaBlock, np.ndarray]:
    heads, items, counts = decode_head_items(fs, PSA_HEAD, hit_dtype, "n_hits")
    ev = {_EVENT_COLUMN.get(f, f): heads[f].astype(PSA_HEAD[f].newbyteorder("=")) for f in
          _EVENT_FIELDS}
    events = PsaEvents(timestamps=fs.headers["timestamp"].astype(np.uint64),
                       event_numbers=fs.headers["event_number"].astype(np.uint32), **ev)
    m = len(items)
    cols = {f: items[f].astype(hit_dtype[f].newbyteorder("=")) for f in _HIT_FIELDS}
    if hit_dtype is PSA_HIT_V1:
        cols.update({f: items[f].astype(np.float32) for f in _DRIFT})
    else:
        cols.update({f: np.full(m, np.nan, np.float32) for f in _DRIFT})
    hits = PsaHits(event_index=np.repeat(np.arange(len(fs), dtype=np.int64), counts),
                   fom=np.full(m, np.nan, np.float32), **cols)
    return PsaBlock(events, hits), items


def _encode(block: PsaBlock, key: int, hit_dtype: np.dtype,
            extra: dict[str, np.ndarray]) -> Encoded:
    ev, hits = block.events, block.hits
    counts = block.n_hits
    if counts.size and int(counts.max()) > 0xFFFF:
        raise BlockError(f"data:psa: an event has {int(counts.max())} hits; n_hits is uint16")
    heads = np.empty(len(ev), PSA_HEAD)
    for f in _EVENT_FIELDS:
        heads[f] = getattr(ev, _EVENT_COLUMN.get(f, f))
    heads["n_hits"] = counts
    items = np.empty(len(hits), hit_dtype)
    for f in _HIT_FIELDS:
        items[f] = getattr(hits, f)
    for f, col in extra.items():
        items[f] = col
    headers = make_headers(np.zeros(len(ev), np.int64), key, ev.event_numbers, ev.timestamps)
    return encode_head_items(headers, heads, items, counts)


class PsaCodecV1:
    """data:psa v1 <-> :class:`PsaBlock` (fom not stored)."""

    name = "data:psa"
    version = 1
    value_type = PsaBlock

    def decode(self, frames: FrameSet) -> PsaBlock:
        return _decode(frames, PSA_HIT_V1)[0]

    def encode(self, value: PsaBlock, key: int, ctx: Context) -> Encoded:
        return _encode(value, key, PSA_HIT_V1, {f: getattr(value.hits, f) for f in _DRIFT})


class PsaCodecV0:
    """data:psa v0 (errors instead of drift times) <-> :class:`PsaBlockV0`."""

    name = "data:psa"
    version = 0
    value_type = PsaBlockV0

    def decode(self, frames: FrameSet) -> PsaBlockV0:
        block, items = _decode(frames, PSA_HIT_V0)
        return PsaBlockV0(block, PsaHitErrors(**{f: items[f].astype(np.float32)
                                                 for f in _ERRORS}))

    def encode(self, value: PsaBlockV0, key: int, ctx: Context) -> Encoded:
        return _encode(value.block, key, PSA_HIT_V0,
                       {f: getattr(value.errors, f) for f in _ERRORS})

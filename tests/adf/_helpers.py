"""Hypothesis strategies for every ADF value type, and bit-exact comparison helpers.

Float columns are drawn as arbitrary uint32 bit patterns viewed as float32, so NaNs with any
payload, infinities and subnormals are all exercised."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gpsa.adf import (
    AdfWriter,
    CompositeFrames,
    KeyOnlyFrames,
    KeyTable,
    PsaBlockV0,
    PsaHitErrors,
    RawFrames,
    TextFrames,
    TrackedBlock,
    TrackedEvents,
    TrackedGammas,
    read_all,
)
from gpsa.adf.header import KEY_DTYPE
from gpsa.block import CrystalBlock, PsaBlock, PsaEvents, PsaHits

AGATA = KeyTable.default()
UNKNOWN_KEY = 0x12345678


def ints(draw: Any, dtype: Any, shape: Any) -> np.ndarray:
    return draw(hnp.arrays(np.dtype(dtype), shape))


def f32(draw: Any, shape: Any) -> np.ndarray:
    return draw(hnp.arrays(np.uint32, shape)).view(np.float32)


def counts_(draw: Any, n: int, hi: int) -> np.ndarray:
    return np.array(draw(st.lists(st.integers(0, hi), min_size=n, max_size=n)), np.int64)


@st.composite
def crystal_blocks(draw: Any, n: tuple[int, int] = (1, 4)) -> CrystalBlock:
    k = draw(st.integers(*n))
    c, s = draw(st.integers(1, 5)), draw(st.integers(1, 7))
    return CrystalBlock(traces=ints(draw, "int16", (k, c, s)), energies=f32(draw, (k, c)),
                        timestamps=ints(draw, "uint64", k), event_numbers=ints(draw, "uint32", k),
                        crystal_ids=ints(draw, "uint16", k), status=ints(draw, "uint16", k),
                        t0=f32(draw, k))


@st.composite
def psa_blocks(draw: Any, n: tuple[int, int] = (1, 5), drift: bool = True) -> PsaBlock:
    """PSA blocks as data:psa stores them: fom NaN (not stored); drift times NaN unless
    ``drift`` (v0 stores errors in their place)."""
    k = draw(st.integers(*n))
    counts = counts_(draw, k, 4)
    m = int(counts.sum())
    events = PsaEvents(timestamps=ints(draw, "uint64", k), event_numbers=ints(draw, "uint32", k),
                       crystal_ids=ints(draw, "uint16", k), status=ints(draw, "uint16", k),
                       e0=f32(draw, k), e1=f32(draw, k), t0=f32(draw, k), t1=f32(draw, k),
                       psa_status=ints(draw, "uint16", k))
    cols = {c: f32(draw, m) for c in ("x", "y", "z", "energy", "time")}
    for c in ("t_cc_e", "t_cc_h", "t_sg_e", "t_sg_h"):
        cols[c] = f32(draw, m) if drift else np.full(m, np.nan, np.float32)
    hits = PsaHits(event_index=np.repeat(np.arange(k, dtype=np.int64), counts),
                   status=ints(draw, "uint16", m), segment=ints(draw, "int16", m),
                   crystal=ints(draw, "int16", m), fom=np.full(m, np.nan, np.float32), **cols)
    return PsaBlock(events, hits)


@st.composite
def psa_v0_blocks(draw: Any) -> PsaBlockV0:
    block = draw(psa_blocks(drift=False))
    m = len(block.hits)
    return PsaBlockV0(block, PsaHitErrors(*(f32(draw, m) for _ in range(4))))


@st.composite
def tracked_blocks(draw: Any) -> TrackedBlock:
    k = draw(st.integers(1, 5))
    counts = counts_(draw, k, 4)
    m = int(counts.sum())
    events = TrackedEvents(ints(draw, "uint64", k), ints(draw, "uint32", k),
                           ints(draw, "uint16", k))
    floats = {c: f32(draw, m) for c in ("energy", "x1", "y1", "z1", "x2", "y2", "z2", "time",
                                         "fom")}
    gammas = TrackedGammas(event_index=np.repeat(np.arange(k, dtype=np.int64), counts),
                           n_interactions=ints(draw, "uint16", m),
                           status=ints(draw, "uint16", m), **floats)
    return TrackedBlock(events, gammas)


@st.composite
def text_frames(draw: Any) -> TextFrames:
    texts = draw(st.lists(st.text(max_size=40), min_size=1, max_size=4))
    k = len(texts)
    return TextFrames(tuple(texts), ints(draw, "uint32", k), ints(draw, "uint64", k))


@st.composite
def eof_frames(draw: Any) -> KeyOnlyFrames:
    k = draw(st.integers(1, 3))
    return KeyOnlyFrames(ints(draw, "uint32", k), ints(draw, "uint64", k))


def raw_frame(key: int, payload: bytes, event: int = 0, ts: int = 0) -> bytes:
    hdr = np.array([(20 + len(payload), key, event, ts)], KEY_DTYPE)
    return hdr.tobytes() + payload


@st.composite
def raw_frames(draw: Any, key: int = UNKNOWN_KEY) -> RawFrames:
    payloads = draw(st.lists(st.binary(max_size=30), min_size=1, max_size=4))
    return RawFrames.from_frames([raw_frame(key, p, draw(st.integers(0, 2**32 - 1)),
                                            draw(st.integers(0, 2**64 - 1))) for p in payloads])


@st.composite
def composite_frames(draw: Any) -> CompositeFrames:
    """event:data:psa frames holding data:psa sub-frames, plus sometimes unknown sub-frames."""
    psa = draw(psa_blocks())
    n = draw(st.integers(1, 4))
    children: dict[str, Any] = {"data:psa": psa}
    parents = {"data:psa": np.sort(np.array(draw(st.lists(st.integers(0, n - 1),
                                                             min_size=len(psa),
                                                             max_size=len(psa))), np.int64))}
    keys = {"data:psa": AGATA.value_of("data:psa")}
    if draw(st.booleans()):
        raw = draw(raw_frames())
        children["0x12345678"] = raw
        parents["0x12345678"] = np.sort(np.array(draw(st.lists(
            st.integers(0, n - 1), min_size=len(raw), max_size=len(raw))), np.int64))
        keys["0x12345678"] = UNKNOWN_KEY
    return CompositeFrames.build("event:data:psa", children, parents, keys,
                                 ints(draw, "uint32", n), ints(draw, "uint64", n))


def encode(*values: Any, keys: KeyTable | None = None, eof: bool = False) -> bytes:
    buf = io.BytesIO()
    with AdfWriter(buf, keys=keys, eof=eof) as w:
        for v in values:
            w.write(v)
    return buf.getvalue()


def decode_one(data: bytes, name: str, keys: KeyTable | None = None) -> Any:
    block = read_all(data, keys=keys)
    assert list(block.values) == [name], block.counts
    return block.values[name]


def assert_bit_equal(a: Any, b: Any, path: str = "value") -> None:
    """Equal in type, shape, dtype and every byte (NaN payloads included)."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{path}: {a.dtype}{a.shape} vs " \
                                                          f"{b.dtype}{b.shape}"
        assert a.tobytes() == b.tobytes(), f"{path}: bytes differ"
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_bit_equal(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, dict):
        assert sorted(a) == sorted(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_bit_equal(a[k], b[k], f"{path}[{k!r}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"
